//! Choosing sockets by who owns them: `--pid`, `--process`, `--uid`.
//!
//! `--uid` reads the user the kernel records on each socket; `--pid` and
//! `--process` need the owning processes, which only a scan of
//! `/proc/*/fd` tells ([`tcpdrop::procs::SocketOwners`]), done once per
//! dump and only for the sockets the other options selected.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;

use tcpdrop::procs::{Owner, SocketOwners};
use tcpdrop::Connection;

/// Where user names are looked up.
const PASSWD: &str = "/etc/passwd";

/// The owner conditions given; each kind given must hold (any of its values).
#[derive(Debug, Default)]
pub struct OwnerFilter {
    pids: Vec<u32>,
    /// `--process` patterns, as the bytes given (a name need not be UTF-8).
    commands: Vec<Vec<u8>>,
    uids: Vec<u32>,
}

impl OwnerFilter {
    /// The conditions of `--pid`, `--process` and `--uid`; an unknown user
    /// name is an error (its message names the cause and the remedy).
    pub fn new(
        pids: &[u32],
        commands: &[OsString],
        users: &[String],
    ) -> Result<OwnerFilter, String> {
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
        if commands.iter().any(|c| c.is_empty()) {
            return Err(
                "--process '': give a command name, or a pattern such as 'nginx*'".to_string(),
            );
        }
        Ok(OwnerFilter {
            pids: pids.to_vec(),
            commands: commands.iter().map(|c| c.as_bytes().to_vec()).collect(),
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

    /// Whether `conn` was left out only because its owners could not be
    /// read (`--pid`/`--process` given, another user's process, without
    /// `CAP_DAC_READ_SEARCH` and `CAP_SYS_PTRACE`): it meets every condition
    /// that needs no process.
    pub fn undecided(&self, conn: &Connection, owners: &SocketOwners) -> bool {
        self.needs_processes()
            && owners.is_unknown(conn.inode)
            && (self.uids.is_empty() || self.uids.contains(&conn.uid))
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
///
/// Both are bytes, as the kernel keeps process names: a character is a
/// UTF-8 sequence, or a single byte where the bytes are not UTF-8, so
/// `nginx*` matches `nginx\xff` and `?` stands for one `é` or one `\xff`.
pub fn glob(pattern: &[u8], text: &[u8]) -> bool {
    let p = units(pattern);
    let t = units(text);
    let (mut pi, mut ti) = (0usize, 0usize);
    // Where the last `*` was, and the text position it is trying to cover up to.
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi).copied() {
            Some(b"*") => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(c) if c == b"?" || Some(&c) == t.get(ti) => {
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
        .is_some_and(|rest| rest.iter().all(|&c| c == b"*"))
}

/// `bytes` cut into characters: UTF-8 sequences, and single bytes where
/// the bytes are not UTF-8.
fn units(bytes: &[u8]) -> Vec<&[u8]> {
    let mut units = Vec::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        let valid = chunk.valid();
        units.extend(
            valid
                .char_indices()
                .filter_map(|(at, c)| valid.as_bytes().get(at..at + c.len_utf8())),
        );
        units.extend(chunk.invalid().chunks(1));
    }
    units
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
            assert_eq!(
                glob(pattern.as_bytes(), text.as_bytes()),
                want,
                "{pattern:?} vs {text:?}"
            );
        }
    }

    #[test]
    fn glob_matches_names_that_are_not_utf8_on_their_bytes() {
        for (pattern, text, want) in [
            (&b"nginx*"[..], &b"nginx\xff"[..], true),
            (b"nginx?", b"nginx\xff", true),
            (b"nginx?", b"nginx\xff\xfe", false),
            (b"nginx??", b"nginx\xff\xfe", true),
            (b"nginx\xff", b"nginx\xff", true),
            (b"nginx\xff", b"nginx\xfe", false),
            (b"*\x1b*", b"a\x1b[31mb", true),
            (b"caf?", "café".as_bytes(), true),
            (b"caf??", "café".as_bytes(), false),
            (b"?", b"\xc3", true),
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
        assert!(OwnerFilter::new(&[], &[OsString::new()], &[]).is_err());
    }
}
