//! The x86-64 instruction around a relocated field: what kind of
//! instruction owns it, and the rewrites objdl may make.

use object::elf;

use crate::arch::contract::SiteKind;

/// Is `modrm` a RIP-relative operand (mod 00, r/m 101)?
#[inline]
fn rip_relative(modrm: u8) -> bool {
    modrm & 0xc7 == 0x05
}

/// Classifies the instruction owning the 32-bit field at `off` in `bytes`.
pub(super) fn site_kind(bytes: &[u8], off: usize) -> SiteKind {
    if off >= 1 && matches!(bytes[off - 1], 0xe8 | 0xe9) {
        // A RIP-relative modrm is never E8/E9, so this is the opcode.
        return SiteKind::Branch;
    }
    if off >= 2 && bytes[off - 2] == 0x0f && (0x80..=0x8f).contains(&bytes[off - 1]) {
        return SiteKind::Branch;
    }
    if off >= 2 && bytes[off - 2] == 0x8d && rip_relative(bytes[off - 1]) {
        return SiteKind::Address;
    }
    SiteKind::Other
}

/// Does the instruction owning the RIP-relative field at `off` only read
/// memory (a load, compare, test or arithmetic into a register)? Only such
/// sites may be served from a read-only copy of a host variable.
pub(super) fn reads_only(bytes: &[u8], off: usize) -> bool {
    if off < 2 || !rip_relative(bytes[off - 1]) {
        return false;
    }
    let op = bytes[off - 2];
    let reg = (bytes[off - 1] >> 3) & 7;
    match op {
        // mov, cmp (both ways), test, add, or, adc, sbb, and, sub, xor into a register.
        0x8b | 0x8a | 0x3b | 0x3a | 0x39 | 0x38 | 0x85 | 0x84 | 0x03 | 0x02 | 0x0b | 0x0a
        | 0x13 | 0x12 | 0x1b | 0x1a | 0x23 | 0x22 | 0x2b | 0x2a | 0x33 | 0x32 => true,
        // cmp $imm, mem (/7); push mem, call/jmp *mem (ff /6, /2, /4).
        0x80 | 0x81 | 0x83 => reg == 7,
        0xff => matches!(reg, 2 | 4 | 6),
        // Two-byte opcodes that only read their memory operand: cmovcc,
        // imul, movzx/movsx, and SSE loads, compares and arithmetic.
        0x40..=0x4f
        | 0xaf
        | 0xb6
        | 0xb7
        | 0xbe
        | 0xbf
        | 0x10
        | 0x28
        | 0x2e
        | 0x2f
        | 0x51..=0x5f
        | 0x6f => off >= 3 && bytes[off - 3] == 0x0f,
        _ => false,
    }
}

/// A GOTPCRELX instruction that can drop its GOT load when the target is in reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Relax {
    /// `mov foo@GOTPCREL(%rip), %reg` → `lea foo(%rip), %reg`.
    MovToLea,
    /// `call *foo@GOTPCREL(%rip)` → `addr32 call foo`.
    Call,
    /// `jmp *foo@GOTPCREL(%rip)` → `jmp foo; nop`.
    Jmp,
}

/// Which relaxation applies to the GOTPCRELX field at `off` with `addend`,
/// if any. Only addend -4 loads the whole slot (the field ends the
/// instruction): `movl foo@GOTPCREL+4(%rip), %eax` (addend 0) loads the
/// slot's high half and must stay a load, as GNU ld and lld keep it.
pub(super) fn relaxation(bytes: &[u8], off: usize, addend: i64) -> Option<Relax> {
    if off < 2 || addend != -4 {
        return None;
    }
    match (bytes[off - 2], bytes[off - 1]) {
        (0x8b, m) if rip_relative(m) => Some(Relax::MovToLea),
        (0xff, 0x15) => Some(Relax::Call),
        (0xff, 0x25) => Some(Relax::Jmp),
        _ => None,
    }
}

/// The value of a relaxed GOTPCRELX field: S + A − P, and one more for
/// `jmp`, whose field moves one byte back (see [`apply_relax`]).
#[inline]
pub(super) fn relaxed_value(relax: Relax, s_plus_a_minus_p: i128) -> i128 {
    match relax {
        Relax::Jmp => s_plus_a_minus_p + 1,
        _ => s_plus_a_minus_p,
    }
}

/// Rewrites the instruction for `relax` and returns the new field offset
/// relative to `off` and the value to add to S + A − P for it.
pub(super) fn apply_relax(bytes: &mut [u8], off: usize, relax: Relax) -> (isize, i128) {
    match relax {
        Relax::MovToLea => {
            bytes[off - 2] = 0x8d;
            (0, 0)
        }
        Relax::Call => {
            bytes[off - 2] = 0x67; // addr32 prefix keeps the length
            bytes[off - 1] = 0xe8;
            (0, 0)
        }
        Relax::Jmp => {
            bytes[off - 2] = 0xe9;
            bytes[off - 1] = 0; // overwritten by the field below
            bytes[off + 3] = 0x90;
            // The field moves one byte back and ends one byte earlier.
            (-1, 1)
        }
    }
}

/// Turns `lea disp(%rip), %reg` into `mov disp(%rip), %reg` (same length).
pub(super) fn lea_to_mov(bytes: &mut [u8], off: usize) {
    bytes[off - 2] = 0x8b;
}

/// Whether the relocation of type `r_type` and `addend` at the 32-bit
/// field `off` of `bytes` is only a call or jump to its symbol, which may
/// go through a lazy entry: `call`/`jmp`/`jcc` rel32 (PC32, PLT32), or
/// `call`/`jmp *foo@GOTPCREL(%rip)`. Anything else takes the address
/// (or reads the memory) and must be bound now. An out-of-bounds field
/// is `None`: the relocation pass reports it.
pub(super) fn call_only(
    r_type: elf::RelocationType,
    addend: i64,
    bytes: &[u8],
    off: u64,
) -> Option<bool> {
    let off = usize::try_from(off).ok()?;
    if off.checked_add(4)? > bytes.len() {
        return None;
    }
    if addend != -4 {
        return Some(false);
    }
    Some(match r_type {
        elf::R_X86_64_PC32 | elf::R_X86_64_PLT32 => site_kind(bytes, off) == SiteKind::Branch,
        elf::R_X86_64_GOTPCREL | elf::R_X86_64_GOTPCRELX | elf::R_X86_64_REX_GOTPCRELX => {
            off >= 2 && bytes[off - 2] == 0xff && matches!(bytes[off - 1], 0x15 | 0x25)
        }
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn site_kinds() {
        assert_eq!(site_kind(&[0xe8, 0, 0, 0, 0], 1), SiteKind::Branch);
        assert_eq!(site_kind(&[0xe9, 0, 0, 0, 0], 1), SiteKind::Branch);
        assert_eq!(site_kind(&[0x0f, 0x84, 0, 0, 0, 0], 2), SiteKind::Branch);
        assert_eq!(
            site_kind(&[0x48, 0x8d, 0x05, 0, 0, 0, 0], 3),
            SiteKind::Address
        );
        // mov stdin(%rip), %rax
        assert_eq!(
            site_kind(&[0x48, 0x8b, 0x05, 0, 0, 0, 0], 3),
            SiteKind::Other
        );
        assert_eq!(site_kind(&[0, 0, 0, 0], 0), SiteKind::Other);
    }

    #[test]
    fn relaxations() {
        let mut b = [0x48, 0x8b, 0x05, 0, 0, 0, 0];
        assert_eq!(relaxation(&b, 3, -4), Some(Relax::MovToLea));
        assert_eq!(relaxation(&b, 3, 0), None);
        apply_relax(&mut b, 3, Relax::MovToLea);
        assert_eq!(b[1], 0x8d);
        let mut c = [0xff, 0x15, 0, 0, 0, 0];
        assert_eq!(relaxation(&c, 2, -4), Some(Relax::Call));
        apply_relax(&mut c, 2, Relax::Call);
        assert_eq!(&c[..2], &[0x67, 0xe8]);
        let mut j = [0xff, 0x25, 0, 0, 0, 0];
        assert_eq!(relaxation(&j, 2, -4), Some(Relax::Jmp));
        assert_eq!(apply_relax(&mut j, 2, Relax::Jmp), (-1, 1));
        assert_eq!(j[0], 0xe9);
        assert_eq!(j[5], 0x90);
        // mov with a non-RIP-relative operand is left alone.
        assert_eq!(relaxation(&[0x8b, 0x04, 0, 0, 0, 0], 2, -4), None);
    }

    #[test]
    fn call_only_sites() {
        let call = [0xe8, 0, 0, 0, 0];
        assert_eq!(call_only(elf::R_X86_64_PLT32, -4, &call, 1), Some(true));
        assert_eq!(call_only(elf::R_X86_64_PC32, -4, &call, 1), Some(true));
        // An addend other than -4 does not call the symbol itself.
        assert_eq!(call_only(elf::R_X86_64_PLT32, 0, &call, 1), Some(false));
        // lea foo(%rip), %rax takes the address.
        let lea = [0x48, 0x8d, 0x05, 0, 0, 0, 0];
        assert_eq!(call_only(elf::R_X86_64_PC32, -4, &lea, 3), Some(false));
        // call/jmp *foo@GOTPCREL(%rip) call it; mov foo@GOTPCREL(%rip) loads it.
        let icall = [0xff, 0x15, 0, 0, 0, 0];
        let ijmp = [0xff, 0x25, 0, 0, 0, 0];
        let load = [0x48, 0x8b, 0x05, 0, 0, 0, 0];
        assert_eq!(
            call_only(elf::R_X86_64_GOTPCRELX, -4, &icall, 2),
            Some(true)
        );
        assert_eq!(call_only(elf::R_X86_64_GOTPCREL, -4, &ijmp, 2), Some(true));
        assert_eq!(
            call_only(elf::R_X86_64_REX_GOTPCRELX, -4, &load, 3),
            Some(false)
        );
        // 64-bit absolutes are data; a field past the end is not judged.
        assert_eq!(call_only(elf::R_X86_64_64, -4, &[0; 8], 0), Some(false));
        assert_eq!(call_only(elf::R_X86_64_PLT32, -4, &call, 2), None);
    }
}
