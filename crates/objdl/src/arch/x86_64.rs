//! x86-64: relocation formulas, field ranges, the instruction bytes around a
//! field, the rewrites objdl is allowed to make, and the stubs it emits.
//!
//! Everything that knows an x86-64 opcode or an `R_X86_64_*` number is here.

use object::elf;

/// How a relocated value is stored, and which values fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Field {
    /// 64 bits; every value fits, taken modulo 2^64 as GNU ld and lld take
    /// it: an address plus an addend, or the distance between two
    /// addresses, wraps as the processor's own arithmetic does (a PC64
    /// field to an address above 2^63 holds a "negative" distance).
    W64,
    /// Signed 32 bits.
    S32,
    /// Unsigned 32 bits (zero-extended by the instruction).
    U32,
    /// 16 bits, signed or unsigned: −2^15 to 2^16−1, as lld checks it
    /// (GNU ld's "bitfield" check also lets some values wrap; objdl does not).
    B16,
    /// Signed 16 bits.
    S16,
    /// 8 bits, signed or unsigned: −2^7 to 2^8−1, as lld checks it.
    B8,
    /// Signed 8 bits.
    S8,
}

impl Field {
    /// The width in bytes.
    pub const fn width(self) -> usize {
        match self {
            Field::W64 => 8,
            Field::S32 | Field::U32 => 4,
            Field::B16 | Field::S16 => 2,
            Field::B8 | Field::S8 => 1,
        }
    }

    /// The values that fit, inclusive; for [`Field::W64`], the values it
    /// holds without wrapping (every value fits it: see [`Field::fits`]).
    pub fn range(self) -> (i128, i128) {
        match self {
            Field::W64 => (i64::MIN as i128, u64::MAX as i128),
            Field::S32 => (i32::MIN as i128, i32::MAX as i128),
            Field::U32 => (0, u32::MAX as i128),
            Field::B16 => (i16::MIN as i128, u16::MAX as i128),
            Field::S16 => (i16::MIN as i128, i16::MAX as i128),
            Field::B8 => (i8::MIN as i128, u8::MAX as i128),
            Field::S8 => (i8::MIN as i128, i8::MAX as i128),
        }
    }

    /// Does `v` fit? Always, for a 64-bit field, which takes it modulo 2^64.
    #[inline]
    pub fn fits(self, v: i128) -> bool {
        let (lo, hi) = self.range();
        self == Field::W64 || (v >= lo && v <= hi)
    }

    /// Words for messages.
    pub fn describe(self) -> &'static str {
        match self {
            Field::W64 => "a 64-bit field",
            Field::S32 => "a signed 32-bit field",
            Field::U32 => "an unsigned 32-bit field",
            Field::B16 => "a 16-bit field",
            Field::S16 => "a signed 16-bit field",
            Field::B8 => "an 8-bit field",
            Field::S8 => "a signed 8-bit field",
        }
    }

    /// Stores `v`, which the caller has checked with [`Field::fits`].
    #[inline]
    pub fn write(self, buf: &mut [u8], v: i128) {
        // Fixed widths, so that each store is one instruction, not a memcpy.
        let v = v as u64;
        match self.width() {
            8 => buf[..8].copy_from_slice(&v.to_le_bytes()),
            4 => buf[..4].copy_from_slice(&(v as u32).to_le_bytes()),
            2 => buf[..2].copy_from_slice(&(v as u16).to_le_bytes()),
            _ => buf[0] = v as u8,
        }
    }
}

/// What a relocation computes. S: symbol, A: addend, P: the field's address,
/// G: the symbol's GOT slot, GOT: the GOT's base, Z: the symbol's size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Formula {
    /// Nothing (`R_X86_64_NONE`).
    None,
    /// S + A.
    Abs(Field),
    /// S + A − P, and PLT32's L + A − P. A 32-bit field that belongs to a
    /// call or jump may go through a trampoline (L) when S is out of reach.
    Pc(Field),
    /// G + A − P. `relaxable` for the GOTPCRELX forms.
    GotPcRel { field: Field, relaxable: bool },
    /// GOT + A − P.
    GotPc(Field),
    /// S + A − GOT.
    GotOff(Field),
    /// G − GOT + A.
    Got(Field),
    /// Z + A.
    Size(Field),
    /// The GOT pair (`tls_index`) for the symbol's module and offset
    /// (TLSGD), or for the module alone (`local`, TLSLD), − P + A.
    TlsIndex { local: bool },
    /// The symbol's offset in its module's TLS block, + A.
    DtpOff(Field),
    /// The symbol's TLS module id.
    DtpMod,
    /// The GOT's TLS descriptor for the symbol's module and offset (for
    /// `_TLS_MODULE_BASE_`, the module alone), − P + A
    /// (`R_X86_64_GOTPC32_TLSDESC`, on `lea x@tlsdesc(%rip), %rax`).
    TlsDesc,
    /// The descriptor call `call *x@tlscall(%rax)` (`R_X86_64_TLSDESC_CALL`):
    /// marks the instruction, patches nothing.
    TlsDescCall,
    /// Initial-exec and local-exec TLS: the symbol's offset from the thread
    /// pointer, in static TLS, + A (TPOFF32/64); or, when `got`, a GOT slot
    /// holding that offset, G + A − P (GOTTPOFF).
    StaticTls { got: bool, field: Field },
}

/// The formula for a relocation type, or `None` if objdl does not implement it.
#[inline]
pub(crate) fn formula(r_type: elf::RelocationType) -> Option<Formula> {
    // Every pass over relocations asks: one load from a table built at
    // compile time, not a match. The tables here are `const`, not
    // `static`: every code unit that inlines the look-up sees the contents
    // and may fold them (the relocation loop then tests PC32/PLT32 with two
    // compares). A `static` is visible only where codegen puts it, and the
    // loop's code changed with unrelated edits: 40,000 instructions on the
    // SQLite load (callgrind).
    const TABLE: [Option<Formula>; 64] = {
        let mut t = [None; 64];
        let mut i = 0;
        while i < 64 {
            t[i] = formula_of(elf::RelocationType(i as u32));
            i += 1;
        }
        t
    };
    match TABLE.get(r_type.0 as usize) {
        Some(&f) => f,
        None => None,
    }
}

const fn formula_of(r_type: elf::RelocationType) -> Option<Formula> {
    use Field::*;
    Some(match r_type {
        elf::R_X86_64_NONE => Formula::None,
        elf::R_X86_64_64 => Formula::Abs(W64),
        elf::R_X86_64_32 => Formula::Abs(U32),
        elf::R_X86_64_32S => Formula::Abs(S32),
        elf::R_X86_64_16 => Formula::Abs(B16),
        elf::R_X86_64_8 => Formula::Abs(B8),
        elf::R_X86_64_PC64 => Formula::Pc(W64),
        elf::R_X86_64_PC32 => Formula::Pc(S32),
        elf::R_X86_64_PC16 => Formula::Pc(S16),
        elf::R_X86_64_PC8 => Formula::Pc(S8),
        elf::R_X86_64_PLT32 => Formula::Pc(S32),
        elf::R_X86_64_GOTPCREL => Formula::GotPcRel {
            field: S32,
            relaxable: false,
        },
        elf::R_X86_64_GOTPCRELX | elf::R_X86_64_REX_GOTPCRELX => Formula::GotPcRel {
            field: S32,
            relaxable: true,
        },
        elf::R_X86_64_GOTPCREL64 => Formula::GotPcRel {
            field: W64,
            relaxable: false,
        },
        elf::R_X86_64_GOTPC32 => Formula::GotPc(S32),
        elf::R_X86_64_GOTPC64 => Formula::GotPc(W64),
        elf::R_X86_64_GOTOFF64 => Formula::GotOff(W64),
        // L − GOT + A: 64 bits reach anything, so L is the function itself.
        elf::R_X86_64_PLTOFF64 => Formula::GotOff(W64),
        elf::R_X86_64_GOT32 => Formula::Got(S32),
        elf::R_X86_64_GOT64 => Formula::Got(W64),
        elf::R_X86_64_SIZE32 => Formula::Size(U32),
        elf::R_X86_64_SIZE64 => Formula::Size(W64),
        elf::R_X86_64_TLSGD => Formula::TlsIndex { local: false },
        elf::R_X86_64_TLSLD => Formula::TlsIndex { local: true },
        elf::R_X86_64_DTPOFF32 => Formula::DtpOff(S32),
        elf::R_X86_64_DTPOFF64 => Formula::DtpOff(W64),
        elf::R_X86_64_DTPMOD64 => Formula::DtpMod,
        elf::R_X86_64_GOTPC32_TLSDESC => Formula::TlsDesc,
        elf::R_X86_64_TLSDESC_CALL => Formula::TlsDescCall,
        elf::R_X86_64_GOTTPOFF => Formula::StaticTls {
            got: true,
            field: S32,
        },
        elf::R_X86_64_TPOFF32 => Formula::StaticTls {
            got: false,
            field: S32,
        },
        elf::R_X86_64_TPOFF64 => Formula::StaticTls {
            got: false,
            field: W64,
        },
        _ => return None,
    })
}

/// How the passes over relocations can settle the most common types
/// without looking further (see [`quick_class`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Quick {
    /// A signed 32-bit PC-relative field (`R_X86_64_PC32`, `PLT32`).
    Pc32,
    /// A 64-bit absolute (`R_X86_64_64`).
    Abs64,
    /// A 32-bit absolute (`R_X86_64_32`, `32S`): it constrains the base.
    Abs32,
    /// A GOT load that may drop the GOT (`R_X86_64_GOTPCRELX`, `REX_GOTPCRELX`).
    GotPcRelx,
    /// Relative to the unit itself or 64 bits wide, so it fits wherever the
    /// unit goes (`PC64`, `GOTOFF64`, `PLTOFF64`, `GOTPC32`, `GOTPC64`):
    /// [`Formula::Pc`] with [`Field::W64`], [`Formula::GotOff`] or
    /// [`Formula::GotPc`].
    Wide,
    /// `S + A − GOT` in 64 bits (`GOTOFF64`, `PLTOFF64`): the large code
    /// model's data references.
    GotOff64,
    /// Needs nothing before the unit has an address (`NONE`, `SIZE*`).
    Nothing,
    /// Anything else: the general path.
    Other,
}

/// The [`Quick`] class of a relocation type.
#[inline]
pub(crate) fn quick_class(r_type: elf::RelocationType) -> Quick {
    // `const`: see `formula`.
    const TABLE: [Quick; 64] = {
        let mut t = [Quick::Other; 64];
        let mut i = 0;
        while i < 64 {
            t[i] = match formula_of(elf::RelocationType(i as u32)) {
                Some(Formula::Pc(Field::S32)) => Quick::Pc32,
                Some(Formula::Abs(Field::W64)) => Quick::Abs64,
                Some(Formula::Abs(Field::U32 | Field::S32)) => Quick::Abs32,
                Some(Formula::GotPcRel {
                    field: Field::S32,
                    relaxable: true,
                }) => Quick::GotPcRelx,
                Some(Formula::GotOff(Field::W64)) => Quick::GotOff64,
                Some(Formula::Pc(Field::W64) | Formula::GotOff(_) | Formula::GotPc(_)) => {
                    Quick::Wide
                }
                Some(Formula::None | Formula::Size(_)) => Quick::Nothing,
                _ => Quick::Other,
            };
            i += 1;
        }
        t
    };
    match TABLE.get(r_type.0 as usize) {
        Some(&q) => q,
        None => Quick::Other,
    }
}

/// The relocation types, as a bit set (bit `t` for type `t`), whose values
/// never constrain where a unit goes: a unit with no others may simply be
/// relocated where the kernel first maps it, setting aside the few sites
/// that do not fit there (see `relocate::Slow::Defer`). The others are
/// 32-, 16- and 8-bit absolutes and short PC-relative fields, which
/// constrain the base, and the thread-local forms.
pub(crate) const PLACEMENT_FREE_KINDS: u64 = {
    let mut set = 0u64;
    let mut i = 0;
    while i < 63 {
        let free = matches!(
            formula_of(elf::RelocationType(i)),
            Some(
                Formula::None
                    | Formula::Abs(Field::W64)
                    | Formula::Pc(Field::S32 | Field::W64)
                    | Formula::GotPcRel { .. }
                    | Formula::GotPc(_)
                    | Formula::GotOff(_)
                    | Formula::Got(_)
                    | Formula::Size(_),
            )
        );
        if free {
            set |= 1 << i;
        }
        i += 1;
    }
    set
};

/// Is relocation type `r_type` in [`PLACEMENT_FREE_KINDS`]?
#[inline]
pub(crate) fn placement_free(r_type: elf::RelocationType) -> bool {
    1u64.checked_shl(r_type.0).unwrap_or(0) & PLACEMENT_FREE_KINDS != 0
}

/// S + A − P as a signed 32-bit field (`R_X86_64_PC32`, `PLT32`), or
/// `None` if it does not fit. S is taken as two's complement, as
/// [`Formula::Pc`] is everywhere.
#[inline(always)]
pub(crate) fn pc32(s: u64, p: u64, addend: i64) -> Option<i32> {
    (s as i64)
        .checked_sub(p as i64)
        .and_then(|v| v.checked_add(addend))
        .and_then(|v| i32::try_from(v).ok())
}

/// The size of the field a relocation type patches, for bounds checks at
/// parse time. Unknown types report 0 and are refused later, with their site.
#[inline]
pub(crate) fn field_width(r_type: elf::RelocationType) -> u64 {
    // Parse asks for every relocation: a table beats the full match
    // (`const`: see `formula`).
    const WIDTHS: [u8; 64] = {
        let mut t = [0; 64];
        let mut i = 0;
        while i < 64 {
            t[i] = field_width_of(elf::RelocationType(i as u32)) as u8;
            i += 1;
        }
        t
    };
    WIDTHS.get(r_type.0 as usize).map_or(0, |&w| u64::from(w))
}

const fn field_width_of(r_type: elf::RelocationType) -> u64 {
    match formula_of(r_type) {
        None | Some(Formula::None | Formula::TlsDescCall) => 0,
        Some(
            Formula::Abs(f)
            | Formula::Pc(f)
            | Formula::GotPcRel { field: f, .. }
            | Formula::GotPc(f)
            | Formula::GotOff(f)
            | Formula::Got(f)
            | Formula::Size(f)
            | Formula::DtpOff(f)
            | Formula::StaticTls { field: f, .. },
        ) => f.width() as u64,
        Some(Formula::TlsIndex { .. } | Formula::TlsDesc) => 4,
        Some(Formula::DtpMod) => 8,
    }
}

/// The name of a relocation type, for messages: `R_X86_64_PC32`, or
/// `type 99` for a number no one defined.
pub(crate) fn reloc_name(r_type: elf::RelocationType) -> std::borrow::Cow<'static, str> {
    match elf::machine_names(elf::EM_X86_64).r.name(r_type) {
        Some(n) => n.into(),
        None => format!("type {}", r_type.0).into(),
    }
}

/// What kind of instruction owns a 32-bit PC-relative field, judged from the
/// bytes before it. `bytes` is the section, `off` the field's offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Site {
    /// `call rel32` (E8), `jmp rel32` (E9) or `jcc rel32` (0F 80..8F): may go
    /// through a trampoline.
    Branch,
    /// `lea disp(%rip), %reg` (\[REX\] 8D modrm): may become `mov slot(%rip), %reg`.
    Lea,
    /// Anything else: a load, a store, or data. Cannot be redirected.
    Other,
}

/// Is `modrm` a RIP-relative operand (mod 00, r/m 101)?
#[inline]
fn rip_relative(modrm: u8) -> bool {
    modrm & 0xc7 == 0x05
}

/// Classifies the instruction owning the 32-bit field at `off` in `bytes`.
pub(crate) fn site_kind(bytes: &[u8], off: usize) -> Site {
    if off >= 1 && matches!(bytes[off - 1], 0xe8 | 0xe9) {
        // A RIP-relative modrm is never E8/E9, so this is the opcode.
        return Site::Branch;
    }
    if off >= 2 && bytes[off - 2] == 0x0f && (0x80..=0x8f).contains(&bytes[off - 1]) {
        return Site::Branch;
    }
    if off >= 2 && bytes[off - 2] == 0x8d && rip_relative(bytes[off - 1]) {
        return Site::Lea;
    }
    Site::Other
}

/// Does the instruction owning the RIP-relative field at `off` only read
/// memory (a load, compare, test or arithmetic into a register)? Only such
/// sites may be served from a read-only copy of a host variable.
pub(crate) fn reads_only(bytes: &[u8], off: usize) -> bool {
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
pub(crate) fn relaxation(bytes: &[u8], off: usize, addend: i64) -> Option<Relax> {
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
pub(crate) fn relaxed_value(relax: Relax, s_plus_a_minus_p: i128) -> i128 {
    match relax {
        Relax::Jmp => s_plus_a_minus_p + 1,
        _ => s_plus_a_minus_p,
    }
}

/// Rewrites the instruction for `relax` and returns the new field offset
/// relative to `off` and the value to add to S + A − P for it.
pub(crate) fn apply_relax(bytes: &mut [u8], off: usize, relax: Relax) -> (isize, i128) {
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
pub(crate) fn lea_to_mov(bytes: &mut [u8], off: usize) {
    bytes[off - 2] = 0x8b;
}

/// A trampoline: `jmp *0(%rip)` then the 8-byte target. Clobbers nothing.
pub(crate) const TRAMPOLINE_SIZE: usize = 14;

/// Writes a trampoline to `target` into `buf`.
pub(crate) fn write_trampoline(buf: &mut [u8], target: u64) {
    buf[..6].copy_from_slice(&[0xff, 0x25, 0, 0, 0, 0]);
    buf[6..14].copy_from_slice(&target.to_le_bytes());
}

/// Size of an IFUNC stub, `jmp *slot(%rip)` padded to 8 bytes.
pub(crate) const IFUNC_STUB_SIZE: usize = 8;

/// Writes `jmp *slot(%rip)` (6 bytes, then 2 bytes of int3) at `here`.
/// Both lie in one unit, so the displacement fits.
pub(crate) fn write_ifunc_stub(buf: &mut [u8], here: u64, slot: u64) {
    let rel = (slot.wrapping_sub(here + 6) as i32).to_le_bytes();
    buf[..2].copy_from_slice(&[0xff, 0x25]);
    buf[2..6].copy_from_slice(&rel);
    buf[6..8].copy_from_slice(&[0xcc, 0xcc]);
}

/// Size of one GOT slot.
pub(crate) const GOT_SLOT_SIZE: usize = 8;

/// Size of a per-unit handle stub (see [`write_handle_stub`]).
pub(crate) const ATEXIT_STUB_SIZE: usize = 16;

/// Which argument of the libc function receives the unit's `__dso_handle`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HandleArg {
    /// `%rsi`: `at_quick_exit(f)` → `__cxa_at_quick_exit(f, handle)`.
    Second,
    /// `%rdx`: `atexit(f)` → `__cxa_atexit(f, NULL, handle)` (zeroes `%rsi`).
    Third { zero_second: bool },
    /// `%rcx`: `pthread_atfork(a, b, c)` → `__register_atfork(a, b, c, handle)`.
    Fourth,
}

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
pub(crate) fn write_handle_stub(
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
    fn field_ranges() {
        assert!(Field::S32.fits(i32::MAX as i128));
        assert!(!Field::S32.fits(i32::MAX as i128 + 1));
        assert!(Field::S32.fits(i32::MIN as i128));
        assert!(!Field::S32.fits(i32::MIN as i128 - 1));
        assert!(Field::U32.fits(u32::MAX as i128));
        assert!(!Field::U32.fits(-1));
        assert!(Field::B16.fits(-32768) && Field::B16.fits(65535) && !Field::B16.fits(65536));
        assert!(!Field::S16.fits(32768));
        assert!(Field::B8.fits(255) && !Field::B8.fits(-129));
        assert!(!Field::S8.fits(128));
        // 64 bits: modulo 2^64, as ld computes it.
        assert!(Field::W64.fits(i64::MIN as i128 - 1) && Field::W64.fits(u64::MAX as i128 + 1));
        let mut buf = [0u8; 8];
        Field::W64.write(&mut buf, i64::MIN as i128 - 0x10);
        assert_eq!(u64::from_le_bytes(buf), 0x7fff_ffff_ffff_fff0);
    }

    #[test]
    fn site_kinds() {
        assert_eq!(site_kind(&[0xe8, 0, 0, 0, 0], 1), Site::Branch);
        assert_eq!(site_kind(&[0xe9, 0, 0, 0, 0], 1), Site::Branch);
        assert_eq!(site_kind(&[0x0f, 0x84, 0, 0, 0, 0], 2), Site::Branch);
        assert_eq!(site_kind(&[0x48, 0x8d, 0x05, 0, 0, 0, 0], 3), Site::Lea);
        // mov stdin(%rip), %rax
        assert_eq!(site_kind(&[0x48, 0x8b, 0x05, 0, 0, 0, 0], 3), Site::Other);
        assert_eq!(site_kind(&[0, 0, 0, 0], 0), Site::Other);
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
    fn trampoline_bytes() {
        let mut t = [0u8; TRAMPOLINE_SIZE];
        write_trampoline(&mut t, 0x1122_3344_5566_7788);
        assert_eq!(
            &t,
            &[0xff, 0x25, 0, 0, 0, 0, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11]
        );
    }
}

// TLS descriptors (`-mtls-dialect=gnu2`).

/// The size of the area `xsave` fills with the register state the kernel
/// enables (CPUID leaf 0xD, sub-leaf 0, EBX), plus 64 for the alignment;
/// read by the resolver's slow path.
static XSAVE_SIZE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// The function the resolver's slow path calls with the variable's
/// `tls_index` (objdl's `__tls_get_addr`), set by [`tlsdesc_resolver`]
/// before any descriptor can point to the resolver.
static TLSDESC_SLOW_PATH: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// How many entries a thread's TLS descriptor cache has (a power of two).
pub(crate) const TLSDESC_CACHE_ENTRIES: usize = 64;

/// An entry of a thread's TLS descriptor cache: objdl TLS module `module`
/// has its block for this thread at `base`. Slot `module % ENTRIES`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct TlsDescEntry {
    pub module: u64,
    pub base: u64,
}

// The TLS descriptor resolver. Code calls it as `call *(%rax)` with %rax
// the descriptor's address and expects in %rax the variable's offset from
// the thread pointer, every other register intact, vector registers too
// (the compiler keeps them live across the call). The descriptor's second
// word is the variable's `tls_index` pair.
//
// Fast path: the calling thread's cache (a pointer in static TLS,
// `objdl_tlsdesc_cache`, set by `tls.rs`) has the block of the module:
// two registers saved, no call. (Initial-exec, so that reading it needs no
// call: in an executable the linker makes it local-exec; a shared library
// with objdl in it is marked STATIC_TLS.) Slow path: every general register the C
// ABI lets a callee clobber is saved, then all other state with `xsave`;
// objdl's `__tls_get_addr` (which also fills the cache) gives the address.
std::arch::global_asm!(
    ".pushsection .tbss.objdl_tlsdesc_cache,\"awT\",@nobits",
    ".p2align 3",
    ".globl objdl_tlsdesc_cache",
    ".hidden objdl_tlsdesc_cache",
    ".type objdl_tlsdesc_cache,@object",
    ".size objdl_tlsdesc_cache, 8",
    "objdl_tlsdesc_cache:",
    ".zero 8",
    ".popsection",
    ".pushsection .text.objdl_tlsdesc,\"ax\",@progbits",
    // The address of this thread's cache pointer.
    ".p2align 4",
    ".globl objdl_tlsdesc_cache_slot",
    ".hidden objdl_tlsdesc_cache_slot",
    ".type objdl_tlsdesc_cache_slot,@function",
    "objdl_tlsdesc_cache_slot:",
    ".cfi_startproc",
    "mov objdl_tlsdesc_cache@gottpoff(%rip), %rax",
    "add %fs:0, %rax",
    "ret",
    ".cfi_endproc",
    ".size objdl_tlsdesc_cache_slot, . - objdl_tlsdesc_cache_slot",
    ".p2align 4",
    ".globl objdl_tlsdesc_resolve",
    ".hidden objdl_tlsdesc_resolve",
    ".type objdl_tlsdesc_resolve,@function",
    "objdl_tlsdesc_resolve:",
    ".cfi_startproc",
    "mov 8(%rax), %rax",
    "push %rcx",
    ".cfi_adjust_cfa_offset 8",
    "push %rdx",
    ".cfi_adjust_cfa_offset 8",
    "mov objdl_tlsdesc_cache@gottpoff(%rip), %rcx",
    "mov %fs:(%rcx), %rcx",
    "test %rcx, %rcx",
    "jz 2f",
    "mov (%rax), %rdx",
    "and ${mask}, %edx",
    "shl $4, %edx",
    "add %rdx, %rcx",
    "mov (%rax), %rdx",
    "cmp %rdx, (%rcx)",
    "jne 2f",
    "mov 8(%rcx), %rcx",
    "add 8(%rax), %rcx",
    "sub %fs:0, %rcx",
    "mov %rcx, %rax",
    "pop %rdx",
    ".cfi_adjust_cfa_offset -8",
    "pop %rcx",
    ".cfi_adjust_cfa_offset -8",
    "ret",
    ".cfi_adjust_cfa_offset 16",
    "2:",
    "pop %rdx",
    ".cfi_adjust_cfa_offset -8",
    "pop %rcx",
    ".cfi_adjust_cfa_offset -8",
    "push %rbp",
    ".cfi_adjust_cfa_offset 8",
    ".cfi_rel_offset %rbp, 0",
    "mov %rsp, %rbp",
    ".cfi_def_cfa_register %rbp",
    "push %rdi",
    "push %rsi",
    "push %rdx",
    "push %rcx",
    "push %r8",
    "push %r9",
    "push %r10",
    "push %r11",
    "push %rbx",
    "mov %rax, %rbx",
    "sub {size}(%rip), %rsp",
    "and $-64, %rsp",
    // The xsave header (bytes 512..576) must start zeroed for xrstor.
    "xor %eax, %eax",
    "mov %rax, 512(%rsp)",
    "mov %rax, 520(%rsp)",
    "mov %rax, 528(%rsp)",
    "mov %rax, 536(%rsp)",
    "mov %rax, 544(%rsp)",
    "mov %rax, 552(%rsp)",
    "mov %rax, 560(%rsp)",
    "mov %rax, 568(%rsp)",
    "mov $-1, %eax",
    "mov $-1, %edx",
    "xsave64 (%rsp)",
    "mov %rbx, %rdi",
    "call *{slow}(%rip)",
    "mov %rax, %rbx",
    "mov $-1, %eax",
    "mov $-1, %edx",
    "xrstor64 (%rsp)",
    "mov %rbx, %rax",
    "sub %fs:0, %rax",
    "lea -72(%rbp), %rsp",
    "pop %rbx",
    "pop %r11",
    "pop %r10",
    "pop %r9",
    "pop %r8",
    "pop %rcx",
    "pop %rdx",
    "pop %rsi",
    "pop %rdi",
    "pop %rbp",
    ".cfi_def_cfa %rsp, 8",
    "ret",
    ".cfi_endproc",
    ".size objdl_tlsdesc_resolve, . - objdl_tlsdesc_resolve",
    // A variable in static TLS: the descriptor's argument is its offset
    // from the thread pointer (glibc's `_dl_tlsdesc_return`).
    ".p2align 4",
    ".globl objdl_tlsdesc_static",
    ".hidden objdl_tlsdesc_static",
    ".type objdl_tlsdesc_static,@function",
    "objdl_tlsdesc_static:",
    ".cfi_startproc",
    "mov 8(%rax), %rax",
    "ret",
    ".cfi_endproc",
    ".size objdl_tlsdesc_static, . - objdl_tlsdesc_static",
    ".popsection",
    size = sym XSAVE_SIZE,
    slow = sym TLSDESC_SLOW_PATH,
    mask = const TLSDESC_CACHE_ENTRIES - 1,
    options(att_syntax)
);

unsafe extern "C" {
    /// See the `global_asm!` above; not callable from Rust (its argument is in %rax).
    fn objdl_tlsdesc_resolve();
    /// See the `global_asm!` above; not callable from Rust (its argument is in %rax).
    fn objdl_tlsdesc_static();
    /// The address of the calling thread's TLS descriptor cache pointer.
    fn objdl_tlsdesc_cache_slot() -> *mut *mut TlsDescEntry;
}

/// The calling thread's TLS descriptor cache pointer, which the resolver
/// reads: null, or [`TLSDESC_CACHE_ENTRIES`] entries that stay valid until
/// it is set again.
pub(crate) fn tlsdesc_cache() -> *mut *mut TlsDescEntry {
    // SAFETY: the helper only computes an address (thread pointer plus the
    // static TLS offset of a variable of this module).
    unsafe { objdl_tlsdesc_cache_slot() }
}

/// The address of the resolver of a TLS descriptor whose argument is the
/// variable's offset from the thread pointer (a variable in static TLS).
pub(crate) fn tlsdesc_static_resolver() -> u64 {
    objdl_tlsdesc_static as *const () as u64
}

/// Whether the processor and the kernel have `xsave`, which the TLS
/// descriptor resolver needs.
pub(crate) fn tlsdesc_supported() -> bool {
    xsave_size().is_some()
}

/// The address of the TLS descriptor resolver, for the first word of a
/// descriptor whose argument is a `tls_index`; its slow path calls
/// `slow_path` (`__tls_get_addr`'s signature; always the same function).
/// `None` when the processor or the kernel lacks `xsave`.
pub(crate) fn tlsdesc_resolver(slow_path: u64) -> Option<u64> {
    use std::sync::atomic::Ordering;
    xsave_size()?;
    TLSDESC_SLOW_PATH.store(slow_path, Ordering::Release);
    Some(objdl_tlsdesc_resolve as *const () as u64)
}

/// The size of the `xsave` area (see [`XSAVE_SIZE`]), read once.
fn xsave_size() -> Option<u64> {
    use std::sync::atomic::Ordering;
    if XSAVE_SIZE.load(Ordering::Acquire) == 0 {
        let leaf1 = std::arch::x86_64::__cpuid(1);
        // OSXSAVE: the kernel enabled xsave and XCR0.
        if leaf1.ecx & (1 << 27) == 0 {
            return None;
        }
        let size = std::arch::x86_64::__cpuid_count(0xd, 0).ebx;
        // The legacy area and the header, at least; 64 more for the alignment.
        XSAVE_SIZE.store(u64::from(size.max(576)) + 64, Ordering::Release);
    }
    Some(XSAVE_SIZE.load(Ordering::Acquire))
}
