//! Building the library and the C test programs, and running them.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, OnceLock};

/// This crate's directory.
pub fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `include/`, where `iphlpapi.h` lives.
pub fn include_dir() -> PathBuf {
    crate_dir().join("include")
}

/// The C sources of the tests.
pub fn c_source(name: &str) -> PathBuf {
    crate_dir().join("tests/c").join(format!("{name}.c"))
}

/// The target directory's profile directory this test binary was built
/// into (`target/debug`): the test binary is `target/<profile>/deps/tests-*`.
pub fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    exe.parent()
        .and_then(Path::parent)
        .expect("test binary under target/<profile>/deps")
        .to_path_buf()
}

/// The directory holding `libiphlpapi.so` and `libiphlpapi.a`, brought up
/// to date by `cargo build -p iphlpapi` in this profile once per test run:
/// cargo builds them with the tests, but not on every path to a test run
/// (`cargo test -p iphlpapi --test tests` leaves a stale library in place,
/// and the C programs would test old code).
pub fn library_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = profile_dir();
        let have = |name: &str| dir.join(name).is_file();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut build = Command::new(cargo);
        build
            .args(["build", "-p", "iphlpapi"])
            .current_dir(crate_dir());
        let profile = dir.file_name().and_then(|n| n.to_str()).unwrap_or("debug");
        if profile != "debug" {
            build.args(["--profile", profile]);
        }
        // The target directory is the parent of the profile directory.
        build.env("CARGO_TARGET_DIR", dir.parent().expect("target dir"));
        let status = build.status().expect("run cargo build -p iphlpapi");
        assert!(status.success(), "cargo build -p iphlpapi failed");
        assert!(
            have("libiphlpapi.so"),
            "no libiphlpapi.so in {}",
            dir.display()
        );
        dir
    })
}

/// A directory to link test programs against and run them from: the
/// built `libiphlpapi.so` under its SONAME, `libiphlpapi.so.0` (the name a
/// program linked with it asks the loader for), and under
/// `libiphlpapi.so` (the name `-liphlpapi` finds), as `make install` lays
/// them out.
pub fn link_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = scratch().join("lib");
        std::fs::create_dir_all(&dir).expect("lib dir");
        let built = library_dir().join("libiphlpapi.so");
        for name in ["libiphlpapi.so.0", "libiphlpapi.so"] {
            let link = dir.join(name);
            std::fs::remove_file(&link).ok();
            std::os::unix::fs::symlink(&built, &link).expect("symlink the library");
        }
        dir
    })
}

/// A scratch directory for this test binary's outputs.
pub fn scratch() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("iphlpapi-tests-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("scratch dir");
        dir
    })
}

/// How a C program is built.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Link {
    /// Against `libiphlpapi.so`, found at run time through an rpath.
    Shared,
    /// Against `libiphlpapi.a`, with the system libraries a Rust staticlib needs.
    Static,
}

/// The strict warnings every C build uses.
pub const WARNINGS: &[&str] = &["-Wall", "-Wextra", "-Wpedantic", "-Werror"];

/// Whether `compiler` is installed; if not, the test says it skipped it.
pub fn have(compiler: &str) -> bool {
    let package = match compiler {
        "clang" | "clang++" => "clang",
        "c++" | "g++" => "g++",
        _ => "gcc",
    };
    nstest::require_tool(compiler, package)
}

/// Run a compiler and fail the test with its diagnostics if it fails.
pub fn compile(compiler: &str, args: &[String]) {
    let out = Command::new(compiler)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run {compiler}: {e}"));
    assert!(
        out.status.success(),
        "{compiler} {}\n{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `tests/c/NAME.c` built as C11 with every warning an error and linked
/// with the library; built once per test run.
pub fn program(name: &str, link: Link) -> PathBuf {
    static BUILT: OnceLock<Mutex<HashMap<(String, Link), PathBuf>>> = OnceLock::new();
    let built = BUILT.get_or_init(Default::default);
    let mut built = built.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(path) = built.get(&(name.to_string(), link)) {
        return path.clone();
    }
    let lib = library_dir();
    let out = scratch().join(format!("{name}-{link:?}").to_lowercase());
    let mut args: Vec<String> = vec!["-std=c11".into()];
    args.extend(WARNINGS.iter().map(|s| s.to_string()));
    args.push(format!("-I{}", include_dir().display()));
    args.push(c_source(name).display().to_string());
    match link {
        Link::Shared => {
            let dir = link_dir();
            args.push(format!("-L{}", dir.display()));
            args.push("-liphlpapi".into());
            args.push(format!("-Wl,-rpath,{}", dir.display()));
        }
        Link::Static => {
            args.push(lib.join("libiphlpapi.a").display().to_string());
            for l in [
                "-lgcc_s",
                "-lutil",
                "-lrt",
                "-lpthread",
                "-lm",
                "-ldl",
                "-lc",
            ] {
                args.push(l.into());
            }
        }
    }
    args.push("-o".into());
    args.push(out.display().to_string());
    compile("cc", &args);
    built.insert((name.to_string(), link), out.clone());
    out
}

/// Run `program` with `args` (from the calling thread, so in its network
/// namespace) and return its stdout, failing the test unless it exits 0.
pub fn run(program: &Path, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", program.display()));
    checked(program, out)
}

/// The stdout of a finished program, failing the test unless it exited 0.
pub fn checked(program: &Path, out: Output) -> String {
    assert!(
        out.status.success(),
        "{} exited with {}: {}{}",
        program.display(),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// `sleep` holding the client end of a connection, as its descriptor 3:
/// a connection owned by another program, for as long as a test needs
/// (not on a timer). Killed and reaped when dropped.
pub struct Holder {
    child: std::process::Child,
    /// Its end of the connection.
    pub local: SocketAddr,
}

impl Holder {
    /// Connect to `listener` and hand the client end to `sleep`; returns
    /// the holder and the test's (server) end.
    pub fn new(listener: &std::net::TcpListener) -> (Holder, TcpStream) {
        use std::os::fd::AsRawFd;
        use std::os::unix::process::CommandExt;
        let (client, server) = nstest::connect(listener);
        let local = client.local_addr().unwrap();
        let fd = client.as_raw_fd();
        let mut command = Command::new("sleep");
        command.arg("600");
        // SAFETY: dup2 is async-signal-safe, and the closure touches only
        // the descriptor number copied before the fork.
        unsafe {
            command.pre_exec(move || {
                // dup2 clears close-on-exec on the copy, so sleep keeps it.
                if libc::dup2(fd, 3) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command.spawn().expect("run sleep");
        // From now on sleep alone holds the client end.
        drop(client);
        (Holder { child, local }, server)
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}
