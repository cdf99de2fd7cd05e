use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The result of one run of the binary.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(out: Output) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// Run `tcpdrop ARGS` in the calling thread's network namespace.
pub fn tcpdrop(args: &[&str]) -> Run {
    Command::new(env!("CARGO_BIN_EXE_tcpdrop"))
        .args(args)
        .output()
        .expect("run tcpdrop")
        .into()
}

/// A copy of the binary that user nobody can run wherever the checkout
/// lives (a clone under /root is not reachable by nobody).
pub fn binary_for_nobody() -> PathBuf {
    static COPY: OnceLock<PathBuf> = OnceLock::new();
    COPY.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("tcpdrop-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod dir");
        let copy = dir.join("tcpdrop");
        std::fs::copy(env!("CARGO_BIN_EXE_tcpdrop"), &copy).expect("copy binary");
        std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        copy
    })
    .clone()
}

/// Run `tcpdrop ARGS` as user nobody with no capabilities at all.
pub fn tcpdrop_unprivileged(args: &[&str]) -> Run {
    Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
            "--bounding-set=-all",
        ])
        .arg(binary_for_nobody())
        .args(args)
        .output()
        .expect("run setpriv (util-linux)")
        .into()
}

/// The JSON objects of a `--json` run.
pub fn json_lines(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

/// Run `tcpdrop ARGS` with `SOCKDIAG_FAULTS=faults`: test builds of the
/// binary then meet a kernel that fails as the faults say (sockdiag's
/// `fault-injection` feature; release builds ignore the variable).
pub fn tcpdrop_with_faults(faults: &str, args: &[&str]) -> Run {
    Command::new(env!("CARGO_BIN_EXE_tcpdrop"))
        .args(args)
        .env("SOCKDIAG_FAULTS", faults)
        .output()
        .expect("run tcpdrop")
        .into()
}

/// Run `tcpdrop ARGS` as user nobody from a copy of the binary that carries
/// CAP_NET_ADMIN as a permitted file capability but not an effective one:
/// the process may raise the capability but has not ("not elevated").
pub fn tcpdrop_not_elevated(args: &[&str]) -> Run {
    let dir = tempfile_dir("tcpdrop-not-elevated");
    let copy = dir.join("tcpdrop");
    std::fs::copy(env!("CARGO_BIN_EXE_tcpdrop"), &copy).expect("copy binary");
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let status = Command::new("setcap")
        .args(["cap_net_admin+p"])
        .arg(&copy)
        .status()
        .expect("run setcap (libcap2-bin)");
    assert!(status.success(), "setcap cap_net_admin+p");
    let run = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
        ])
        .arg(&copy)
        .args(args)
        .output()
        .expect("run setpriv (util-linux)")
        .into();
    let _ = std::fs::remove_dir_all(&dir);
    run
}

/// A fresh world-readable directory under the system's temp dir.
fn tempfile_dir(name: &str) -> PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "{name}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod dir");
    dir
}

/// Run `tcpdrop ARGS` as a service account would: user nobody with
/// CAP_NET_ADMIN and no other capability (no CAP_SYS_PTRACE, so other
/// users' `/proc/PID/fd` cannot be read).
pub fn tcpdrop_net_admin_only(args: &[&str]) -> Run {
    Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all,+net_admin",
            "--ambient-caps=+net_admin",
            "--bounding-set=-all,+net_admin",
        ])
        .arg(binary_for_nobody())
        .args(args)
        .output()
        .expect("run setpriv (util-linux)")
        .into()
}

/// Run `tcpdrop ARGS`, with arguments that need not be UTF-8; stdout as raw
/// bytes, so that nothing in it is replaced or hidden.
pub fn tcpdrop_bytes(args: &[&std::ffi::OsStr]) -> (i32, Vec<u8>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tcpdrop"))
        .args(args)
        .output()
        .expect("run tcpdrop");
    (
        out.status.code().unwrap_or(-1),
        out.stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Run `tcpdrop ARGS` with stdout going to `stdout` (a closed pipe,
/// `/dev/full`, ...), extra environment `env`; its code and stderr.
pub fn tcpdrop_writing_to(
    stdout: std::process::Stdio,
    env: &[(&str, &str)],
    args: &[&str],
) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tcpdrop"))
        .args(args)
        .envs(env.iter().copied())
        .stdout(stdout)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run tcpdrop")
        .wait_with_output()
        .expect("wait for tcpdrop");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A pipe whose reading end is already closed, as stdout for a child: its
/// first write fails with EPIPE, as under `| head` once head has exited.
pub fn closed_pipe() -> std::process::Stdio {
    use std::os::fd::FromRawFd;
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: pipe2 writes two new descriptors into the array.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: both descriptors are new and ours: the read end is closed
    // now, the write end becomes the Stdio that owns it.
    unsafe {
        libc::close(fds[0]);
        std::process::Stdio::from_raw_fd(fds[1])
    }
}
