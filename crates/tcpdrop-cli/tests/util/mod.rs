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
        // Not the pid alone: inside user-mode Linux pids start again from
        // 1, and a directory an earlier run (as root) left under the same
        // name could not be chmod'ed by a normal user.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir = std::env::temp_dir().join(format!("tcpdrop-test-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod dir");
        let copy = dir.join("tcpdrop");
        std::fs::copy(env!("CARGO_BIN_EXE_tcpdrop"), &copy).expect("copy binary");
        std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        copy
    })
    .clone()
}

/// Run `command`, again while executing its program fails with "Text file
/// busy" (ETXTBSY): a copy of the binary this process just wrote stays
/// open for writing, for a moment, in any child another test thread forked
/// meanwhile (until that child executes its own program).
fn output_of(command: &mut Command) -> Output {
    for _ in 0..100 {
        let out = command.output().expect("run the command");
        if !String::from_utf8_lossy(&out.stderr).contains("Text file busy") {
            return out;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    command.output().expect("run the command")
}

/// Run `tcpdrop ARGS` as user nobody with no capabilities at all.
pub fn tcpdrop_unprivileged(args: &[&str]) -> Run {
    output_of(
        Command::new("setpriv")
            .args([
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                "--inh-caps=-all",
                "--bounding-set=-all",
            ])
            .arg(binary_for_nobody())
            .args(args),
    )
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
    let run = output_of(
        Command::new("setpriv")
            .args([
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                "--inh-caps=-all",
            ])
            .arg(&copy)
            .args(args),
    )
    .into();
    let _ = std::fs::remove_dir_all(&dir);
    run
}

/// A fresh world-readable directory under the system's temp dir.
fn tempfile_dir(name: &str) -> PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let dir = std::env::temp_dir().join(format!(
        "{name}-{}-{}-{nanos}",
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
    output_of(
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
            .args(args),
    )
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

/// A copy of the binary carrying file capabilities, as an admin installs
/// it for every local user: `setcap CAPS` on a mode 0755 copy in a fresh
/// world-readable directory. Removed when dropped.
pub struct CapCopy {
    dir: PathBuf,
    pub path: PathBuf,
}

impl CapCopy {
    /// A copy with `caps`, as setcap(8) writes them
    /// (`cap_net_admin,cap_sys_ptrace+ep`).
    pub fn new(caps: &str) -> CapCopy {
        let dir = tempfile_dir("tcpdrop-filecaps");
        let path = dir.join("tcpdrop");
        std::fs::copy(env!("CARGO_BIN_EXE_tcpdrop"), &path).expect("copy binary");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let copy = CapCopy { dir, path };
        copy.setcap(caps);
        copy
    }

    /// Set the file capabilities again (`setcap CAPS`).
    pub fn setcap(&self, caps: &str) {
        let status = Command::new("setcap")
            .arg(caps)
            .arg(&self.path)
            .status()
            .expect("run setcap (libcap2-bin)");
        assert!(status.success(), "setcap {caps}");
    }

    /// Its file capabilities as getcap(8) shows them (empty: none).
    pub fn getcap(&self) -> String {
        let out = Command::new("getcap")
            .arg(&self.path)
            .output()
            .expect("run getcap (libcap2-bin)");
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .nth(1)
            .unwrap_or("")
            .to_string()
    }

    /// Run it as user nobody, in supplementary groups `groups`, with no
    /// capability of its own: what the process has comes from the file.
    pub fn run_as_nobody_in(&self, groups: &[u32], args: &[&str]) -> Run {
        let mut command = Command::new("setpriv");
        command.args(["--reuid=65534", "--regid=65534"]);
        if groups.is_empty() {
            command.arg("--clear-groups");
        } else {
            let list: Vec<String> = groups.iter().map(u32::to_string).collect();
            command.arg(format!("--groups={}", list.join(",")));
        }
        // Through a shell, as a user types it: setpriv itself may still
        // hold root's capabilities when it executes its program (enough to
        // pass a mode the user may not), a shell it started does not.
        command
            .args(["--inh-caps=-all", "sh", "-c", "exec \"$0\" \"$@\""])
            .arg(&self.path)
            .args(args);
        output_of(&mut command).into()
    }

    /// Run it as user nobody.
    pub fn run_as_nobody(&self, args: &[&str]) -> Run {
        self.run_as_nobody_in(&[], args)
    }
}

impl Drop for CapCopy {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Run `tcpdrop ARGS` as root confined by Landlock (a ruleset that only
/// forbids making block devices): a process in a Landlock domain may not
/// ptrace, so may not read `/proc/PID/fd` of, a process outside it, root's
/// own included. `None` where the kernel has no Landlock.
pub fn tcpdrop_in_landlock(args: &[&str]) -> Option<Run> {
    use std::os::unix::process::CommandExt;
    // struct landlock_ruleset_attr, ABI 1: handled_access_fs only.
    const LANDLOCK_ACCESS_FS_MAKE_BLOCK: u64 = 1 << 11;
    let available = {
        // SAFETY: a version query (LANDLOCK_CREATE_RULESET_VERSION) reads
        // no memory.
        unsafe { libc::syscall(libc::SYS_landlock_create_ruleset, 0usize, 0usize, 1u32) > 0 }
    };
    if !available {
        return None;
    }
    let mut command = Command::new(env!("CARGO_BIN_EXE_tcpdrop"));
    command.args(args);
    // SAFETY: the closure runs in the forked child before exec and makes
    // only system calls (no allocation, no locks).
    unsafe {
        command.pre_exec(|| {
            let handled: u64 = LANDLOCK_ACCESS_FS_MAKE_BLOCK;
            let fd = libc::syscall(
                libc::SYS_landlock_create_ruleset,
                &handled as *const u64,
                std::mem::size_of::<u64>(),
                0u32,
            );
            if fd < 0 || libc::syscall(libc::SYS_landlock_restrict_self, fd, 0u32) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    Some(command.output().expect("run tcpdrop").into())
}

/// `tcpdrop ARGS` left running (a `--watch`), its output read as it comes;
/// killed when dropped, if still running.
pub struct Watching {
    child: std::process::Child,
    stdout: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
    readers: Vec<std::thread::JoinHandle<()>>,
    stderr: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
}

impl Watching {
    /// Start `tcpdrop ARGS` in the calling thread's network namespace.
    pub fn start(args: &[&str]) -> Watching {
        use std::process::Stdio;
        let mut child = Command::new(env!("CARGO_BIN_EXE_tcpdrop"))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run tcpdrop");
        let stdout = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let stderr = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let readers = vec![
            drain(child.stdout.take().expect("stdout"), stdout.clone()),
            drain(child.stderr.take().expect("stderr"), stderr.clone()),
        ];
        Watching {
            child,
            stdout,
            readers,
            stderr,
        }
    }

    /// Its pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The JSON rows it printed so far, once `done` says they are enough;
    /// panics after 10 s, showing what it printed.
    pub fn rows_until(
        &self,
        what: &str,
        done: impl Fn(&[serde_json::Value]) -> bool,
    ) -> Vec<serde_json::Value> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let text = String::from_utf8_lossy(&self.stdout.lock().unwrap()).into_owned();
            // Only whole lines: the last may be half written.
            let whole = &text[..text.rfind('\n').map_or(0, |i| i + 1)];
            let rows = json_lines(whole);
            if done(&rows) {
                return rows;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "waited 10 s for {what}; stdout:\n{text}\nstderr:\n{}",
                String::from_utf8_lossy(&self.stderr.lock().unwrap())
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// Send SIGTERM, as a service manager stops it, and wait (10 s at
    /// most) for it to exit.
    pub fn terminate(mut self) -> Run {
        // SAFETY: kill(2) on our own child's pid, not yet reaped.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                break status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "tcpdrop did not exit within 10 s of SIGTERM"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        for reader in std::mem::take(&mut self.readers) {
            let _ = reader.join();
        }
        let stdout = String::from_utf8_lossy(&self.stdout.lock().unwrap()).into_owned();
        let stderr = String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned();
        Run {
            code: status.code().unwrap_or(-1),
            stdout,
            stderr,
        }
    }
}

impl Drop for Watching {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Copy what `from` yields into `into` as it comes, on a thread.
fn drain(
    mut from: impl std::io::Read + Send + 'static,
    into: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        while let Ok(n) = from.read(&mut buf) {
            if n == 0 {
                break;
            }
            into.lock().unwrap().extend_from_slice(&buf[..n]);
        }
    })
}
