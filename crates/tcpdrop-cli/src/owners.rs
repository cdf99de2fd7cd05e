//! Choosing sockets by who owns them: `--pid`, `--process`, `--uid`.
//!
//! `--uid` reads the user the kernel records on each socket; `--pid` and
//! `--process` need the owning processes, which only a scan of
//! `/proc/*/fd` tells ([`tcpdrop::procs::SocketOwners`]), done once per
//! dump and only for the sockets the other options selected.

use tcpdrop::procs::Owner;
use tcpdrop::Connection;

/// Where user names are looked up.
const PASSWD: &str = "/etc/passwd";

/// The owner conditions given; each kind given must hold (any of its values).
#[derive(Debug, Default)]
pub struct OwnerFilter {
    pids: Vec<u32>,
    commands: Vec<String>,
    uids: Vec<u32>,
}

impl OwnerFilter {
    /// The conditions of `--pid`, `--process` and `--uid`; an unknown user
    /// name is an error (its message names the cause and the remedy).
    pub fn new(pids: &[u32], commands: &[String], users: &[String]) -> Result<OwnerFilter, String> {
        let passwd = if users.iter().any(|u| u.parse::<u32>().is_err()) {
            std::fs::read_to_string(PASSWD).map_err(|err| {
                format!("--uid: cannot read {PASSWD} to look up user names: {err} (give a number)")
            })?
        } else {
            String::new()
        };
        let uids = users
            .iter()
            .map(|user| {
                user.parse::<u32>()
                    .ok()
                    .or_else(|| uid_of(&passwd, user))
                    .ok_or_else(|| {
                        format!(
                            "--uid: unknown user '{user}': give a name from {PASSWD} or a number"
                        )
                    })
            })
            .collect::<Result<_, _>>()?;
        if let Some(empty) = commands.iter().find(|c| c.is_empty()) {
            return Err(format!(
                "--process '{empty}': give a command name, or a pattern such as 'nginx*'"
            ));
        }
        Ok(OwnerFilter {
            pids: pids.to_vec(),
            commands: commands.to_vec(),
            uids,
        })
    }

    /// Whether the owning processes are needed (`--pid` or `--process`).
    pub fn needs_processes(&self) -> bool {
        !self.pids.is_empty() || !self.commands.is_empty()
    }

    /// Whether any owner condition was given.
    pub fn is_active(&self) -> bool {
        self.needs_processes() || !self.uids.is_empty()
    }

    /// Whether `conn`, owned by `owners`, meets every condition given.
    ///
    /// A socket with inode 0 (TIME-WAIT, SYN-RECV) belongs to no process and
    /// carries no real user (the kernel shows 0): it never meets one.
    pub fn admits(&self, conn: &Connection, owners: &[Owner]) -> bool {
        if !self.is_active() {
            return true;
        }
        if conn.inode == 0 {
            return false;
        }
        (self.uids.is_empty() || self.uids.contains(&conn.uid))
            && (self.pids.is_empty() || owners.iter().any(|o| self.pids.contains(&o.pid)))
            && (self.commands.is_empty()
                || owners
                    .iter()
                    .any(|o| self.commands.iter().any(|c| glob(c, &o.command))))
    }
}

/// The uid of `user` in the text of an `/etc/passwd`
/// (`name:password:UID:GID:...`), `None` if it is not there.
fn uid_of(passwd: &str, user: &str) -> Option<u32> {
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        let uid = fields.nth(1)?;
        (name == user).then(|| uid.parse().ok()).flatten()
    })
}

/// Whether `text` matches `pattern`, where `*` stands for any characters
/// (none included) and `?` for one; everything else stands for itself. A
/// pattern without `*` or `?` is an exact name.
pub fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0usize, 0usize);
    // Where the last `*` was, and the text position it is trying to cover up to.
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(&c) if c == '?' || Some(&c) == t.get(ti) => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                // Let the last `*` take one more character and retry.
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p.get(pi..)
        .is_some_and(|rest| rest.iter().all(|&c| c == '*'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_matches_names_and_patterns() {
        for (pattern, text, want) in [
            ("nginx", "nginx", true),
            ("nginx", "nginx2", false),
            ("nginx", "ngin", false),
            ("nginx*", "nginx", true),
            ("nginx*", "nginx: worker", true),
            ("*nx", "nginx", true),
            ("*nx", "nginxx", false),
            ("ng?nx", "nginx", true),
            ("ng?nx", "ngnx", false),
            ("*", "", true),
            ("", "", true),
            ("", "a", false),
            ("a*b*c", "aXbYc", true),
            ("a*b*c", "aXbY", false),
            ("*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaac", false),
            ("php-fpm*", "php-fpm8.2", true),
            ("python?", "python3", true),
        ] {
            assert_eq!(glob(pattern, text), want, "{pattern:?} vs {text:?}");
        }
    }

    #[test]
    fn user_names_are_read_from_passwd_text() {
        let passwd = "root:x:0:0:root:/root:/bin/bash\n\
                      # a comment\n\
                      www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\n\
                      nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n\
                      broken\n";
        assert_eq!(uid_of(passwd, "root"), Some(0));
        assert_eq!(uid_of(passwd, "www-data"), Some(33));
        assert_eq!(uid_of(passwd, "nobody"), Some(65534));
        assert_eq!(uid_of(passwd, "www"), None);
        assert_eq!(uid_of(passwd, "broken"), None);
        assert_eq!(uid_of(passwd, "x"), None);
    }

    #[test]
    fn unknown_users_and_empty_names_are_refused() {
        let err = OwnerFilter::new(&[], &[], &["no-such-user-tcpdrop".into()]).unwrap_err();
        assert!(err.contains("unknown user 'no-such-user-tcpdrop'"), "{err}");
        assert!(OwnerFilter::new(&[], &[], &["root".into()]).is_ok());
        assert!(OwnerFilter::new(&[], &[], &["1000".into()]).is_ok());
        assert!(OwnerFilter::new(&[], &[String::new()], &[]).is_err());
    }
}
