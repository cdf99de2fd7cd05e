//! `make install PREFIX=...` installs what a C project needs, and
//! `cc prog.c $(pkg-config --cflags --libs iphlpapi)` builds against it a
//! program that finds the library there (pkg-config's rpath).

use std::path::Path;
use std::process::Command;

use nstest::{connect, in_netns, listen, read_errno};

use crate::util::{c_source, checked, crate_dir, library_dir, scratch};

const ECONNABORTED: i32 = 103;

fn sh(script: &str, prefix: &Path) -> String {
    let out = Command::new("sh")
        .args(["-ec", script])
        .env("PREFIX", prefix)
        .env("PKG_CONFIG_PATH", prefix.join("lib/pkgconfig"))
        .env("SRC", c_source("example"))
        .output()
        .expect("run sh");
    checked(Path::new("sh"), out)
}

#[test]
fn make_install_then_pkg_config_builds_a_c_program_that_runs_without_ld_library_path() {
    let prefix = scratch().join("prefix");
    let profile_dir = library_dir();
    let profile = profile_dir.file_name().unwrap().to_str().unwrap();
    let out = Command::new("make")
        .arg("-C")
        .arg(crate_dir())
        .arg("install")
        .arg(format!("PREFIX={}", prefix.display()))
        .arg(format!("PROFILE={profile}"))
        .arg(format!(
            "CARGO_TARGET_DIR={}",
            profile_dir.parent().unwrap().display()
        ))
        .output()
        .expect("run make");
    checked(Path::new("make install"), out);
    for file in [
        "lib/libiphlpapi.so",
        "lib/libiphlpapi.so.0",
        "include/iphlpapi-compat/windows.h",
        "lib/pkgconfig/iphlpapi-compat.pc",
        "lib/libiphlpapi.a",
        "include/iphlpapi.h",
        "lib/pkgconfig/iphlpapi.pc",
    ] {
        assert!(prefix.join(file).is_file(), "{file} not installed");
    }
    let flags = sh("pkg-config --cflags --libs iphlpapi", &prefix);
    assert!(
        flags.contains(&format!("-I{}/include", prefix.display())),
        "{flags}"
    );
    assert!(flags.contains("-liphlpapi"), "{flags}");

    let shared = scratch().join("example-installed");
    let stat = scratch().join("example-installed-static");
    sh(
        &format!(
            "cc -std=c11 -Wall -Wextra -Werror \"$SRC\" $(pkg-config --cflags --libs iphlpapi) -o {}",
            shared.display()
        ),
        &prefix,
    );
    // Static: the archive and pkg-config's private libraries.
    sh(
        &format!(
            "cc -std=c11 -Wall -Wextra -Werror \"$SRC\" $(pkg-config --cflags iphlpapi) \
             \"$PREFIX/lib/libiphlpapi.a\" \
             $(pkg-config --static --libs-only-l iphlpapi | sed 's/-liphlpapi//') -o {}",
            stat.display()
        ),
        &prefix,
    );
    let needed = sh(&format!("readelf -d {} || true", stat.display()), &prefix);
    assert!(!needed.contains("libiphlpapi"), "{needed}");
    // The shared build finds the library in the prefix by itself: pkg-config
    // gave it the rpath.
    let needed = sh(&format!("readelf -d {}", shared.display()), &prefix);
    assert!(
        needed.contains(&format!("Library runpath: [{}/lib]", prefix.display())),
        "{needed}"
    );

    in_netns(|| {
        for exe in [&shared, &stat] {
            let listener = listen("127.0.0.1:0");
            let (mut client, _server) = connect(&listener);
            let local = client.local_addr().unwrap();
            let remote = client.peer_addr().unwrap();
            let mut cmd = Command::new(exe);
            cmd.args([
                local.ip().to_string(),
                local.port().to_string(),
                remote.ip().to_string(),
                remote.port().to_string(),
            ]);
            // Cargo sets LD_LIBRARY_PATH for tests; a user has none.
            cmd.env_remove("LD_LIBRARY_PATH");
            let out = checked(exe, cmd.output().expect("run example"));
            assert_eq!(out, "0 The operation completed successfully.\n");
            assert_eq!(read_errno(&mut client), Some(ECONNABORTED));
        }
    });

    let out = Command::new("make")
        .arg("-C")
        .arg(crate_dir())
        .arg("uninstall")
        .arg(format!("PREFIX={}", prefix.display()))
        .output()
        .expect("run make uninstall");
    checked(Path::new("make uninstall"), out);
    for gone in [
        "include/iphlpapi.h",
        "include/iphlpapi-compat",
        "lib/libiphlpapi.so",
        "lib/libiphlpapi.so.0",
        "lib/libiphlpapi.a",
        "lib/pkgconfig/iphlpapi.pc",
        "lib/pkgconfig/iphlpapi-compat.pc",
    ] {
        assert!(!prefix.join(gone).exists(), "{gone} left behind");
    }
}

#[test]
fn a_package_for_the_system_lib_directory_has_no_rpath_in_pkg_config() {
    // make install PREFIX=/usr DESTDIR=stage, as a distribution package is
    // built: the loader searches /usr/lib by itself, so no rpath.
    let stage = scratch().join("stage");
    let profile_dir = library_dir();
    let out = Command::new("make")
        .arg("-C")
        .arg(crate_dir())
        .arg("install")
        .arg("PREFIX=/usr")
        .arg(format!("DESTDIR={}", stage.display()))
        .arg(format!(
            "PROFILE={}",
            profile_dir.file_name().unwrap().to_str().unwrap()
        ))
        .arg(format!(
            "CARGO_TARGET_DIR={}",
            profile_dir.parent().unwrap().display()
        ))
        .output()
        .expect("run make");
    checked(Path::new("make install"), out);
    let pc = std::fs::read_to_string(stage.join("usr/lib/pkgconfig/iphlpapi.pc")).unwrap();
    let libs: Vec<&str> = pc.lines().filter(|l| l.starts_with("Libs:")).collect();
    assert_eq!(libs, ["Libs: -L${libdir} -liphlpapi"], "{pc}");
}
