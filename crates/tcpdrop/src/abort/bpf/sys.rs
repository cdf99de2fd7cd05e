//! The `bpf(2)` commands the loader uses, each a small wrapper that owns
//! what the kernel hands back ([`bpf(2)`], `include/uapi/linux/bpf.h`):
//! `BPF_MAP_CREATE`, `BPF_MAP_UPDATE_BATCH`, `BPF_PROG_LOAD`,
//! `BPF_LINK_CREATE`, `BPF_ITER_CREATE`, and `mmap` of an array map.
//!
//! Each attribute block is the part of `union bpf_attr` its command reads;
//! the kernel takes a shorter block as zeros beyond it.
//!
//! [`bpf(2)`]: https://man7.org/linux/man-pages/man2/bpf.2.html

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use rustix::io::Errno;

const BPF_MAP_CREATE: libc::c_int = 0;
const BPF_PROG_LOAD: libc::c_int = 5;
const BPF_MAP_UPDATE_BATCH: libc::c_int = 26;
const BPF_LINK_CREATE: libc::c_int = 28;
const BPF_ITER_CREATE: libc::c_int = 33;

/// `BPF_MAP_TYPE_HASH`
pub(crate) const MAP_HASH: u32 = 1;
/// `BPF_MAP_TYPE_ARRAY`
pub(crate) const MAP_ARRAY: u32 = 2;
/// `BPF_F_MMAPABLE`: an array map user space may `mmap`.
pub(crate) const F_MMAPABLE: u32 = 1 << 10;
/// `BPF_PROG_TYPE_TRACING`
const PROG_TRACING: u32 = 26;
/// `BPF_TRACE_ITER`
const TRACE_ITER: u32 = 28;

/// Run one `bpf(2)` command on `attr`; a new descriptor when it makes one.
///
/// # Safety
///
/// `attr` must be the attribute block `cmd` reads, and every pointer in it
/// valid for what `cmd` does with it, for the duration of the call.
unsafe fn bpf<T>(cmd: libc::c_int, attr: &mut T) -> Result<libc::c_long, Errno> {
    let size = std::mem::size_of::<T>() as libc::c_uint;
    // SAFETY: the caller vouches for `attr`; the kernel reads (and for some
    // commands writes) at most `size` bytes of it.
    let ret = unsafe { libc::syscall(libc::SYS_bpf, cmd, attr as *mut T, size) };
    if ret < 0 {
        Err(Errno::from_raw_os_error(
            std::io::Error::last_os_error().raw_os_error().unwrap_or(0),
        ))
    } else {
        Ok(ret)
    }
}

/// A descriptor a command returned, owned.
fn owned(ret: libc::c_long) -> Result<OwnedFd, Errno> {
    let fd = libc::c_int::try_from(ret).map_err(|_| Errno::BADF)?;
    // SAFETY: the kernel just returned this new descriptor to us alone.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

#[repr(C)]
#[derive(Default)]
struct MapCreate {
    map_type: u32,
    key_size: u32,
    value_size: u32,
    max_entries: u32,
    map_flags: u32,
    inner_map_fd: u32,
    numa_node: u32,
    map_name: [u8; 16],
}

/// A BPF map (`BPF_MAP_CREATE`).
#[derive(Debug)]
pub(crate) struct Map {
    fd: OwnedFd,
    value_size: u32,
    max_entries: u32,
}

impl Map {
    /// A new map of `map_type` with `max_entries` entries of `key_size`
    /// and `value_size` bytes, named `name` (shown by `bpftool map`).
    pub(crate) fn create(
        map_type: u32,
        key_size: u32,
        value_size: u32,
        max_entries: u32,
        flags: u32,
        name: &str,
    ) -> Result<Map, Errno> {
        let mut attr = MapCreate {
            map_type,
            key_size,
            value_size,
            max_entries,
            map_flags: flags,
            ..MapCreate::default()
        };
        copy_name(&mut attr.map_name, name);
        // SAFETY: a BPF_MAP_CREATE block with no pointers.
        let fd = owned(unsafe { bpf(BPF_MAP_CREATE, &mut attr) }?)?;
        Ok(Map {
            fd,
            value_size,
            max_entries,
        })
    }

    /// The map's descriptor, for a program's instructions.
    pub(crate) fn raw_fd(&self) -> i32 {
        self.fd.as_raw_fd()
    }

    /// Set `keys[i]` to `values[i]` for every `i`, in as few calls as the
    /// kernel allows (`BPF_MAP_UPDATE_BATCH`, Linux 5.6+).
    pub(crate) fn update_batch(&self, keys: &[u64], values: &[u32]) -> Result<(), Errno> {
        if keys.len() != values.len() || self.value_size != 4 {
            return Err(Errno::INVAL);
        }
        let mut done = 0;
        while done < keys.len() {
            let (Some(k), Some(v)) = (keys.get(done..), values.get(done..)) else {
                break;
            };
            let mut attr = Batch {
                keys: k.as_ptr() as u64,
                values: v.as_ptr() as u64,
                count: u32::try_from(k.len()).unwrap_or(u32::MAX),
                map_fd: self.fd.as_raw_fd() as u32,
                ..Batch::default()
            };
            // SAFETY: `keys` and `values` point at `count` keys and values
            // of the map's sizes (8 and 4 bytes), alive for the call; the
            // kernel writes back only `count`.
            let result = unsafe { bpf(BPF_MAP_UPDATE_BATCH, &mut attr) };
            // `count` says how many went in, also when it stopped early.
            let took = attr.count as usize;
            match result {
                Ok(_) => done += took,
                Err(Errno::INTR | Errno::AGAIN) if took > 0 => done += took,
                Err(Errno::INTR | Errno::AGAIN) => {}
                Err(err) => return Err(err),
            }
            if took == 0 && result.is_ok() {
                return Err(Errno::NOSPC);
            }
        }
        Ok(())
    }

    /// The values of an array map made with [`F_MMAPABLE`], mapped into
    /// our memory: the program's writes show there at once.
    pub(crate) fn mmap_u64s(&self) -> Result<Mapped, Errno> {
        if self.value_size != 8 {
            return Err(Errno::INVAL);
        }
        let len = (self.max_entries as usize).saturating_mul(8).max(1);
        // SAFETY: a new shared mapping of the map's values, which the kernel
        // sizes and page-aligns for BPF_F_MMAPABLE arrays; nothing else
        // aliases it in our address space.
        let addr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_SHARED,
                self.fd.as_raw_fd(),
                0,
            )
        };
        if addr == libc::MAP_FAILED {
            return Err(Errno::from_raw_os_error(
                std::io::Error::last_os_error().raw_os_error().unwrap_or(0),
            ));
        }
        Ok(Mapped {
            addr: addr.cast(),
            len: self.max_entries as usize,
        })
    }
}

/// An array map's values, mapped read-only into our memory.
#[derive(Debug)]
pub(crate) struct Mapped {
    addr: *mut u64,
    len: usize,
}

impl Mapped {
    /// Value `i`, as the program last wrote it.
    pub(crate) fn get(&self, i: usize) -> Option<u64> {
        if i >= self.len {
            return None;
        }
        // SAFETY: `i` is within the mapping, which stays mapped until drop;
        // the program writes whole aligned words, read once here.
        Some(unsafe { std::ptr::read_volatile(self.addr.add(i)) })
    }
}

impl Drop for Mapped {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `mmap_u64s`, of this length, unmapped
        // once.
        unsafe {
            libc::munmap(self.addr.cast(), self.len.saturating_mul(8).max(1));
        }
    }
}

// SAFETY: the mapping is plain shared memory; reads are volatile and
// nothing in user space writes to it.
unsafe impl Send for Mapped {}
// SAFETY: as above: shared read-only access is sound.
unsafe impl Sync for Mapped {}

#[repr(C)]
#[derive(Default)]
struct Batch {
    in_batch: u64,
    out_batch: u64,
    keys: u64,
    values: u64,
    count: u32,
    map_fd: u32,
    elem_flags: u64,
    flags: u64,
}

#[repr(C)]
#[derive(Default)]
struct ProgLoad {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
    prog_btf_fd: u32,
    func_info_rec_size: u32,
    func_info: u64,
    func_info_cnt: u32,
    line_info_rec_size: u32,
    line_info: u64,
    line_info_cnt: u32,
    attach_btf_id: u32,
    attach_btf_obj_fd: u32,
}

/// A loaded program.
#[derive(Debug)]
pub(crate) struct Prog {
    fd: OwnedFd,
}

/// Why a program did not load: the errno, and the verifier's log when
/// it said why.
#[derive(Debug)]
pub(crate) struct LoadError {
    pub(crate) errno: Errno,
    pub(crate) log: String,
}

impl Prog {
    /// Load `insns` as a `BPF_PROG_TYPE_TRACING` program attached to the
    /// iterator whose `bpf_iter_*` function has BTF id `attach_btf_id` in
    /// vmlinux. On failure it loads once more with the verifier's log on,
    /// to say why.
    pub(crate) fn load_iter(
        insns: &[super::asm::Insn],
        attach_btf_id: u32,
        name: &str,
    ) -> Result<Prog, LoadError> {
        // kfuncs are for GPL-compatible programs only; this program is ours
        // and may say so.
        const LICENSE: &[u8] = b"Dual MIT/GPL\0";
        let attempt = |log: Option<&mut Vec<u8>>| {
            let mut attr = ProgLoad {
                prog_type: PROG_TRACING,
                insn_cnt: u32::try_from(insns.len()).unwrap_or(u32::MAX),
                insns: insns.as_ptr() as u64,
                license: LICENSE.as_ptr() as u64,
                expected_attach_type: TRACE_ITER,
                attach_btf_id,
                ..ProgLoad::default()
            };
            copy_name(&mut attr.prog_name, name);
            if let Some(log) = log {
                attr.log_level = 1;
                attr.log_size = u32::try_from(log.len()).unwrap_or(u32::MAX);
                attr.log_buf = log.as_mut_ptr() as u64;
            }
            // SAFETY: `insns`, `LICENSE` and the log buffer outlive the call;
            // the kernel reads `insn_cnt` instructions and writes at most
            // `log_size` bytes of log.
            unsafe { bpf(BPF_PROG_LOAD, &mut attr) }
        };
        match attempt(None) {
            Ok(fd) => Ok(Prog {
                fd: owned(fd).map_err(|errno| LoadError {
                    errno,
                    log: String::new(),
                })?,
            }),
            Err(errno) if errno == Errno::PERM => Err(LoadError {
                errno,
                log: String::new(),
            }),
            Err(errno) => {
                let mut log = vec![0u8; 64 * 1024];
                let _ = attempt(Some(&mut log));
                let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
                log.truncate(end);
                Err(LoadError {
                    errno,
                    log: String::from_utf8_lossy(&log).into_owned(),
                })
            }
        }
    }
}

#[repr(C)]
#[derive(Default)]
struct LinkCreate {
    prog_fd: u32,
    target_fd: u32,
    attach_type: u32,
    flags: u32,
    iter_info: u64,
    iter_info_len: u32,
}

/// A program attached to its iterator (`BPF_LINK_CREATE`).
#[derive(Debug)]
pub(crate) struct Link {
    fd: OwnedFd,
}

impl Link {
    /// Attach an iterator program (`iter/tcp` takes no parameters).
    pub(crate) fn iter(prog: &Prog) -> Result<Link, Errno> {
        let mut attr = LinkCreate {
            prog_fd: prog.fd.as_raw_fd() as u32,
            attach_type: TRACE_ITER,
            ..LinkCreate::default()
        };
        // SAFETY: a BPF_LINK_CREATE block with no pointers.
        let fd = owned(unsafe { bpf(BPF_LINK_CREATE, &mut attr) }?)?;
        Ok(Link { fd })
    }

    /// A new walk of the link's iterator (`BPF_ITER_CREATE`). It walks the
    /// network namespace of the calling *thread*, fixed now: call this
    /// from a thread inside the namespace to walk.
    pub(crate) fn walk(&self) -> Result<Walk, Errno> {
        #[repr(C)]
        struct IterCreate {
            link_fd: u32,
            flags: u32,
        }
        let mut attr = IterCreate {
            link_fd: self.fd.as_raw_fd() as u32,
            flags: 0,
        };
        // SAFETY: a BPF_ITER_CREATE block with no pointers.
        let fd = owned(unsafe { bpf(BPF_ITER_CREATE, &mut attr) }?)?;
        Ok(Walk { fd })
    }
}

/// An iterator, made and not yet read.
#[derive(Debug)]
pub(crate) struct Walk {
    fd: OwnedFd,
}

impl Walk {
    /// Run the walk to its end: each `read` runs the program over the next
    /// sockets. The program writes nothing, so a read returns 0 at the end,
    /// or `EAGAIN` after a million sockets without output (the kernel's
    /// `MAX_ITER_OBJECTS`), when the next read goes on where it stopped.
    pub(crate) fn run(self) -> Result<(), Errno> {
        let mut buf = [0u8; 64];
        loop {
            match rustix::io::read(&self.fd, &mut buf) {
                Ok(0) => return Ok(()),
                Ok(_) | Err(Errno::AGAIN | Errno::INTR) => {}
                Err(err) => return Err(err),
            }
        }
    }
}

fn copy_name(dst: &mut [u8; 16], name: &str) {
    for (d, s) in dst.iter_mut().zip(name.bytes().take(15)) {
        *d = s;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_blocks_have_the_kernels_layout() {
        // include/uapi/linux/bpf.h: offsets of the fields read last.
        assert_eq!(std::mem::size_of::<MapCreate>(), 44);
        assert_eq!(std::mem::offset_of!(ProgLoad, prog_name), 48);
        assert_eq!(std::mem::offset_of!(ProgLoad, expected_attach_type), 68);
        assert_eq!(std::mem::offset_of!(ProgLoad, attach_btf_id), 108);
        assert_eq!(std::mem::offset_of!(Batch, count), 32);
        assert_eq!(std::mem::offset_of!(Batch, flags), 48);
        assert_eq!(std::mem::offset_of!(LinkCreate, iter_info), 16);
    }
}
