//! Stage 8, protect: the page protections of a linked unit, for a load, a
//! reload and a unit mapped from the cache.

use crate::error::Result;
use crate::link::relocate::Tail;
use crate::load::memory::{Memory, Protection, Reservation};

/// Stage 8, protect: text RX, read-only R, data RW, GOT R, trampolines RX
/// (`rodata` and the text's end are page-aligned offsets), the code first
/// made visible to instruction fetch ([`Memory::finalise`]); the part of
/// the reservation the plan did not need is released.
pub(super) fn protect(
    mem: Reservation,
    tail: Tail,
    size: u64,
    text_end: u64,
    rodata: (u64, u64),
) -> Result<Reservation> {
    mem.finalise(&[
        (0, text_end, Protection::RX),
        (rodata.0, rodata.1 - rodata.0, Protection::R),
        (tail.got, tail.trampolines - tail.got, Protection::R),
        (tail.trampolines, size - tail.trampolines, Protection::RX),
    ])?;
    Ok(mem.truncate(size))
}
