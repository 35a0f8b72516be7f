//! Stage 8, protect: the page protections of a linked unit, for a load, a
//! reload and a unit mapped from the cache.

use crate::arch;
use crate::error::Result;
use crate::link::relocate::Tail;
use crate::load::memory::{Protection, Reservation};

/// Stage 8, protect: text RX, read-only R, data RW, GOT R, trampolines RX
/// (`rodata` and the text's end are page-aligned offsets), the code first
/// made visible to instruction fetch ([`arch::flush_icache`]); the part of
/// the reservation the plan did not need is released.
pub(super) fn protect(
    mem: Reservation,
    tail: Tail,
    size: u64,
    text_end: u64,
    rodata: (u64, u64),
) -> Result<Reservation> {
    arch::flush_icache(mem.base(), text_end);
    arch::flush_icache(mem.base() + tail.trampolines, size - tail.trampolines);
    mem.protect(0, text_end, Protection::RX)?;
    mem.protect(rodata.0, rodata.1 - rodata.0, Protection::R)?;
    mem.protect(tail.got, tail.trampolines - tail.got, Protection::R)?;
    mem.protect(tail.trampolines, size - tail.trampolines, Protection::RX)?;
    Ok(mem.truncate(size))
}
