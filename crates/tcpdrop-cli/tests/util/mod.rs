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
fn binary_for_nobody() -> PathBuf {
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
