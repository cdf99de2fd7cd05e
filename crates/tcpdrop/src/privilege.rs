//! Who may drop: `CAP_NET_ADMIN`, read with `capget(2)`; and why the
//! kernel would not show other processes' `/proc/PID` entries
//! ([`ProcRefusals`]): a capability missing, or a security module.

use rustix::thread::{capabilities, CapabilitySet};

/// Why the caller may not drop connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Privilege {
    /// `CAP_NET_ADMIN` is in the effective set (the kernel may still refuse
    /// when the network namespace belongs to another user namespace).
    Effective,
    /// `CAP_NET_ADMIN` is permitted but not effective: the caller could raise
    /// it ("not elevated").
    PermittedOnly,
    /// `CAP_NET_ADMIN` is not even permitted.
    Missing,
}

/// Where `CAP_NET_ADMIN` stands for the calling thread ([`capget(2)`]).
///
/// Capabilities are per thread; this reads the caller's own. It is a
/// pre-check for messages: the kernel's `ns_capable()` over the socket's
/// network namespace has the last word.
///
/// [`capget(2)`]: https://man7.org/linux/man-pages/man2/capget.2.html
pub fn net_admin() -> Privilege {
    match capabilities(None) {
        Ok(sets) if sets.effective.contains(CapabilitySet::NET_ADMIN) => Privilege::Effective,
        Ok(sets) if sets.permitted.contains(CapabilitySet::NET_ADMIN) => Privilege::PermittedOnly,
        Ok(_) => Privilege::Missing,
        // capget does not fail for the calling thread; if it did, the
        // kernel's own check still decides.
        Err(_) => Privilege::Effective,
    }
}

/// Whether the calling thread has `capability` in effect ([`capget(2)`]).
///
/// [`capget(2)`]: https://man7.org/linux/man-pages/man2/capget.2.html
pub(crate) fn effective(capability: CapabilitySet) -> bool {
    capabilities(None).is_ok_and(|sets| sets.effective.contains(capability))
}

/// Whether the caller is in the initial user namespace, where its
/// capabilities reach every process (`/proc/self/uid_map` maps all uids
/// to themselves there, [`user_namespaces(7)`]).
///
/// [`user_namespaces(7)`]: https://man7.org/linux/man-pages/man7/user_namespaces.7.html
fn in_initial_user_namespace() -> bool {
    std::fs::read_to_string("/proc/self/uid_map").is_ok_and(|map| {
        let words: Vec<&str> = map.split_whitespace().collect();
        words == ["0", "0", "4294967295"]
    })
}

/// The processes whose `/proc/PID` entries the kernel would not show, by
/// the check that refused them ([`proc_pid_fd(5)`], [`ptrace(2)`], "Ptrace
/// access mode checking"), and what that says about the caller.
///
/// Two checks guard another process's descriptors: the directory
/// `/proc/PID/fd` is its owner's alone (mode 0500, so another user needs
/// `CAP_DAC_READ_SEARCH` to open it), and each link in it, like
/// `/proc/PID/ns/net`, needs ptrace read access (the same user and a
/// dumpable process, or `CAP_SYS_PTRACE`). Root has both; a copy of the
/// program given `cap_sys_ptrace` alone still cannot open the directory.
/// A refusal that comes although the caller has every capability the
/// check takes is a security module's (Landlock, SELinux, AppArmor, Yama)
/// or, for a caller inside a user namespace, a process its capabilities
/// do not reach: running as root changes nothing there.
///
/// [`proc_pid_fd(5)`]: https://man7.org/linux/man-pages/man5/proc_pid_fd.5.html
/// [`ptrace(2)`]: https://man7.org/linux/man-pages/man2/ptrace.2.html
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProcRefusals {
    /// Processes whose `/proc/PID/fd` directory could not be opened.
    pub directory: usize,
    /// Processes whose links (`/proc/PID/fd/N`, `/proc/PID/ns/net`) could
    /// not be read: ptrace read access was refused.
    pub ptrace: usize,
    /// The lowest pid refused, to name.
    pub first: Option<u32>,
}

impl ProcRefusals {
    /// Count process `pid`, refused by the directory's permissions
    /// (`directory`) or by the ptrace access check.
    pub(crate) fn add(&mut self, pid: u32, directory: bool) {
        if directory {
            self.directory = self.directory.saturating_add(1);
        } else {
            self.ptrace = self.ptrace.saturating_add(1);
        }
        self.first = Some(self.first.map_or(pid, |first| first.min(pid)));
    }

    /// Add the refusals another look counted.
    pub fn extend(&mut self, other: ProcRefusals) {
        self.directory = self.directory.saturating_add(other.directory);
        self.ptrace = self.ptrace.saturating_add(other.ptrace);
        self.first = match (self.first, other.first) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }

    /// How many processes were refused.
    pub fn count(&self) -> usize {
        self.directory.saturating_add(self.ptrace)
    }

    /// The capabilities the caller lacks for what was refused, as
    /// `capabilities(7)` names them: `"CAP_DAC_READ_SEARCH and
    /// CAP_SYS_PTRACE"`, one of the two, or `None` when it has every one
    /// (then the refusal is a security policy's: [`ProcRefusals::reason`]).
    pub fn missing(&self) -> Option<&'static str> {
        let dac = self.directory > 0
            && !effective(CapabilitySet::DAC_READ_SEARCH)
            && !effective(CapabilitySet::DAC_OVERRIDE);
        // Past the directory come the links, which need ptrace access.
        let ptrace = self.count() > 0 && !effective(CapabilitySet::SYS_PTRACE);
        match (dac, ptrace) {
            (true, true) => Some("CAP_DAC_READ_SEARCH and CAP_SYS_PTRACE"),
            (true, false) => Some("CAP_DAC_READ_SEARCH"),
            (false, true) => Some("CAP_SYS_PTRACE"),
            (false, false) => None,
        }
    }

    /// Why, with the remedy, for a look at `what` of other processes
    /// (`"/proc/PID/fd"`, `"/proc/PID/ns/net"`): "reading other users'
    /// processes' /proc/PID/fd needs CAP_DAC_READ_SEARCH and CAP_SYS_PTRACE;
    /// run as root", or that the kernel refused it to a caller that has
    /// them, naming the first process refused.
    pub fn reason(&self, what: &str) -> String {
        if let Some(missing) = self.missing() {
            let has_ptrace = missing == "CAP_DAC_READ_SEARCH";
            return format!(
                "reading other users' processes' {what} needs {missing}{}; run as root",
                if has_ptrace {
                    " as well as CAP_SYS_PTRACE, which this process has (the directory is \
                     its owner's alone)"
                } else {
                    ""
                }
            );
        }
        let process = match self.first {
            Some(pid) => {
                let comm = std::fs::read(format!("/proc/{pid}/comm")).unwrap_or_default();
                let comm = String::from_utf8_lossy(&comm).trim_end().to_string();
                let more = self.count().saturating_sub(1);
                let mut text = what.replacen("PID", &pid.to_string(), 1);
                if !comm.is_empty() {
                    text.push_str(&format!(" ({comm})"));
                }
                if more > 0 {
                    text.push_str(&format!(
                        " and the same of {more} other process{}",
                        if more == 1 { "" } else { "es" }
                    ));
                }
                text
            }
            None => what.to_string(),
        };
        let caps = if self.directory > 0 {
            "CAP_DAC_READ_SEARCH and CAP_SYS_PTRACE"
        } else {
            "CAP_SYS_PTRACE"
        };
        let beyond = if in_initial_user_namespace() {
            ""
        } else {
            ", or the process is outside this user namespace, where they do not reach"
        };
        format!(
            "the kernel refused {process} although this process has {caps}: a security \
             module (Landlock, SELinux, AppArmor or Yama) forbids it{beyond}; running as root \
             does not change that"
        )
    }
}

/// Open `path` for reading with the permissions of the user who ran the
/// program ([`open(2)`]), not those a copy with file capabilities carries.
///
/// A copy given `cap_dac_read_search` or `cap_dac_override` (setcap(8))
/// would otherwise read, for any user, a file that user may not read, and
/// a program that quotes what it read (an error naming a malformed line)
/// would show it. When the real user is not root, those two capabilities
/// are set aside from the calling thread's effective set for the open and
/// raised again after ([`capset(2)`]; they stay permitted). Root opens as
/// root.
///
/// [`open(2)`]: https://man7.org/linux/man-pages/man2/open.2.html
/// [`capset(2)`]: https://man7.org/linux/man-pages/man2/capset.2.html
pub fn open_as_user(path: &std::path::Path) -> std::io::Result<std::fs::File> {
    use rustix::thread::set_capabilities;
    let reading = CapabilitySet::DAC_READ_SEARCH.union(CapabilitySet::DAC_OVERRIDE);
    let before = match capabilities(None) {
        Ok(sets) if !rustix::process::getuid().is_root() && sets.effective.intersects(reading) => {
            let mut lowered = sets;
            lowered.effective.remove(reading);
            set_capabilities(None, lowered)?;
            Some(sets)
        }
        _ => None,
    };
    let file = std::fs::File::open(path);
    if let Some(sets) = before {
        set_capabilities(None, sets)?;
    }
    file
}
