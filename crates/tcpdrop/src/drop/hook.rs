//! A pause between finding the sockets to drop and aborting them, for
//! tests that open the race window on purpose (a connection closing and a
//! newer one taking its tuple in between). Compiled in only with the
//! `race-hook` feature, which only test builds turn on; elsewhere
//! [`before_abort`] is empty.

/// Run the pending hook, if a test set one.
pub(crate) fn before_abort() {
    #[cfg(feature = "race-hook")]
    imp::run();
}

#[cfg(feature = "race-hook")]
pub(crate) mod imp {
    use std::cell::RefCell;
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::{Duration, Instant};

    thread_local! {
        static HOOK: RefCell<Option<Box<dyn FnOnce()>>> = RefCell::new(None);
    }

    /// The environment variable that pauses a process (the `tcpdrop`
    /// command under test) once: it names a directory where the process
    /// creates `paused`, then waits until `resume` appears (30 s at most).
    pub const ENV: &str = "TCPDROP_RACE_HOOK";

    static ENV_USED: AtomicBool = AtomicBool::new(false);

    /// Run `hook` on this thread the next time a drop is about to abort
    /// what it found (once).
    pub fn set(hook: impl FnOnce() + 'static) {
        HOOK.with(|h| *h.borrow_mut() = Some(Box::new(hook)));
    }

    pub(crate) fn run() {
        if let Some(hook) = HOOK.with(|h| h.borrow_mut().take()) {
            hook();
            return;
        }
        let Some(dir) = std::env::var_os(ENV).map(PathBuf::from) else {
            return;
        };
        if ENV_USED.swap(true, Ordering::SeqCst) {
            return;
        }
        let _ = std::fs::write(dir.join("paused"), b"");
        let deadline = Instant::now() + Duration::from_secs(30);
        while !dir.join("resume").exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}
