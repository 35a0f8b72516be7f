//! Stage 4, map: one contiguous reservation per unit, behind a small
//! provider trait, [`Memory`].
//!
//! A reservation is made read-write, filled and relocated, then
//! [`Memory::finalise`] makes its code visible to instruction fetch and
//! gives each segment its final protection. No page is ever writable and
//! executable at once. Dropping the reservation releases it.
//!
//! The stages reach memory through [`Reservation`], the provider the build
//! uses (an anonymous `mmap`, [`MmapReservation`]), statically: every call
//! is monomorphic, as [`crate::arch::Native`]'s are. A second provider (a
//! dual-mapped memfd, for patching code under W^X; a fixed arena) would
//! implement [`Memory`] beside it and be chosen by that alias.

use std::fmt::Debug;
use std::io;

use crate::arch;
use crate::error::{Error, Result};

/// The page size: the granule of protection and of placement.
pub(crate) const PAGE: u64 = 4096;

/// `v` rounded up to a multiple of `a` (a power of two; the caller keeps
/// `v + a` within range).
pub(crate) fn align_up(v: u64, a: u64) -> u64 {
    (v + a - 1) & !(a - 1)
}

/// Memory protections objdl uses. None is both writable and executable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protection {
    /// Read-only: read-only data, the GOT.
    R,
    /// Read-write, never executable: data, bss, and every page while the
    /// unit is written.
    RW,
    /// Read and execute, never writable: text, trampolines, stubs.
    RX,
}

/// A range of a reservation and the protection it ends with: (offset,
/// length, protection), the offset page-aligned (see [`Memory::finalise`]).
pub(crate) type Segment = (u64, u64, Protection);

/// The reservation of the memory provider the build uses: every stage
/// that maps a unit, a lazy area or a chunk of entries names this type
/// and calls it through [`Memory`].
pub(crate) type Reservation = MmapReservation;

/// A memory provider's reservation: contiguous pages owned by one unit (or
/// one lazy area, one chunk of entries), at an address fixed for its life.
/// Implemented by [`MmapReservation`]; reached through [`Reservation`].
///
/// Every page is read-write when reserved; [`Memory::protect`] and
/// [`Memory::finalise`] change that, and none of them makes a page both
/// writable and executable. Dropping a reservation releases all of it;
/// [`Memory::truncate`] releases its tail.
pub(crate) trait Memory: Sized + Send + Sync + Debug {
    /// Reserves `len` bytes (a multiple of [`PAGE`]) read-write, at exactly
    /// `at` (never replacing anything already there: an error of kind
    /// `EEXIST` when the range is taken, which placement retries), or
    /// wherever the provider likes when `at` is `None`.
    fn reserve(at: Option<u64>, len: u64) -> Result<Self>;

    /// The address of the first byte.
    fn base(&self) -> u64;

    /// The length in bytes.
    fn len(&self) -> u64;

    /// The whole reservation, for reading. Every page is readable.
    fn bytes(&self) -> &[u8];

    /// The whole reservation, for writing.
    ///
    /// # Safety
    /// The caller must not have made any part of it read-only or executable
    /// yet (or must have made it read-write again).
    unsafe fn bytes_mut(&mut self) -> &mut [u8];

    /// Gives `[offset, offset + len)` (page-aligned, inside the
    /// reservation) the protection `prot`; nothing for an empty range.
    fn protect(&self, offset: u64, len: u64, prot: Protection) -> Result<()>;

    /// The final step before any code in the reservation runs: makes the
    /// code in every [`Protection::RX`] segment visible to instruction
    /// fetch ([`arch::flush_icache`]), then gives each segment its
    /// protection, in order.
    fn finalise(&self, segments: &[Segment]) -> Result<()> {
        for &(offset, len, prot) in segments {
            if prot == Protection::RX {
                arch::flush_icache(self.base() + offset, len);
            }
        }
        for &(offset, len, prot) in segments {
            self.protect(offset, len, prot)?;
        }
        Ok(())
    }

    /// Replaces `len` bytes at `offset` (both page-aligned, inside the
    /// reservation) with a private, read-write copy of the file's bytes at
    /// `file_offset`. With `populate`, every page is copied now, so the
    /// unit never depends on the file again and takes no page faults
    /// there; without, pages stay shared with the page cache until written
    /// (a cached unit's text).
    fn map_file(
        &self,
        offset: u64,
        len: u64,
        fd: std::os::fd::BorrowedFd<'_>,
        file: (u64, bool),
    ) -> Result<()>;

    /// Releases everything past `len` (page-aligned) and keeps the rest.
    fn truncate(self, len: u64) -> Self;
}

impl Protection {
    /// The `mmap`/`mprotect` bits.
    fn bits(self) -> libc::c_int {
        match self {
            Protection::R => libc::PROT_READ,
            Protection::RW => libc::PROT_READ | libc::PROT_WRITE,
            Protection::RX => libc::PROT_READ | libc::PROT_EXEC,
        }
    }
}

/// An anonymous private mapping owned by one unit: the provider objdl
/// uses on Linux. `mmap` reserves (`MAP_FIXED_NOREPLACE` at an exact
/// address), `mprotect` protects, `munmap` releases.
#[derive(Debug)]
pub(crate) struct MmapReservation {
    base: *mut u8,
    len: usize,
}

// SAFETY: the reservation is plain memory; access to its contents is
// synchronised by the unit that owns it (written only before it is shared).
unsafe impl Send for MmapReservation {}
// SAFETY: as above; `&MmapReservation` only exposes the address, the length
// and reads of memory no one writes once it is shared.
unsafe impl Sync for MmapReservation {}

impl Memory for MmapReservation {
    /// Maps `len` bytes read-write at exactly `addr` (never replacing an
    /// existing mapping), or wherever the kernel likes when `addr` is `None`.
    fn reserve(addr: Option<u64>, len: u64) -> Result<MmapReservation> {
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
        let r = MmapReservation {
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

    fn base(&self) -> u64 {
        self.base as u64
    }

    fn len(&self) -> u64 {
        self.len as u64
    }

    /// Replaces `len` bytes at `offset` (both page-aligned, inside the
    /// reservation) with a private, read-write copy of the file's bytes at
    /// `file_offset`. With `populate`, `MAP_POPULATE` on a private writable
    /// mapping makes the kernel copy every page now (it breaks
    /// copy-on-write), so the unit never depends on the file again and
    /// takes no page faults there; without, pages stay shared with the
    /// page cache until written (a cached unit's text).
    fn map_file(
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
    unsafe fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: the mapping is `len` bytes, read-write (caller's promise),
        // and exclusively borrowed through `&mut self`.
        unsafe { std::slice::from_raw_parts_mut(self.base, self.len) }
    }

    /// The whole reservation, for reading. Only valid while it is readable.
    fn bytes(&self) -> &[u8] {
        // SAFETY: the mapping is `len` bytes and every page of it is
        // readable (objdl never uses PROT_NONE).
        unsafe { std::slice::from_raw_parts(self.base, self.len) }
    }

    /// Gives `[offset, offset + len)` the protection `prot`.
    fn protect(&self, offset: u64, len: u64, prot: Protection) -> Result<()> {
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

    /// Unmaps everything past `len` (page-aligned) and keeps the rest.
    fn truncate(mut self, len: u64) -> MmapReservation {
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

impl Drop for MmapReservation {
    fn drop(&mut self) {
        // SAFETY: the mapping was created by `reserve` and is unmapped once.
        unsafe {
            libc::munmap(self.base.cast(), self.len);
        }
    }
}
