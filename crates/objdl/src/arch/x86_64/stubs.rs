//! The code objdl writes into a unit: trampolines, IFUNC stubs and the
//! unit's own `atexit`-style functions.

use crate::arch::contract::HandleArg;

/// A trampoline: `jmp *0(%rip)` then the 8-byte target. Clobbers nothing.
pub(super) const TRAMPOLINE_SIZE: usize = 14;

/// Writes a trampoline to `target` into `buf`.
pub(super) fn write_trampoline(buf: &mut [u8], target: u64) {
    buf[..6].copy_from_slice(&[0xff, 0x25, 0, 0, 0, 0]);
    buf[6..14].copy_from_slice(&target.to_le_bytes());
}

/// Size of an IFUNC stub, `jmp *slot(%rip)` padded to 8 bytes.
pub(super) const IFUNC_STUB_SIZE: usize = 8;

/// Writes `jmp *slot(%rip)` (6 bytes, then 2 bytes of int3) at `here`.
/// Both lie in one unit, so the displacement fits.
pub(super) fn write_ifunc_stub(buf: &mut [u8], here: u64, slot: u64) {
    let rel = (slot.wrapping_sub(here + 6) as i32).to_le_bytes();
    buf[..2].copy_from_slice(&[0xff, 0x25]);
    buf[2..6].copy_from_slice(&rel);
    buf[6..8].copy_from_slice(&[0xcc, 0xcc]);
}

/// Size of one GOT slot.
pub(super) const GOT_SLOT_SIZE: usize = 8;

/// Size of a per-unit handle stub (see [`write_handle_stub`]).
pub(super) const ATEXIT_STUB_SIZE: usize = 16;

/// Writes a unit's own `atexit`-style function: it adds the unit's
/// `__dso_handle` as an argument and tail-calls libc, as the functions in
/// libc_nonshared.a do for a linked module. For `atexit`:
///
/// ```text
/// lea  dso_handle(%rip), %rdx   48 8d 15 rel32
/// xor  %esi, %esi               31 f6
/// jmp  *slot(%rip)              ff 25 rel32
/// ```
/// `here` is the stub's address; `slot` holds libc's function. Both targets
/// are inside the unit, so the displacements fit.
pub(super) fn write_handle_stub(
    buf: &mut [u8],
    here: u64,
    dso_handle: u64,
    slot: u64,
    arg: HandleArg,
) {
    buf[..ATEXIT_STUB_SIZE].fill(0xcc);
    let modrm = match arg {
        HandleArg::Second => 0x35,
        HandleArg::Third { .. } => 0x15,
        HandleArg::Fourth => 0x0d,
    };
    let rel = |field_end: u64, target: u64| (target.wrapping_sub(field_end) as i32).to_le_bytes();
    buf[0..3].copy_from_slice(&[0x48, 0x8d, modrm]);
    buf[3..7].copy_from_slice(&rel(here + 7, dso_handle));
    let mut at = 7;
    if arg == (HandleArg::Third { zero_second: true }) {
        buf[7..9].copy_from_slice(&[0x31, 0xf6]);
        at = 9;
    }
    buf[at..at + 2].copy_from_slice(&[0xff, 0x25]);
    buf[at + 2..at + 6].copy_from_slice(&rel(here + at as u64 + 6, slot));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trampoline_bytes() {
        let mut t = [0u8; TRAMPOLINE_SIZE];
        write_trampoline(&mut t, 0x1122_3344_5566_7788);
        assert_eq!(
            &t,
            &[0xff, 0x25, 0, 0, 0, 0, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11]
        );
    }
}
