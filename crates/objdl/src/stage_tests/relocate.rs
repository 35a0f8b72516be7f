//! The relocation arithmetic end to end: `Linker::check` of in-memory
//! objects at a fixed base (`Placement::At`), the image bytes compared with
//! values computed by hand (S + A − P and friends), trampolines, GOT slots
//! and the rewrites of the instructions around the fields.

use super::build::Obj;
use super::{check_at, i32_at, section_address, u64_at};
use crate::error::Error;
use object::elf;

/// Where the units below are checked: text at BASE, read-only data at
/// BASE + 0x1000, data at BASE + 0x2000, the GOT (or the trampolines, if
/// there is no GOT) at BASE + 0x3000.
const BASE: u64 = 0x1000_0000;
/// A host address no low unit reaches with 32 bits.
const FAR: u64 = 0x7000_0000_0000;

const CALL: [u8; 5] = [0xe8, 0, 0, 0, 0];
const LEA: [u8; 7] = [0x48, 0x8d, 0x05, 0, 0, 0, 0];
const LOAD: [u8; 7] = [0x48, 0x8b, 0x05, 0, 0, 0, 0];
const MOV_IMM: [u8; 5] = [0xb8, 0, 0, 0, 0];

/// One object: `.text` holding `code`, `.data` of 0x20 bytes with the
/// 8-byte global `d` at 0x10, and one relocation of `r_type` at `offset`
/// in `.text` against `sym` (`"d"`, or an undefined name), + `addend`.
fn text_unit(
    code: &[u8],
    offset: u64,
    r_type: elf::RelocationType,
    sym: &str,
    addend: i64,
) -> Vec<u8> {
    let mut o = Obj::new();
    let text = o.text(code);
    let data = o.data(&[0; 0x20]);
    let d = o.global("d", data, 0x10, 8);
    let s = if sym == "d" { d } else { o.undefined(sym) };
    o.reloc(text, offset, s, r_type, addend);
    o.bytes()
}

/// One object whose 0x20-byte `.data` holds one relocation of `r_type` at 0
/// against `sym` (`"d"`: its own 8 bytes at 0x10; else undefined), + `addend`.
fn data_unit(r_type: elf::RelocationType, sym: &str, addend: i64) -> Vec<u8> {
    let mut o = Obj::new();
    let data = o.data(&[0; 0x20]);
    let d = o.global("d", data, 0x10, 8);
    let s = if sym == "d" { d } else { o.undefined(sym) };
    o.reloc(data, 0, s, r_type, addend);
    o.bytes()
}

/// PC32 to the unit's own data: S + A − P, with the layout's offsets.
#[test]
fn pc32_internal() {
    let r = check_at(
        BASE,
        &[],
        &[text_unit(&LOAD, 3, elf::R_X86_64_PC32, "d", -4)],
    )
    .unwrap();
    assert_eq!(r.stats.base, BASE);
    assert_eq!(section_address(&r, "a.o", ".text"), BASE);
    assert_eq!(section_address(&r, "a.o", ".data"), BASE + 0x2000);
    // (BASE + 0x2010) − 4 − (BASE + 3)
    assert_eq!(i32_at(&r.image, 3), 0x2009);
    assert_eq!(&r.image[..3], &LOAD[..3]);
    assert!(r.trampolines.is_empty() && r.got_slots.is_empty());
}

/// R_X86_64_64 to a host symbol: its address plus the addend, in 64 bits.
#[test]
fn abs64_host_with_addend() {
    let r = check_at(
        BASE,
        &[("ext", FAR + 0x1234)],
        &[data_unit(elf::R_X86_64_64, "ext", 0x10)],
    )
    .unwrap();
    assert_eq!(u64_at(&r.image, 0x2000), FAR + 0x1244);
}

/// R_X86_64_32 to the unit's own data: the absolute address, which fits at a low base.
#[test]
fn abs32_internal_at_a_low_base() {
    let r = check_at(
        BASE,
        &[],
        &[text_unit(&MOV_IMM, 1, elf::R_X86_64_32, "d", 4)],
    )
    .unwrap();
    assert_eq!(i32_at(&r.image, 1) as u32 as u64, BASE + 0x2014);
    assert_eq!(r.stats.window, (0x10000, 0xffff_ffff - 0x2014));
}

/// The same R_X86_64_32 at a base above 4 GiB cannot be served, and says where.
#[test]
fn abs32_internal_at_a_high_base_is_refused() {
    let err = check_at(
        0x1_0000_0000,
        &[],
        &[text_unit(&MOV_IMM, 1, elf::R_X86_64_32, "d", 0)],
    )
    .unwrap_err();
    let Error::Unreachable { sites, .. } = &err else {
        panic!("{err}");
    };
    assert_eq!(sites.len(), 1);
    assert_eq!(sites[0].site.to_string(), "a.o:.text+0x1");
    assert_eq!(sites[0].r_type, "R_X86_64_32");
    assert_eq!(sites[0].symbol, "d");
}

/// A call out of reach goes through a trampoline `jmp *0(%rip); .quad FAR`.
#[test]
fn far_call_through_a_trampoline() {
    let r = check_at(
        BASE,
        &[("ext", FAR)],
        &[text_unit(&CALL, 1, elf::R_X86_64_PLT32, "ext", -4)],
    )
    .unwrap();
    assert_eq!(r.trampolines.len(), 1);
    let t = &r.trampolines[0];
    assert_eq!(
        (t.address, t.target, t.symbol.as_str()),
        (BASE + 0x3000, FAR, "ext")
    );
    let mut want = vec![0xff, 0x25, 0, 0, 0, 0];
    want.extend_from_slice(&FAR.to_le_bytes());
    assert_eq!(&r.image[0x3000..0x300e], &want[..]);
    // The call lands on the trampoline: T − (P + 4).
    assert_eq!(i32_at(&r.image, 1), 0x3000 - 5);
    assert_eq!(r.image[0], 0xe8);
    assert_eq!(r.stats.trampolines, 1);
}

/// A call in reach is written directly: no trampoline.
#[test]
fn near_call_is_direct() {
    let near = BASE + 0x100_0000;
    let r = check_at(
        BASE,
        &[("ext", near)],
        &[text_unit(&CALL, 1, elf::R_X86_64_PLT32, "ext", -4)],
    )
    .unwrap();
    assert!(r.trampolines.is_empty());
    assert_eq!(i32_at(&r.image, 1) as i64, (near - (BASE + 5)) as i64);
}

/// A GOT load of a far symbol keeps its load and gets a slot holding the address.
#[test]
fn far_got_load_gets_a_slot() {
    let r = check_at(
        BASE,
        &[("ext", FAR)],
        &[text_unit(&LOAD, 3, elf::R_X86_64_REX_GOTPCRELX, "ext", -4)],
    )
    .unwrap();
    assert_eq!(r.got_slots.len(), 1);
    assert_eq!(
        (r.got_slots[0].address, r.got_slots[0].value),
        (BASE + 0x3000, FAR)
    );
    assert_eq!(u64_at(&r.image, 0x3000), FAR);
    assert_eq!(r.image[1], 0x8b);
    // G + A − P = 0x3000 − 4 − 3
    assert_eq!(i32_at(&r.image, 3), 0x2ff9);
}

/// A GOT load of the unit's own symbol becomes a `lea` of it.
#[test]
fn internal_got_load_relaxes_to_lea() {
    let r = check_at(
        BASE,
        &[],
        &[text_unit(&LOAD, 3, elf::R_X86_64_REX_GOTPCRELX, "d", -4)],
    )
    .unwrap();
    assert_eq!(&r.image[..3], &[0x48, 0x8d, 0x05]);
    assert_eq!(i32_at(&r.image, 3), 0x2009);
    assert!(r.got_slots.is_empty());
    assert_eq!(r.stats.relaxations, 1);
}

/// `call *f@GOTPCREL(%rip)` to a near host function becomes `addr32 call f`.
#[test]
fn near_got_call_relaxes() {
    let near = BASE + 0x10_0000;
    let code = [0xff, 0x15, 0, 0, 0, 0];
    let r = check_at(
        BASE,
        &[("ext", near)],
        &[text_unit(&code, 2, elf::R_X86_64_GOTPCRELX, "ext", -4)],
    )
    .unwrap();
    assert_eq!(&r.image[..2], &[0x67, 0xe8]);
    assert_eq!(i32_at(&r.image, 2) as i64, (near - (BASE + 6)) as i64);
    assert!(r.got_slots.is_empty());
}

/// `jmp *f@GOTPCREL(%rip)` to the unit's own code becomes `jmp f; nop`.
#[test]
fn internal_got_jump_relaxes() {
    let mut o = Obj::new();
    let mut code = vec![0xff, 0x25, 0, 0, 0, 0];
    code.extend_from_slice(&[0xc3; 10]);
    let text = o.text(&code);
    let f = o.func("f", text, 8, 1);
    o.reloc(text, 2, f, elf::R_X86_64_GOTPCRELX, -4);
    let r = check_at(BASE, &[], &[o.bytes()]).unwrap();
    // The field moves to offset 1: f − (BASE + 5).
    assert_eq!(&r.image[..6], &[0xe9, 3, 0, 0, 0, 0x90]);
}

/// A `lea` of a far address becomes a `mov` from a GOT slot holding it.
#[test]
fn far_lea_becomes_a_load() {
    let r = check_at(
        BASE,
        &[("ext", FAR)],
        &[text_unit(&LEA, 3, elf::R_X86_64_PC32, "ext", -4)],
    )
    .unwrap();
    assert_eq!(&r.image[..3], &[0x48, 0x8b, 0x05]);
    assert_eq!(r.got_slots.len(), 1);
    assert_eq!(r.got_slots[0].value, FAR);
    assert_eq!(i32_at(&r.image, 3), 0x2ff9);
    assert_eq!(r.stats.address_rewrites, 1);
    // The stats line keeps the figure's old name, which tools parse.
    let line = r.stats.to_string();
    assert!(
        line.contains(" relaxations 0 lea-rewrites 1 copies 0 "),
        "{line}"
    );
}

/// A RIP-relative load of far host data is refused, naming the site and the fix.
#[test]
fn far_data_load_is_refused() {
    let err = check_at(
        BASE,
        &[("ext", FAR)],
        &[text_unit(&LOAD, 3, elf::R_X86_64_PC32, "ext", -4)],
    )
    .unwrap_err();
    let Error::Unreachable { sites, fix } = &err else {
        panic!("{err}");
    };
    assert_eq!(sites[0].site.to_string(), "a.o:.text+0x3");
    assert_eq!(sites[0].symbol, "ext");
    assert_eq!(sites[0].target, FAR);
    assert_eq!(*fix, crate::error::UnreachableFix::Pic);
    assert!(
        err.to_string()
            .contains("a.o:.text+0x3 R_X86_64_PC32 against `ext`"),
        "{err}"
    );
}

/// SIZE32 is the symbol's size plus the addend; PC64 is S + A − P in 64 bits.
#[test]
fn size_and_pc64() {
    let r = check_at(BASE, &[], &[data_unit(elf::R_X86_64_SIZE32, "d", 2)]).unwrap();
    assert_eq!(i32_at(&r.image, 0x2000), 10);
    let r = check_at(
        BASE,
        &[("ext", FAR)],
        &[data_unit(elf::R_X86_64_PC64, "ext", 1)],
    )
    .unwrap();
    assert_eq!(u64_at(&r.image, 0x2000), FAR + 1 - (BASE + 0x2000));
}

/// A weak undefined symbol is 0: the field holds the addend alone.
#[test]
fn weak_undefined_is_zero_plus_addend() {
    let mut o = Obj::new();
    let data = o.data(&[0xaa; 8]);
    let w = o.weak_undefined("objdl_test_absent");
    o.reloc(data, 0, w, elf::R_X86_64_64, 5);
    let r = check_at(BASE, &[], &[o.bytes()]).unwrap();
    assert_eq!(u64_at(&r.image, 0x2000), 5);
}

/// A COMMON symbol's storage follows the handle, and absolutes point at it.
#[test]
fn common_storage_address() {
    let mut o = Obj::new();
    let data = o.data(&[0; 8]);
    let c = o.common("c", 8, 8);
    o.reloc(data, 0, c, elf::R_X86_64_64, 0);
    let r = check_at(BASE, &[], &[o.bytes()]).unwrap();
    // .data 0x2000..0x2008, __dso_handle at 0x2008, `c` at 0x2010.
    assert_eq!(u64_at(&r.image, 0x2000), BASE + 0x2010);
}

/// A base that is not aligned as the unit needs is refused.
#[test]
fn misaligned_base_is_refused() {
    let err = check_at(BASE + 0x800, &[], &[data_unit(elf::R_X86_64_64, "d", 0)]).unwrap_err();
    assert!(matches!(err, Error::NoPlacement { .. }));
    assert!(err
        .to_string()
        .contains("0x10000800 is not aligned to 0x1000, as the unit (a.o) needs"));
}
