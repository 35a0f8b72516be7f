//! Hot reload's link stage (`link::entries`): what an edit changed.

use object::elf;

use super::build::Obj;
use super::parsed;
use crate::link::entries::{changes, Changes};

/// Three functions `a`, `b`, `c` of 4 bytes each, `b`'s first byte
/// `b0`, and `d` when asked; `c` calls `a` through the section symbol.
fn object(b0: u8, with_d: bool, shift: bool) -> Vec<u8> {
    let mut o = Obj::new();
    // With `shift`, 4 bytes of padding before `a`: every function
    // moves in its section, nothing changes.
    let pad = if shift { 4 } else { 0 };
    let mut code = vec![0x90; pad as usize];
    code.extend([0xc3, 0, 0, 0, b0, 0, 0, 0, 0xe8, 0, 0, 0, 0, 0xc3, 0, 0]);
    if with_d {
        code.extend([0xc3, 1, 1, 1]);
    }
    let text = o.text(&code);
    o.func("a", text, pad, 4);
    o.func("b", text, pad + 4, 4);
    o.func("c", text, pad + 8, 8);
    if with_d {
        o.func("d", text, pad + 16, 4);
    }
    let section = o.section_symbol(text);
    o.reloc(text, pad + 9, section, elf::R_X86_64_PLT32, pad as i64 - 4);
    o.bytes()
}

#[test]
fn changes_name_edited_added_and_removed_functions() {
    let v1 = object(0xc3, false, false);
    let same_but_moved = object(0xc3, false, true);
    let edited = object(0x90, true, false);
    let (a, b, c) = (parsed(&v1), parsed(&same_but_moved), parsed(&edited));
    assert_eq!(changes(&a, &b), Changes::default(), "moving is no change");
    assert_eq!(
        changes(&a, &c),
        Changes {
            changed: vec!["b".into()],
            added: vec!["d".into()],
            removed: vec![],
        }
    );
    assert_eq!(changes(&c, &a).removed, vec!["d".to_string()]);
}
