//! `resolve`: the order in which a global name finds its definition —
//! strong > weak > COMMON within the unit, the unit before the host's
//! `define`s, those before `dlsym` — and what stays unresolved.

use super::build::Obj;
use super::{unit, unit_with};
use crate::error::Error;
use crate::input::ObjectFile;
use crate::link::resolution::{Synthetic, Target};
use crate::scope::host::Host;

/// The target of global `name` as input `oi` sees it.
fn target(u: &super::Unit<'_>, oi: usize, name: &str) -> Target {
    let obj: &ObjectFile<'_> = &u.objects[oi];
    let si = (0..obj.symbols.len())
        .find(|&i| obj.symbols[i].name == name)
        .unwrap_or_else(|| panic!("no global {name} in {}", obj.name));
    u.res.targets.get(obj, oi, si)
}

/// An object defining `name` in its `.data`, strong, weak or COMMON, at `value`.
fn defining(name: &str, how: &str, value: u64) -> Vec<u8> {
    let mut o = Obj::new();
    let data = o.data(&[0; 32]);
    match how {
        "strong" => o.global(name, data, value, 4),
        "weak" => o.weak(name, data, value, 4),
        "common" => o.common(name, value, 8),
        _ => unreachable!(),
    };
    o.bytes()
}

/// A strong definition wins over an earlier weak one, whatever the order.
#[test]
fn strong_beats_weak() {
    let inputs = [defining("x", "weak", 4), defining("x", "strong", 8)];
    let u = unit(&inputs).unwrap();
    let want = Target::Section {
        obj: 1,
        sec: 1,
        value: 8,
        size: 4,
    };
    assert_eq!(target(&u, 0, "x"), want);
    assert_eq!(target(&u, 1, "x"), want);
}

/// Of two weak definitions the first wins.
#[test]
fn first_weak_wins() {
    let inputs = [defining("x", "weak", 4), defining("x", "weak", 8)];
    let u = unit(&inputs).unwrap();
    assert_eq!(
        target(&u, 1, "x"),
        Target::Section {
            obj: 0,
            sec: 1,
            value: 4,
            size: 4
        }
    );
}

/// A weak definition beats COMMON, and COMMON storage is then not allocated.
#[test]
fn weak_beats_common() {
    let inputs = [defining("x", "common", 16), defining("x", "weak", 8)];
    let u = unit(&inputs).unwrap();
    assert_eq!(
        target(&u, 0, "x"),
        Target::Section {
            obj: 1,
            sec: 1,
            value: 8,
            size: 4
        }
    );
    assert!(u.res.commons.is_empty());
}

/// COMMON definitions merge into one allocation of the largest size and alignment.
#[test]
fn commons_merge() {
    let mut a = Obj::new();
    a.common("c", 8, 4);
    let mut b = Obj::new();
    b.common("c", 24, 16);
    let inputs = [a.bytes(), b.bytes()];
    let u = unit(&inputs).unwrap();
    assert_eq!(target(&u, 0, "c"), Target::Common(0));
    assert_eq!(target(&u, 1, "c"), Target::Common(0));
    assert_eq!(u.res.commons.len(), 1);
    assert_eq!((u.res.commons[0].size, u.res.commons[0].align), (24, 16));
}

/// Two strong definitions of one name are an error naming both inputs.
#[test]
fn duplicate_strong_definitions() {
    let inputs = [defining("x", "strong", 0), defining("x", "strong", 4)];
    let err = unit(&inputs).err().expect("a duplicate");
    assert!(matches!(err, Error::DuplicateSymbol { .. }));
    assert_eq!(
        err.to_string(),
        "duplicate definition of `x`: first in a.o, again in b.o"
    );
}

/// The unit's own definition beats the host's `define` and `dlsym`.
#[test]
fn unit_before_host() {
    let host = Host::default();
    host.define("puts", 0x1234_5000);
    let mut o = Obj::new();
    let text = o.text(&[0xc3]);
    o.func("puts", text, 0, 1);
    let inputs = [o.bytes()];
    let u = unit_with(&host, &inputs).unwrap();
    assert_eq!(
        target(&u, 0, "puts"),
        Target::Section {
            obj: 0,
            sec: 1,
            value: 0,
            size: 1
        }
    );
}

/// A host `define` beats `dlsym`; `dlsym` (the process's scope) comes last.
#[test]
fn define_before_dlsym() {
    let host = Host::default();
    host.define("puts", 0x1234_5000);
    let mut o = Obj::new();
    o.undefined("puts");
    o.undefined("strlen");
    let inputs = [o.bytes()];
    let u = unit_with(&host, &inputs).unwrap();
    assert_eq!(target(&u, 0, "puts"), Target::absolute(0x1234_5000));
    // SAFETY: dlsym with a NUL-terminated name.
    let strlen = unsafe { libc::dlsym(libc::RTLD_DEFAULT, c"strlen".as_ptr()) } as u64;
    assert_ne!(strlen, 0);
    assert_eq!(target(&u, 0, "strlen"), Target::absolute(strlen));
}

/// An undefined weak reference nothing defines resolves to address 0.
#[test]
fn weak_undefined_is_zero() {
    let mut o = Obj::new();
    o.weak_undefined("objdl_test_nowhere");
    let inputs = [o.bytes()];
    let u = unit(&inputs).unwrap();
    assert_eq!(target(&u, 0, "objdl_test_nowhere"), Target::absolute(0));
}

/// Every unresolved name is reported once, for the first input using it.
#[test]
fn unresolved_names_once_each() {
    let mut a = Obj::new();
    a.undefined("objdl_test_missing_1");
    a.undefined("objdl_test_missing_2");
    let mut b = Obj::new();
    b.undefined("objdl_test_missing_1");
    let inputs = [a.bytes(), b.bytes()];
    let Err(Error::Unresolved(list)) = unit(&inputs) else {
        panic!("expected Unresolved");
    };
    let got: Vec<(&str, &str)> = list
        .iter()
        .map(|u| (u.symbol.as_str(), u.file.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("objdl_test_missing_1", "a.o"),
            ("objdl_test_missing_2", "a.o")
        ]
    );
}

/// Of two COMDAT groups with one signature the first is kept; the second's
/// sections are discarded and its symbols bind to the first's.
#[test]
fn comdat_first_wins() {
    let group = |fill: u8| {
        let mut o = Obj::new();
        let t = o.section(".text.f", object::SectionKind::Text, &[fill; 4], 1);
        let f = o.weak("f", t, 0, 4);
        o.comdat(f, &[t]);
        o.bytes()
    };
    let inputs = [group(0x90), group(0xcc)];
    let u = unit(&inputs).unwrap();
    let si = u.objects[1]
        .sections
        .iter()
        .position(|s| s.name == ".text.f")
        .unwrap();
    assert!(u.objects[1].sections[si].discarded);
    assert!(!u.objects[0].sections[si].discarded);
    assert_eq!(target(&u, 1, "f"), target(&u, 0, "f"));
    assert!(matches!(target(&u, 1, "f"), Target::Section { obj: 0, .. }));
    assert_eq!(u.res.groups, ["f"]);
}

/// `__dso_handle` and `atexit` are the unit's own; `__start_`/`__stop_` bound a section name.
#[test]
fn synthetics_and_section_bounds() {
    let mut o = Obj::new();
    o.section("my_set", object::SectionKind::Data, &[0; 24], 8);
    o.undefined("__dso_handle");
    o.undefined("atexit");
    o.undefined("__start_my_set");
    o.undefined("__stop_my_set");
    let inputs = [o.bytes()];
    let u = unit(&inputs).unwrap();
    assert_eq!(
        target(&u, 0, "__dso_handle"),
        Target::Synthetic(Synthetic::DsoHandle)
    );
    assert_eq!(
        target(&u, 0, "atexit"),
        Target::Synthetic(Synthetic::Atexit)
    );
    assert_eq!(
        target(&u, 0, "__start_my_set"),
        Target::Bound {
            index: 0,
            stop: false
        }
    );
    assert_eq!(
        target(&u, 0, "__stop_my_set"),
        Target::Bound {
            index: 0,
            stop: true
        }
    );
    assert_eq!(u.res.bounds, ["my_set"]);
    // The bounds enclose the section: 24 bytes apart.
    let (start, stop) = u.layout.bounds[0];
    assert_eq!(stop - start, 24);
}
