//! Stage 4, map: one contiguous anonymous reservation per unit.
//!
//! It is mapped read-write, filled and relocated, then [`Reservation::protect`]
//! gives each segment its final protection. No page is ever writable and
//! executable at once. Dropping the reservation unmaps it.

use std::io;

use crate::error::{Error, Result};

/// The page size: the granule of protection and of placement.
pub(crate) const PAGE: u64 = 4096;

/// `v` rounded up to a multiple of `a` (a power of two; the caller keeps
/// `v + a` within range).
pub(crate) fn align_up(v: u64, a: u64) -> u64 {
    (v + a - 1) & !(a - 1)
}

/// Memory protections objdl uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protection {
    R,
    RW,
    RX,
}

impl Protection {
    fn bits(self) -> libc::c_int {
        match self {
            Protection::R => libc::PROT_READ,
            Protection::RW => libc::PROT_READ | libc::PROT_WRITE,
            Protection::RX => libc::PROT_READ | libc::PROT_EXEC,
        }
    }
}

/// An anonymous mapping owned by one unit.
#[derive(Debug)]
pub(crate) struct Reservation {
    base: *mut u8,
    len: usize,
}

// SAFETY: the reservation is plain memory; access to its contents is
// synchronised by the unit that owns it (written only before it is shared).
unsafe impl Send for Reservation {}
// SAFETY: as above; `&Reservation` only exposes the address and length.
unsafe impl Sync for Reservation {}

impl Reservation {
    /// Maps `len` bytes read-write at exactly `addr` (never replacing an
    /// existing mapping), or wherever the kernel likes when `addr` is `None`.
    pub fn map(addr: Option<u64>, len: u64) -> Result<Reservation> {
        let hint = addr.unwrap_or(0) as *mut libc::c_void;
        let flags = libc::MAP_PRIVATE
            | libc::MAP_ANONYMOUS
            | if addr.is_some() {
                libc::MAP_FIXED_NOREPLACE
            } else {
                0
            };
        // SAFETY: an anonymous mapping; MAP_FIXED_NOREPLACE never replaces an
        // existing mapping, so no memory of the process is touched.
        let p = unsafe { libc::mmap(hint, len as usize, Protection::RW.bits(), flags, -1, 0) };
        if p == libc::MAP_FAILED {
            return Err(Error::Memory {
                op: "mmap",
                addr: addr.unwrap_or(0),
                len,
                source: io::Error::last_os_error(),
            });
        }
        let r = Reservation {
            base: p.cast(),
            len: len as usize,
        };
        if let Some(a) = addr {
            if p as u64 != a {
                // A kernel without MAP_FIXED_NOREPLACE treats it as a hint.
                return Err(Error::Memory {
                    op: "mmap",
                    addr: a,
                    len,
                    source: io::Error::from_raw_os_error(libc::EEXIST),
                });
            }
        }
        Ok(r)
    }

    pub fn base(&self) -> u64 {
        self.base as u64
    }

    /// The reservation's length in bytes.
    pub fn len(&self) -> u64 {
        self.len as u64
    }

    /// Replaces `len` bytes at `offset` (both page-aligned, inside the
    /// reservation) with a private, read-write copy of the file's bytes at
    /// `file_offset`. With `populate`, `MAP_POPULATE` on a private writable
    /// mapping makes the kernel copy every page now (it breaks
    /// copy-on-write), so the unit never depends on the file again and
    /// takes no page faults there; without, pages stay shared with the
    /// page cache until written (a cached unit's text).
    pub fn map_file(
        &self,
        offset: u64,
        len: u64,
        fd: std::os::fd::BorrowedFd<'_>,
        (file_offset, populate): (u64, bool),
    ) -> Result<()> {
        use std::os::fd::AsRawFd;
        assert!(
            offset % 4096 == 0 && len % 4096 == 0 && offset + len <= self.len as u64,
            "map_file outside the reservation"
        );
        let file_offset = libc::off_t::try_from(file_offset).map_err(|_| Error::Memory {
            op: "mmap",
            addr: self.base() + offset,
            len,
            source: io::Error::from(io::ErrorKind::InvalidInput),
        })?;
        // SAFETY: the range lies inside this reservation (asserted), which
        // only this unit uses and nothing refers into yet; MAP_FIXED
        // replaces those pages and nothing else.
        let p = unsafe {
            libc::mmap(
                self.base.add(offset as usize).cast(),
                len as usize,
                Protection::RW.bits(),
                libc::MAP_PRIVATE | libc::MAP_FIXED | if populate { libc::MAP_POPULATE } else { 0 },
                fd.as_raw_fd(),
                file_offset,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(Error::Memory {
                op: "mmap",
                addr: self.base() + offset,
                len,
                source: io::Error::last_os_error(),
            });
        }
        Ok(())
    }

    /// The whole reservation, for writing. Only valid while it is read-write.
    ///
    /// # Safety
    /// The caller must not have made any part of it read-only or executable yet.
    pub unsafe fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: the mapping is `len` bytes, read-write (caller's promise),
        // and exclusively borrowed through `&mut self`.
        unsafe { std::slice::from_raw_parts_mut(self.base, self.len) }
    }

    /// The whole reservation, for reading. Only valid while it is readable.
    pub fn bytes(&self) -> &[u8] {
        // SAFETY: the mapping is `len` bytes and every page of it is
        // readable (objdl never uses PROT_NONE).
        unsafe { std::slice::from_raw_parts(self.base, self.len) }
    }

    /// Gives `[offset, offset + len)` the protection `prot`.
    pub fn protect(&self, offset: u64, len: u64, prot: Protection) -> Result<()> {
        if len == 0 {
            return Ok(());
        }
        debug_assert!(offset % 4096 == 0 && offset + len <= self.len as u64);
        // SAFETY: the range lies inside this reservation, which this unit owns.
        let rc = unsafe {
            libc::mprotect(
                self.base.add(offset as usize).cast(),
                len as usize,
                prot.bits(),
            )
        };
        if rc != 0 {
            return Err(Error::Memory {
                op: "mprotect",
                addr: self.base() + offset,
                len,
                source: io::Error::last_os_error(),
            });
        }
        Ok(())
    }
}

impl Reservation {
    /// Unmaps everything past `len` (page-aligned) and keeps the rest.
    pub fn truncate(mut self, len: u64) -> Reservation {
        if len < self.len as u64 {
            // SAFETY: the range [len, self.len) lies inside this reservation
            // and nothing refers to it.
            unsafe {
                libc::munmap(self.base.add(len as usize).cast(), self.len - len as usize);
            }
            self.len = len as usize;
        }
        self
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        // SAFETY: the mapping was created by `map` and is unmapped once.
        unsafe {
            libc::munmap(self.base.cast(), self.len);
        }
    }
}
