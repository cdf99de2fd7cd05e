use std::process::{Command, Output};

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
        .arg(env!("CARGO_BIN_EXE_tcpdrop"))
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
