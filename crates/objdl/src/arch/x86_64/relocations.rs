//! x86-64's relocation types: what each computes ([`Formula`]), the
//! tables the passes over relocations read, and their names.

use object::elf;

#[cfg(doc)]
use crate::arch::contract::Arch;
use crate::arch::field::Field;
use crate::arch::formula::{Formula, Quick};

/// How many relocation types the tables cover: every x86-64 type is below
/// 64, and a type's dense index is its number.
pub(super) const KINDS: usize = 64;

/// The dense index of `r_type` (see [`Arch::kind_index`]): the type's
/// number, if below [`KINDS`].
#[inline(always)]
pub(super) fn kind_index(r_type: elf::RelocationType) -> Option<usize> {
    let i = r_type.0 as usize;
    (i < KINDS).then_some(i)
}

/// The relocation type whose dense index is `index` (see
/// [`Arch::kind_index`]: the type's number).
#[inline(always)]
pub(super) const fn kind_of_index(index: usize) -> elf::RelocationType {
    elf::RelocationType(index as u32)
}

/// An index below [`KINDS`] for counting `r_type`: its dense index, which
/// every type objdl applies has (others are refused before counts are
/// reported). One `and`, no branch.
#[inline(always)]
pub(super) fn count_index(r_type: elf::RelocationType) -> usize {
    r_type.0 as usize & (KINDS - 1)
}

/// The formula for a relocation type, or `None` if objdl does not implement it.
#[inline]
pub(super) fn formula(r_type: elf::RelocationType) -> Option<Formula> {
    // Every pass over relocations asks: one load from a table built at
    // compile time, not a match. The tables here are `const`, not
    // `static`: every code unit that inlines the look-up sees the contents
    // and may fold them (the relocation loop then tests PC32/PLT32 with two
    // compares). A `static` is visible only where codegen puts it, and the
    // loop's code changed with unrelated edits: 40,000 instructions on the
    // SQLite load (callgrind).
    // Indexed by dense index (`Arch::kind_index`), which is the type number.
    const TABLE: [Option<Formula>; KINDS] = {
        let mut t = [None; KINDS];
        let mut i = 0;
        while i < KINDS {
            t[i] = formula_of(kind_of_index(i));
            i += 1;
        }
        t
    };
    match kind_index(r_type) {
        Some(i) => TABLE[i],
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
        elf::R_X86_64_TLSGD => Formula::TlsIndex {
            local: false,
            field: Field::S32,
        },
        elf::R_X86_64_TLSLD => Formula::TlsIndex {
            local: true,
            field: Field::S32,
        },
        elf::R_X86_64_DTPOFF32 => Formula::DtpOff(S32),
        elf::R_X86_64_DTPOFF64 => Formula::DtpOff(W64),
        elf::R_X86_64_DTPMOD64 => Formula::DtpMod,
        elf::R_X86_64_GOTPC32_TLSDESC => Formula::TlsDesc(Field::S32),
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

/// The [`Quick`] class of a relocation type.
#[inline]
pub(super) fn quick_class(r_type: elf::RelocationType) -> Quick {
    // `const`: see `formula`.
    const TABLE: [Quick; KINDS] = {
        let mut t = [Quick::Other; KINDS];
        let mut i = 0;
        while i < KINDS {
            t[i] = match formula_of(kind_of_index(i)) {
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
    match kind_index(r_type) {
        Some(i) => TABLE[i],
        None => Quick::Other,
    }
}

/// Whether relocation type `r_type`'s values never constrain where a unit
/// goes: a unit with no others may simply be relocated where the kernel
/// first maps it, setting aside the few sites that do not fit there (see
/// `relocate::Slow::Defer`). The others are 32-, 16- and 8-bit absolutes
/// and short PC-relative fields, which constrain the base, and the
/// thread-local forms.
#[inline]
pub(super) fn placement_free(r_type: elf::RelocationType) -> bool {
    // `const`: see `formula`.
    const FREE: [bool; KINDS] = {
        let mut t = [false; KINDS];
        let mut i = 0;
        while i < KINDS {
            t[i] = matches!(
                formula_of(kind_of_index(i)),
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
            i += 1;
        }
        t
    };
    match kind_index(r_type) {
        Some(i) => FREE[i],
        None => false,
    }
}

/// See [`Arch::referenced_offset`]: an absolute field refers to S + A; a
/// 32-bit PC-relative one, which ends its instruction (`call`, `jmp`,
/// `lea`, RIP-relative operands without an immediate), to S + A + 4.
pub(super) fn referenced_offset(r_type: elf::RelocationType, addend: i64) -> Option<i64> {
    match r_type {
        elf::R_X86_64_64 | elf::R_X86_64_32 | elf::R_X86_64_32S => Some(addend),
        elf::R_X86_64_PC32 | elf::R_X86_64_PLT32 => addend.checked_add(4),
        _ => None,
    }
}

/// The size of the field a relocation type patches, for bounds checks at
/// parse time. Unknown types report 0 and are refused later, with their site.
#[inline]
pub(super) fn field_width(r_type: elf::RelocationType) -> u64 {
    // Parse asks for every relocation: a table beats the full match
    // (`const`: see `formula`).
    const WIDTHS: [u8; KINDS] = {
        let mut t = [0; KINDS];
        let mut i = 0;
        while i < KINDS {
            t[i] = field_width_of(kind_of_index(i)) as u8;
            i += 1;
        }
        t
    };
    kind_index(r_type).map_or(0, |i| u64::from(WIDTHS[i]))
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
            | Formula::StaticTls { field: f, .. }
            | Formula::TlsIndex { field: f, .. }
            | Formula::TlsDesc(f),
        ) => f.width() as u64,
        Some(Formula::DtpMod) => 8,
    }
}

/// The name of a relocation type, for messages: `R_X86_64_PC32`, or
/// `type 99` for a number no one defined.
pub(super) fn reloc_name(r_type: elf::RelocationType) -> std::borrow::Cow<'static, str> {
    match elf::machine_names(elf::EM_X86_64).r.name(r_type) {
        Some(n) => n.into(),
        None => format!("type {}", r_type.0).into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch::{Arch, X86_64};

    /// x86-64's dense index is the type number; counts always land in range.
    #[test]
    fn dense_kind_index() {
        for i in 0..KINDS {
            assert_eq!(X86_64::kind_index(kind_of_index(i)), Some(i));
        }
        assert_eq!(X86_64::kind_index(elf::R_X86_64_PC32), Some(2));
        assert_eq!(X86_64::kind_index(elf::RelocationType(64)), None);
        assert_eq!(count_index(elf::R_X86_64_PLT32), 4);
        assert!(count_index(elf::RelocationType(u32::MAX)) < KINDS);
    }
}
