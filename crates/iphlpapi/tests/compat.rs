//! The compatibility headers (`pkg-config iphlpapi-compat`) compile in
//! every order and language mode with GCC and Clang, and `make install-lib`
//! installs them with the library under its SONAME, exporting the API
//! alone. `windows_programs` runs what is built with them.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::{c_source, checked, compile, crate_dir, have, include_dir, library_dir, scratch};

/// Every call the library exports: its whole ABI.
const API: &[&str] = &[
    "GetExtendedTcpTable",
    "GetOwnerModuleFromTcp6Entry",
    "GetOwnerModuleFromTcpEntry",
    "GetTcp6Table",
    "GetTcp6Table2",
    "GetTcpStatistics",
    "GetTcpStatisticsEx",
    "GetTcpStatisticsEx2",
    "GetTcpTable",
    "GetTcpTable2",
    "IpHlpFormatError",
    "SetTcpEntry",
];

/// The compatibility headers in the source tree.
pub fn compat_dir() -> PathBuf {
    include_dir().join("compat")
}

/// (compiler, flags) for every language mode the compatibility headers
/// support. g++ before 13 ignores `#pragma GCC diagnostic` for the
/// preprocessor's own warnings (GCC bug 53431), so the `#pragma comment`
/// of Windows code draws -Wunknown-pragmas there; the C compilers and
/// clang++ take the headers' word.
const MODES: &[(&str, &[&str])] = &[
    ("cc", &["-std=c99", "-Wpedantic"]),
    ("cc", &["-std=c11", "-Wpedantic"]),
    ("cc", &["-std=gnu11"]),
    ("clang", &["-std=c99", "-Wpedantic"]),
    ("clang", &["-std=gnu17"]),
    (
        "c++",
        &[
            "-x",
            "c++",
            "-std=c++11",
            "-Wpedantic",
            "-Wno-unknown-pragmas",
        ],
    ),
    (
        "c++",
        &[
            "-x",
            "c++",
            "-std=c++20",
            "-Wpedantic",
            "-Wno-unknown-pragmas",
        ],
    ),
    ("clang++", &["-x", "c++", "-std=c++17", "-Wpedantic"]),
    ("clang++", &["-x", "c++", "-std=c++20", "-Wpedantic"]),
];

#[test]
fn the_compat_headers_compile_in_every_order_and_language_mode_with_gcc_and_clang() {
    for source in [
        "compat_order",
        "win_tool",
        "win_loader",
        "win_winsock",
        "win_selfdrop",
        "win_netstat",
        "win_families",
        "linux_sockets",
    ] {
        for (i, (compiler, lang)) in MODES.iter().enumerate() {
            if !have(compiler) {
                continue;
            }
            let mut args: Vec<String> = lang.iter().map(|s| s.to_string()).collect();
            args.extend(["-Wall", "-Wextra", "-Werror"].map(String::from));
            args.push(format!("-I{}", compat_dir().display()));
            args.push(format!("-I{}", include_dir().display()));
            args.push("-c".into());
            args.push(c_source(source).display().to_string());
            args.push("-o".into());
            args.push(
                scratch()
                    .join(format!("{source}{i}.o"))
                    .display()
                    .to_string(),
            );
            compile(compiler, &args);
        }
    }
}

#[test]
fn the_base_types_block_of_iphlpapi_h_and_windef_h_is_the_same() {
    // Both define the types under one guard, so whichever comes first
    // wins: the two copies must not drift apart.
    let block = |path: PathBuf| {
        let text = std::fs::read_to_string(&path).unwrap();
        let start = text
            .find("/* BEGIN tcpdrop base types")
            .expect("BEGIN marker");
        let end = text
            .find("/* END tcpdrop base types */")
            .expect("END marker");
        text[start..end].to_string()
    };
    assert_eq!(
        block(include_dir().join("iphlpapi.h")),
        block(compat_dir().join("windef.h"))
    );
}

#[test]
fn the_makefile_installs_every_compat_header() {
    let makefile = std::fs::read_to_string(crate_dir().join("Makefile")).unwrap();
    let list = makefile
        .split("COMPAT_HEADERS := ")
        .nth(1)
        .expect("COMPAT_HEADERS in the Makefile");
    let mut listed: Vec<&str> = list
        .lines()
        .take_while(|l| !l.trim().is_empty())
        .flat_map(|l| l.split_whitespace())
        .filter(|w| *w != "\\")
        .collect();
    listed.sort();
    let mut present: Vec<String> = std::fs::read_dir(compat_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    present.sort();
    assert_eq!(listed, present);
}

#[test]
fn the_library_has_its_soname_and_exports_the_api_alone() {
    let lib = library_dir().join("libiphlpapi.so");
    let dynamic = Command::new("readelf")
        .arg("-d")
        .arg(&lib)
        .output()
        .unwrap();
    let dynamic = checked(Path::new("readelf"), dynamic);
    assert!(
        dynamic.contains("Library soname: [libiphlpapi.so.0]"),
        "{dynamic}"
    );
    let symbols = Command::new("nm")
        .args(["-D", "--defined-only"])
        .arg(&lib)
        .output()
        .unwrap();
    let symbols = checked(Path::new("nm"), symbols);
    let mut exported: Vec<&str> = symbols
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2))
        .collect();
    exported.sort();
    assert_eq!(exported, API);
}

/// `make install-lib` (the top Makefile) into a fresh prefix, once per run.
pub fn installed_prefix() -> &'static Path {
    static PREFIX: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    PREFIX.get_or_init(|| {
        let prefix = scratch().join("compat-prefix");
        let profile_dir = library_dir();
        let out = Command::new("make")
            .arg("-C")
            .arg(crate_dir().join("../.."))
            .arg("install-lib")
            .arg(format!("PREFIX={}", prefix.display()))
            .arg(format!(
                "PROFILE={}",
                profile_dir.file_name().unwrap().to_str().unwrap()
            ))
            .arg(format!(
                "CARGO_TARGET_DIR={}",
                profile_dir.parent().unwrap().display()
            ))
            .output()
            .expect("run make install-lib");
        checked(Path::new("make install-lib"), out);
        prefix
    })
}

/// Build `tests/c/NAME.c` exactly as the README says a Windows program is
/// built: `cc prog.c $(pkg-config --cflags --libs iphlpapi-compat)`.
pub fn build_unchanged(name: &str) -> PathBuf {
    build_unchanged_with("cc", &[], &c_source(name), &format!("{name}-installed"))
}

/// Build `source` with `compiler FLAGS source $(pkg-config --cflags --libs
/// iphlpapi-compat)` against `make install-lib`'s prefix, into the scratch
/// directory as `exe_name`.
pub fn build_unchanged_with(
    compiler: &str,
    flags: &[&str],
    source: &Path,
    exe_name: &str,
) -> PathBuf {
    let prefix = installed_prefix();
    let exe = scratch().join(exe_name);
    let out = Command::new("sh")
        .args([
            "-ec",
            "$CC $FLAGS \"$SRC\" $(pkg-config --cflags --libs iphlpapi-compat) -o \"$OUT\"",
        ])
        .env("PKG_CONFIG_PATH", prefix.join("lib/pkgconfig"))
        .env("CC", compiler)
        .env("FLAGS", flags.join(" "))
        .env("SRC", source)
        .env("OUT", &exe)
        .output()
        .expect("run sh");
    checked(Path::new(compiler), out);
    exe
}

#[test]
fn make_install_lib_installs_the_soname_link_and_the_compat_module() {
    let prefix = installed_prefix();
    let lib = prefix.join("lib");
    assert!(lib.join("libiphlpapi.so.0").is_file());
    assert_eq!(
        std::fs::read_link(lib.join("libiphlpapi.so")).unwrap(),
        Path::new("libiphlpapi.so.0")
    );
    for entry in std::fs::read_dir(compat_dir()).unwrap() {
        let name = entry.unwrap().file_name();
        assert!(
            prefix.join("include/iphlpapi-compat").join(&name).is_file(),
            "{name:?} not installed"
        );
    }
    let out = Command::new("pkg-config")
        .args(["--cflags", "--libs", "iphlpapi-compat"])
        .env("PKG_CONFIG_PATH", lib.join("pkgconfig"))
        .output()
        .unwrap();
    let flags = checked(Path::new("pkg-config"), out);
    for want in [
        format!("-I{}/include/iphlpapi-compat", prefix.display()),
        format!("-I{}/include", prefix.display()),
        format!("-L{}/lib", prefix.display()),
        format!("-Wl,-rpath,{}/lib", prefix.display()),
        "-liphlpapi".to_string(),
    ] {
        assert!(
            flags.split_whitespace().any(|f| f == want),
            "{want} not in {flags}"
        );
    }
    // A program linked with it asks for the SONAME.
    let exe = build_unchanged("win_tool");
    let out = Command::new("readelf")
        .arg("-d")
        .arg(&exe)
        .output()
        .unwrap();
    let needed = checked(Path::new("readelf"), out);
    assert!(
        needed.contains("Shared library: [libiphlpapi.so.0]"),
        "{needed}"
    );
    // ... and finds it where it was installed, with no LD_LIBRARY_PATH.
    assert!(
        needed.contains(&format!("Library runpath: [{}/lib]", prefix.display())),
        "{needed}"
    );
}

/// Run a program built with `build_unchanged`, as a user would after
/// `make install-lib` into a prefix the loader does not search: with no
/// `LD_LIBRARY_PATH` (cargo sets one for tests), the library is found
/// through the rpath pkg-config gave.
pub fn run_installed(exe: &Path, args: &[&str]) -> String {
    let out = installed_command(exe)
        .args(args)
        .output()
        .expect("run the program");
    checked(exe, out)
}

/// The command that runs `exe` as [`run_installed`] does.
pub fn installed_command(exe: &Path) -> Command {
    let mut command = Command::new(exe);
    command.env_remove("LD_LIBRARY_PATH");
    command
}
