//! `layout`: offsets by permission (text, then read-only, then data and
//! bss), alignment, input order, objdl's own stubs and slots, thread-locals
//! kept out of the unit, and the GOT after everything.

use super::build::Obj;
use super::unit;
use crate::link::layout::PAGE;
use crate::link::unit_layout::NOT_LOADED;
use object::SectionKind as K;

/// Section `name` of input `oi`: its offset in the unit.
fn offset(u: &super::Unit<'_>, oi: usize, name: &str) -> u64 {
    let si = u.objects[oi]
        .sections
        .iter()
        .position(|s| s.name == name)
        .unwrap_or_else(|| panic!("no section {name}"));
    u.layout.sec_offsets[oi][si]
}

/// Text from 0 with the four `atexit`-family stubs after it; read-only,
/// data and bss each from a new page; the handle between data and bss.
#[test]
fn permission_groups() {
    let mut o = Obj::new();
    o.text(&[0x90; 16]);
    o.rodata(&[1; 8]);
    o.data(&[2; 8]);
    o.bss(16, 8);
    let inputs = [o.bytes()];
    let u = unit(&inputs).unwrap();
    let l = &u.layout;
    assert_eq!(offset(&u, 0, ".text"), 0);
    assert_eq!(l.synthetic.stubs, [16, 32, 48, 64]);
    assert_eq!((l.text.offset, l.text.size), (0, 80));
    assert_eq!(offset(&u, 0, ".rodata"), PAGE);
    assert_eq!(l.synthetic.stub_slots, [0x1008, 0x1010, 0x1018, 0x1020]);
    assert_eq!((l.rodata.offset, l.rodata.size), (PAGE, 40));
    assert_eq!(offset(&u, 0, ".data"), 2 * PAGE);
    assert_eq!(l.synthetic.dso_handle, 0x2008);
    assert_eq!(offset(&u, 0, ".bss"), 0x2010);
    // The GOT (and after it the trampolines) start on the next page.
    assert_eq!(l.got_offset, 3 * PAGE);
    assert_eq!(l.section_count, 4);
}

/// Each section is aligned as it asks, in input order across objects.
#[test]
fn alignment_and_input_order() {
    let mut a = Obj::new();
    a.section(".data.a", K::Data, &[1; 3], 1);
    a.section(".text.a", K::Text, &[0x90; 5], 4);
    let mut b = Obj::new();
    b.section(".data.b", K::Data, &[2; 8], 64);
    b.section(".text.b", K::Text, &[0x90; 5], 32);
    let inputs = [a.bytes(), b.bytes()];
    let u = unit(&inputs).unwrap();
    assert_eq!(offset(&u, 0, ".text.a"), 0);
    assert_eq!(offset(&u, 1, ".text.b"), 32);
    assert_eq!(offset(&u, 0, ".data.a"), 2 * PAGE);
    assert_eq!(offset(&u, 1, ".data.b"), 2 * PAGE + 64);
}

/// COMMON storage follows bss, each aligned as its symbol asks.
#[test]
fn commons_after_bss() {
    let mut o = Obj::new();
    o.bss(4, 4);
    o.common("c1", 3, 1);
    o.common("c2", 8, 32);
    let inputs = [o.bytes()];
    let u = unit(&inputs).unwrap();
    let bss = offset(&u, 0, ".bss");
    // No data: the handle opens the data page, bss follows it.
    assert_eq!(u.layout.synthetic.dso_handle, 2 * PAGE);
    assert_eq!(bss, 2 * PAGE + 8);
    assert_eq!(u.layout.common_offsets, [bss + 4, 2 * PAGE + 32]);
    assert_eq!(u.layout.got_offset, 3 * PAGE);
}

/// `.tdata`/`.tbss` are not in the unit: they make the TLS block's template.
#[test]
fn thread_locals_make_a_template() {
    let mut o = Obj::new();
    let td = o.tdata(&[1, 2, 3, 4, 5, 6, 7, 8]);
    let tb = o.tbss(16);
    o.tls("a", td, 0, 8);
    o.tls("b", tb, 0, 16);
    let inputs = [o.bytes()];
    let u = unit(&inputs).unwrap();
    assert_eq!(offset(&u, 0, ".tdata"), NOT_LOADED);
    assert_eq!(offset(&u, 0, ".tbss"), NOT_LOADED);
    let tls = &u.layout.tls;
    assert_eq!(tls.offsets[&(0, 1)], 0);
    assert_eq!(tls.offsets[&(0, 2)], 8);
    assert_eq!((tls.size, tls.align), (24, 8));
    assert_eq!(&tls.image[..8], &[1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(u.layout.section_count, 0);
}

/// Unallocated sections and discarded COMDAT copies get no offset.
#[test]
fn unloaded_sections() {
    let group = || {
        let mut o = Obj::new();
        let t = o.section(".text.f", K::Text, &[0xc3], 1);
        let f = o.weak("f", t, 0, 1);
        o.comdat(f, &[t]);
        o.section(".comment", K::OtherString, b"x\0", 1);
        o.bytes()
    };
    let inputs = [group(), group()];
    let u = unit(&inputs).unwrap();
    assert_eq!(offset(&u, 0, ".text.f"), 0);
    assert_eq!(offset(&u, 1, ".text.f"), NOT_LOADED);
    assert_eq!(offset(&u, 0, ".comment"), NOT_LOADED);
    assert_eq!(u.layout.section_count, 1);
}

/// `.eh_frame` sits with read-only data, with room for a 4-byte terminator after it.
#[test]
fn eh_frame_terminator_room() {
    let mut o = Obj::new();
    o.section(".eh_frame", K::ReadOnlyData, &[0; 16], 8);
    o.section(".rodata.x", K::ReadOnlyData, &[1], 1);
    let inputs = [o.bytes()];
    let u = unit(&inputs).unwrap();
    assert_eq!(offset(&u, 0, ".eh_frame"), PAGE);
    assert_eq!(u.layout.eh_frames, [PAGE]);
    assert_eq!(offset(&u, 0, ".rodata.x"), PAGE + 16 + 4);
}

/// The GOT starts on a page after every section, bss and COMMON included.
#[test]
fn got_after_everything() {
    let mut o = Obj::new();
    o.text(&[0x90; 5000]);
    o.bss(3 * PAGE as usize + 1, 8);
    let inputs = [o.bytes()];
    let u = unit(&inputs).unwrap();
    let bss = offset(&u, 0, ".bss");
    // Text takes two pages, so data (here only the handle) starts at the fourth.
    assert_eq!(bss, 3 * PAGE + 8);
    assert_eq!(
        u.layout.got_offset,
        crate::link::layout::align_up(bss + 3 * PAGE + 1, PAGE)
    );
    assert_eq!(u.layout.got_offset, 7 * PAGE);
}
