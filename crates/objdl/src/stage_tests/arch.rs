//! `arch`: relocation formulas, field widths and ranges, instruction-site
//! recognition, the rewrites objdl may make and the stub bytes it writes.

use crate::arch::*;
use object::elf::{self, RelocationType as T};

/// PC32 and PLT32 share one formula; 32 is unsigned, 32S signed; only the GOTPCRELX forms relax.
#[test]
fn formulas_of_the_common_types() {
    assert_eq!(formula(elf::R_X86_64_PC32), Some(Formula::Pc(Field::S32)));
    assert_eq!(formula(elf::R_X86_64_PLT32), Some(Formula::Pc(Field::S32)));
    assert_eq!(formula(elf::R_X86_64_32), Some(Formula::Abs(Field::U32)));
    assert_eq!(formula(elf::R_X86_64_32S), Some(Formula::Abs(Field::S32)));
    assert_eq!(formula(elf::R_X86_64_64), Some(Formula::Abs(Field::W64)));
    assert_eq!(formula(elf::R_X86_64_PC8), Some(Formula::Pc(Field::S8)));
    assert_eq!(
        formula(elf::R_X86_64_GOTPCREL),
        Some(Formula::GotPcRel {
            field: Field::S32,
            relaxable: false
        })
    );
    assert_eq!(
        formula(elf::R_X86_64_REX_GOTPCRELX),
        Some(Formula::GotPcRel {
            field: Field::S32,
            relaxable: true
        })
    );
    // PLTOFF64 is GOTOFF64: 64 bits reach the function itself.
    assert_eq!(
        formula(elf::R_X86_64_PLTOFF64),
        Some(Formula::GotOff(Field::W64))
    );
    // Types objdl does not implement, and numbers past the table.
    assert_eq!(formula(elf::R_X86_64_COPY), None);
    assert_eq!(formula(T(99)), None);
    assert_eq!(formula(T(u32::MAX)), None);
}

/// The quick classes the planner's and relocator's tight loops branch on.
#[test]
fn quick_classes() {
    assert_eq!(quick_class(elf::R_X86_64_PC32), Quick::Pc32);
    assert_eq!(quick_class(elf::R_X86_64_PLT32), Quick::Pc32);
    assert_eq!(quick_class(elf::R_X86_64_64), Quick::Abs64);
    assert_eq!(quick_class(elf::R_X86_64_32), Quick::Abs32);
    assert_eq!(quick_class(elf::R_X86_64_32S), Quick::Abs32);
    assert_eq!(quick_class(elf::R_X86_64_GOTPCRELX), Quick::GotPcRelx);
    assert_eq!(quick_class(elf::R_X86_64_GOTPCREL), Quick::Other);
    assert_eq!(quick_class(elf::R_X86_64_PC64), Quick::Wide);
    assert_eq!(quick_class(elf::R_X86_64_GOTPC32), Quick::Wide);
    assert_eq!(quick_class(elf::R_X86_64_GOTOFF64), Quick::GotOff64);
    assert_eq!(quick_class(elf::R_X86_64_SIZE32), Quick::Nothing);
    assert_eq!(quick_class(elf::R_X86_64_NONE), Quick::Nothing);
    assert_eq!(quick_class(elf::R_X86_64_TPOFF32), Quick::Other);
    assert_eq!(quick_class(T(1000)), Quick::Other);
}

/// Only types whose value never constrains the base are placement-free.
#[test]
fn placement_free_kinds() {
    for t in [
        elf::R_X86_64_NONE,
        elf::R_X86_64_64,
        elf::R_X86_64_PC32,
        elf::R_X86_64_PLT32,
        elf::R_X86_64_PC64,
        elf::R_X86_64_GOTPCREL,
        elf::R_X86_64_REX_GOTPCRELX,
        elf::R_X86_64_GOTOFF64,
        elf::R_X86_64_SIZE64,
    ] {
        assert!(placement_free(t), "type {}", t.0);
    }
    for t in [
        elf::R_X86_64_32,
        elf::R_X86_64_32S,
        elf::R_X86_64_16,
        elf::R_X86_64_PC16,
        elf::R_X86_64_PC8,
        elf::R_X86_64_TPOFF32,
        elf::R_X86_64_TLSGD,
        elf::R_X86_64_COPY,
    ] {
        assert!(!placement_free(t), "type {}", t.0);
    }
    // Out of the bit set's range: never free (and no overflowing shift).
    assert!(!placement_free(T(64)) && !placement_free(T(u32::MAX)));
}

/// `pc_relative` is S + A − P in 64 bits, S taken as two's complement;
/// `pc_relative_fits` says whether it fits the redirectable field (x86-64:
/// a signed 32-bit one).
#[test]
fn pc_relative_arithmetic() {
    assert_eq!(REDIRECT_FIELD, Field::S32);
    assert_eq!(pc_relative(0x2000, 0x1000, -4), Some(0xffc));
    assert_eq!(pc_relative(0x1000, 0x2000, -4), Some(-0x1004));
    assert!(pc_relative_fits(0x2000, 0x1000, -4));
    // Exactly at the edges of the field.
    assert!(pc_relative_fits(0x8000_0000 + 4, 4, -4 + 3));
    assert!(!pc_relative_fits(0x8000_0000 + 4, 4, -4 + 4));
    assert!(pc_relative_fits(0, 0x8000_0000, 0));
    assert!(!pc_relative_fits(0, 0x8000_0001, 0));
    // An absolute symbol just below 2^64 is -16: near a low field.
    assert_eq!(pc_relative(0xffff_ffff_ffff_fff0, 0x10, 0), Some(-0x20));
    assert!(pc_relative_fits(0xffff_ffff_ffff_fff0, 0x10, 0));
    // Overflow in 64 bits is no value at all.
    assert_eq!(pc_relative(i64::MAX as u64, (-1i64) as u64, 0), None);
}

/// The platform facts placement, the shim and the library search use.
#[test]
fn platform_facts() {
    assert_eq!(ELF_MACHINE, elf::EM_X86_64.0);
    assert_eq!(NAME, "x86-64");
    assert_eq!(USER_ADDRESS_END, 0x7fff_ffff_f000);
    assert_eq!(u64::MAX << USER_ADDRESS_BITS, 0xffff_8000_0000_0000);
    assert_eq!(
        (MULTIARCH, GNU_CPU, GNU_VENDOR),
        ("x86_64-linux-gnu", "x86_64", "pc")
    );
    // The thread pointer is the TCB's address, which holds itself, and
    // differs between threads.
    let tp = thread_pointer();
    assert_ne!(tp, 0);
    // SAFETY: glibc's TCB starts with its own address, at the thread pointer.
    assert_eq!(unsafe { *(tp as *const u64) }, tp);
    let other = std::thread::spawn(thread_pointer).join().unwrap();
    assert_ne!(other, tp);
}

/// Field widths for bounds checks: 0 for types that patch nothing or are unknown.
#[test]
fn field_widths() {
    assert_eq!(field_width(elf::R_X86_64_64), 8);
    assert_eq!(field_width(elf::R_X86_64_PC32), 4);
    assert_eq!(field_width(elf::R_X86_64_16), 2);
    assert_eq!(field_width(elf::R_X86_64_PC8), 1);
    assert_eq!(field_width(elf::R_X86_64_TLSGD), 4);
    assert_eq!(field_width(elf::R_X86_64_GOTPC32_TLSDESC), 4);
    assert_eq!(field_width(elf::R_X86_64_DTPMOD64), 8);
    assert_eq!(field_width(elf::R_X86_64_GOTPCREL64), 8);
    assert_eq!(field_width(elf::R_X86_64_NONE), 0);
    assert_eq!(field_width(elf::R_X86_64_TLSDESC_CALL), 0);
    assert_eq!(field_width(T(99)), 0);
}

/// Relocation types are named as binutils names them, unknown ones by number.
#[test]
fn relocation_names() {
    assert_eq!(reloc_name(elf::R_X86_64_PC32), "R_X86_64_PC32");
    assert_eq!(
        reloc_name(elf::R_X86_64_REX_GOTPCRELX),
        "R_X86_64_REX_GOTPCRELX"
    );
    assert_eq!(reloc_name(T(99)), "type 99");
}

/// Branch sites are E8, E9 and 0F 80..8F; `lea` needs a RIP-relative modrm.
#[test]
fn site_kinds_at_the_edges() {
    assert_eq!(site_kind(&[0x0f, 0x80, 0, 0, 0, 0], 2), SiteKind::Branch);
    assert_eq!(site_kind(&[0x0f, 0x8f, 0, 0, 0, 0], 2), SiteKind::Branch);
    // setcc (0F 9x) is not a branch.
    assert_eq!(site_kind(&[0x0f, 0x90, 0, 0, 0, 0], 2), SiteKind::Other);
    // lea (%rax,%rax), %rax: SIB, not RIP-relative.
    assert_eq!(
        site_kind(&[0x48, 0x8d, 0x04, 0, 0, 0, 0], 3),
        SiteKind::Other
    );
    // lea with another destination register (modrm 0x3d: %rdi).
    assert_eq!(
        site_kind(&[0x48, 0x8d, 0x3d, 0, 0, 0, 0], 3),
        SiteKind::Address
    );
    // A field at the start of the section has no opcode before it.
    assert_eq!(site_kind(&[0xe8, 0, 0, 0], 0), SiteKind::Other);
}

/// Only instructions that read their RIP-relative operand may use a read-only copy.
#[test]
fn reads_only_sites() {
    // mov x(%rip), %eax / mov %eax, x(%rip)
    assert!(reads_only(&[0x8b, 0x05, 0, 0, 0, 0], 2));
    assert!(!reads_only(&[0x89, 0x05, 0, 0, 0, 0], 2));
    // cmpl $1, x(%rip) is 83 /7; addl $1, x(%rip) is 83 /0.
    assert!(reads_only(&[0x83, 0x3d, 0, 0, 0, 0, 1], 2));
    assert!(!reads_only(&[0x83, 0x05, 0, 0, 0, 0, 1], 2));
    // call *x(%rip) (ff /2) reads; incl x(%rip) (ff /0) writes.
    assert!(reads_only(&[0xff, 0x15, 0, 0, 0, 0], 2));
    assert!(!reads_only(&[0xff, 0x05, 0, 0, 0, 0], 2));
    // movzbl x(%rip), %eax needs its 0F escape.
    assert!(reads_only(&[0x0f, 0xb6, 0x05, 0, 0, 0, 0], 3));
    assert!(!reads_only(&[0x90, 0xb6, 0x05, 0, 0, 0, 0], 3));
    // Not RIP-relative at all.
    assert!(!reads_only(&[0x8b, 0x04, 0, 0, 0, 0], 2));
}

/// A relaxed `jmp` moves its field one byte back: its value is one more;
/// `lea` → `mov` rewrites only the opcode.
#[test]
fn relaxed_values_and_lea_to_mov() {
    assert_eq!(relaxed_value(Relax::Jmp, 100), 101);
    assert_eq!(relaxed_value(Relax::Call, 100), 100);
    assert_eq!(relaxed_value(Relax::MovToLea, -7), -7);
    let mut b = [0x48, 0x8d, 0x05, 1, 2, 3, 4];
    address_to_load(&mut b, 3);
    assert_eq!(b, [0x48, 0x8b, 0x05, 1, 2, 3, 4]);
    // call *x@GOTPCREL(%rip) with addend 0 loads the slot's high half: no relaxation.
    assert_eq!(relaxation(&[0xff, 0x15, 0, 0, 0, 0], 2, 0), None);
    assert_eq!(relaxation(&[0xff, 0x25, 0, 0, 0, 0], 1, -4), None);
}

/// An IFUNC stub is `jmp *slot(%rip)` padded with int3 to 8 bytes.
#[test]
fn ifunc_stub_bytes() {
    let mut b = [0u8; IFUNC_STUB_SIZE];
    write_ifunc_stub(&mut b, 0x1000, 0x2000);
    // 0x2000 − (0x1000 + 6) = 0xffa
    assert_eq!(b, [0xff, 0x25, 0xfa, 0x0f, 0, 0, 0xcc, 0xcc]);
    // A slot below the stub: a negative displacement.
    write_ifunc_stub(&mut b, 0x2000, 0x1000);
    assert_eq!(i32::from_le_bytes(b[2..6].try_into().unwrap()), -0x1006);
}

/// The `atexit` stub: lea handle into %rdx, zero %esi, jmp through the slot.
#[test]
fn atexit_stub_bytes() {
    let mut b = [0u8; ATEXIT_STUB_SIZE];
    write_handle_stub(
        &mut b,
        0x1000,
        0x3000,
        0x2000,
        HandleArg::Third { zero_second: true },
    );
    let mut want = vec![0x48, 0x8d, 0x15];
    want.extend_from_slice(&(0x3000i32 - 0x1007).to_le_bytes());
    want.extend_from_slice(&[0x31, 0xf6, 0xff, 0x25]);
    want.extend_from_slice(&(0x2000i32 - 0x100f).to_le_bytes());
    want.push(0xcc);
    assert_eq!(&b[..], &want[..]);
    // at_quick_exit: the handle goes to %rsi (modrm 0x35), nothing zeroed.
    write_handle_stub(&mut b, 0x1000, 0x3000, 0x2000, HandleArg::Second);
    assert_eq!(&b[..3], &[0x48, 0x8d, 0x35]);
    assert_eq!(&b[7..9], &[0xff, 0x25]);
    assert_eq!(&b[13..], &[0xcc, 0xcc, 0xcc]);
}

/// Narrow fields are stored little-endian in exactly their width.
#[test]
fn narrow_field_writes() {
    let mut b = [0xaa; 8];
    Field::S8.write(&mut b, -1);
    assert_eq!(b, [0xff, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa]);
    Field::B16.write(&mut b, 0xfffe);
    assert_eq!(&b[..3], &[0xfe, 0xff, 0xaa]);
    Field::S32.write(&mut b, -2);
    assert_eq!(&b[..5], &[0xfe, 0xff, 0xff, 0xff, 0xaa]);
    assert_eq!(Field::U32.range(), (0, 0xffff_ffff));
    assert_eq!(Field::U32.describe(), "an unsigned 32-bit field");
    assert_eq!(Field::W64.width(), 8);
}
