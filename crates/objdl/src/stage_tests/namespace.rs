//! The namespace: exports of Global units, first come first served, found
//! by later units and by `Linker::lookup`, and gone when their unit closes.

use super::build::Obj;
use super::{input_name, u64_at};
use crate::{Input, Linker, OpenOptions, Placement, Scope, Unit};
use object::elf;

/// An object exporting the 8-byte `name` at offset `at` of its `.data`.
fn exporting(name: &str, at: u64) -> Vec<u8> {
    let mut o = Obj::new();
    let data = o.data(&[0; 0x20]);
    o.global(name, data, at, 8);
    o.bytes()
}

/// Opens `bytes` without running anything, with `scope`.
fn open(linker: &Linker, bytes: Vec<u8>, scope: Scope) -> Unit {
    let mut opts = OpenOptions::new();
    opts.scope(scope).no_exec(true).implicit_libraries(false);
    // SAFETY: no_exec: none of the unit's code runs (it has none).
    unsafe { opts.open(linker, [Input::bytes(input_name(0), bytes)]) }.expect("open")
}

/// A Global unit's exports are in the scope; a Local unit's are not.
#[test]
fn global_exports_are_found() {
    let linker = Linker::new();
    let local = open(&linker, exporting("objdl_ns_local", 0), Scope::Local);
    assert_eq!(linker.lookup("objdl_ns_local"), None);
    let global = open(&linker, exporting("objdl_ns_global", 0x10), Scope::Global);
    let addr = global.address("objdl_ns_global").expect("exported");
    assert_eq!(linker.lookup("objdl_ns_global"), Some(addr));
    assert_eq!(addr % 0x1000, 0x10);
    drop(local);
}

/// A later unit binds to the Global unit's export (before the host's `define`).
#[test]
fn later_units_bind_to_global_exports() {
    let linker = Linker::new();
    linker.define("objdl_ns_shared", 0x1234 as *const ());
    let global = open(&linker, exporting("objdl_ns_shared", 8), Scope::Global);
    let addr = global.address("objdl_ns_shared").unwrap();
    let mut o = Obj::new();
    let data = o.data(&[0; 8]);
    let s = o.undefined("objdl_ns_shared");
    o.reloc(data, 0, s, elf::R_X86_64_64, 0);
    let mut opts = OpenOptions::new();
    opts.placement(Placement::At(0x1000_0000))
        .implicit_libraries(false);
    let r = linker
        .check([Input::bytes("b.o", o.bytes())], &opts)
        .unwrap();
    assert_eq!(u64_at(&r.image, 0x2000), addr);
}

/// Of two Global units defining a name the first wins; when it closes, the next takes over.
#[test]
fn first_global_wins_then_the_next() {
    let linker = Linker::new();
    let first = open(&linker, exporting("objdl_ns_twice", 0), Scope::Global);
    let second = open(&linker, exporting("objdl_ns_twice", 0), Scope::Global);
    let (a1, a2) = (
        first.address("objdl_ns_twice").unwrap(),
        second.address("objdl_ns_twice").unwrap(),
    );
    assert_ne!(a1, a2);
    assert_eq!(linker.lookup("objdl_ns_twice"), Some(a1));
    first.close();
    assert_eq!(linker.lookup("objdl_ns_twice"), Some(a2));
    second.close();
    assert_eq!(linker.lookup("objdl_ns_twice"), None);
}
