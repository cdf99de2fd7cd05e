//! What `--watch` needs besides dropping: durations as people write them,
//! and waiting for the next round unless SIGINT or SIGTERM comes first.

use std::io;
use std::time::{Duration, Instant};

/// "1 round", "3 rounds": how many rounds a watch ran, in the summary.
pub fn rounds(n: u64) -> String {
    match n {
        1 => "1 round".to_string(),
        n => format!("{n} rounds"),
    }
}

/// `500ms`, `2s`, `1.5s`, `1m`, `1h`, or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let scale = match unit {
        "ms" => 0.001,
        "" | "s" => 1.0,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        _ => {
            return Err(format!(
                "'{text}' is not a duration: write e.g. 500ms, 2s, 1m or 1h"
            ))
        }
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("'{text}' is not a duration: write e.g. 500ms, 2s, 1m or 1h"))?;
    Duration::try_from_secs_f64(value * scale)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| format!("'{text}' is not a usable duration: give more than 0, e.g. 500ms"))
}

/// SIGINT and SIGTERM, blocked in this thread (and so in the threads it
/// starts later) and taken synchronously with `sigtimedwait(2)`: a signal
/// ends the wait between two rounds, never a round half done.
pub struct Signals {
    set: libc::sigset_t,
}

impl Signals {
    /// Block SIGINT and SIGTERM in the calling thread (`pthread_sigmask(2)`).
    /// Call it before starting other threads, which inherit the mask; a
    /// process-directed signal then stays pending until [`Signals::wait`].
    pub fn block() -> io::Result<Signals> {
        // SAFETY: sigset_t is plain data; sigemptyset initialises it.
        let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
        // SAFETY: `set` is a valid sigset_t; the signal numbers are valid, and
        // pthread_sigmask only changes this thread's mask.
        let rc = unsafe {
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGINT);
            libc::sigaddset(&mut set, libc::SIGTERM);
            libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut())
        };
        if rc != 0 {
            return Err(io::Error::from_raw_os_error(rc));
        }
        Ok(Signals { set })
    }

    /// Wait up to `timeout`; the signal that ended the wait early, if one did.
    pub fn wait(&self, timeout: Duration) -> Option<i32> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let ts = libc::timespec {
                tv_sec: libc::time_t::try_from(left.as_secs()).unwrap_or(libc::time_t::MAX),
                tv_nsec: libc::c_long::from(left.subsec_nanos()),
            };
            // SAFETY: `self.set` is an initialised sigset_t; no siginfo is asked for.
            let signo = unsafe { libc::sigtimedwait(&self.set, std::ptr::null_mut(), &ts) };
            if signo > 0 {
                return Some(signo);
            }
            // EAGAIN: the time is up. EINTR (another signal's handler ran):
            // wait for what is left.
            if io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
                return None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_as_people_write_them() {
        for (text, ms) in [
            ("500ms", 500),
            ("2s", 2000),
            ("2", 2000),
            ("1.5s", 1500),
            ("1m", 60_000),
            ("1min", 60_000),
            ("1h", 3_600_000),
            ("100ms", 100),
        ] {
            assert_eq!(
                parse_duration(text),
                Ok(Duration::from_millis(ms)),
                "{text}"
            );
        }
        for bad in ["", "0", "0s", "-1s", "1d", "ms", "1.2.3s", "fast"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_wait_without_a_signal_lasts_its_time() {
        let signals = std::thread::spawn(|| {
            let signals = Signals::block().expect("block");
            let start = Instant::now();
            let got = signals.wait(Duration::from_millis(50));
            (got, start.elapsed())
        })
        .join()
        .expect("thread");
        assert_eq!(signals.0, None);
        assert!(signals.1 >= Duration::from_millis(50), "{:?}", signals.1);
    }
}
