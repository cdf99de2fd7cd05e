//! Tests on a second kernel: user-mode Linux (Debian's `user-mode-linux`,
//! Linux 6.1 built without `CONFIG_INET_DIAG_DESTROY`), booted by
//! `.ci/uml/run` with the host's root as its filesystem.
//!
//! A test binary re-runs chosen tests of its own inside UML
//! ([`run_tests_inside`]): they are marked `#[ignore]` (they mean nothing on
//! the host), and run there with `--ignored` and [`INSIDE`] set, as root of
//! UML's initial namespaces, so [`in_netns`](crate::in_netns) works inside
//! as it does outside.

use std::path::PathBuf;
use std::process::Command;

/// Set (to `1`) in the environment of a command run inside UML.
pub const INSIDE: &str = "NSTEST_IN_UML";

/// Whether this process runs inside UML, started by [`run`].
pub fn inside() -> bool {
    std::env::var_os(INSIDE).is_some()
}

/// `.ci/uml/run`, the script that boots UML around one command.
pub fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.ci/uml/run")
}

/// Why UML cannot run here, if it cannot: no `linux.uml` on `PATH`, or no
/// `insmod` (`.ci/uml/run` loads UML's IPv6 module with it).
pub fn unavailable() -> Option<String> {
    [("linux.uml", "user-mode-linux"), ("insmod", "kmod")]
        .into_iter()
        .find(|(tool, _)| !crate::installed(tool))
        .map(|(tool, package)| {
            format!("{tool} is not installed (apt-get install {package}; `make test` as root installs it)")
        })
}

/// What a command run inside UML did.
#[derive(Debug)]
pub struct Run {
    /// Its exit status; 125 when UML could not run it to its end.
    pub status: i32,
    /// Its standard output and error, interleaved, then `.ci/uml/run`'s
    /// own complaints (with the UML console's tail when it failed).
    pub output: String,
}

/// Run `command` inside UML with `env` (and [`INSIDE`]) set, in the current
/// directory, and wait for UML to halt.
pub fn run(env: &[(&str, &str)], command: &[&str]) -> Run {
    let mut cmd = Command::new(script());
    cmd.args(["--timeout", "600", "--env", &format!("{INSIDE}=1")]);
    for (name, value) in env {
        cmd.args(["--env", &format!("{name}={value}")]);
    }
    let out = cmd
        .arg("--")
        .args(command)
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", script().display()));
    Run {
        status: out.status.code().unwrap_or(-1),
        output: format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

/// Run this test binary's ignored tests whose names contain `filter`
/// inside UML, one at a time, and fail unless exactly `expected` of them
/// ran and all passed. Skipped (saying why) where UML is not installed;
/// as root in CI that fails the run, as every skip does.
pub fn run_tests_inside(filter: &str, expected: usize) {
    if let Some(reason) = unavailable() {
        crate::skip(&reason);
        return;
    }
    let exe = std::env::current_exe().expect("the test binary's path");
    let exe = exe.to_str().expect("a UTF-8 path");
    let run = run(
        &[("RUST_BACKTRACE", "1")],
        &[exe, filter, "--ignored", "--test-threads=1", "--nocapture"],
    );
    let want = format!("test result: ok. {expected} passed");
    assert!(
        run.status == 0 && run.output.contains(&want),
        "inside UML (status {}), wanted '{want}':\n{}",
        run.status,
        run.output
    );
}
