//! `archive::select`: members are pulled, as GNU ld pulls them, when they
//! define a name still undefined (and not weak), repeatedly, with or
//! without the archive's symbol index.

use super::build::{archive, Obj};
use super::parsed;
use crate::input::archive::select;
use crate::input::ObjectFile;

/// A member defining `defines` (in `.text`) and referring to `needs`.
fn member(defines: &str, needs: &[&str]) -> Vec<u8> {
    let mut o = Obj::new();
    let text = o.text(&[0xc3]);
    o.func(defines, text, 0, 1);
    for n in needs {
        o.undefined(n);
    }
    o.bytes()
}

/// An object referring to `needs` strongly and `weak` weakly.
fn user(needs: &[&str], weak: &[&str]) -> Vec<u8> {
    let mut o = Obj::new();
    for n in needs {
        o.undefined(n);
    }
    for n in weak {
        o.weak_undefined(n);
    }
    o.bytes()
}

/// The names of the objects after selecting from `lib.a` = `members`.
fn selected(main: &[u8], members: &[(&str, &[u8])], index: bool) -> Vec<String> {
    let lib = archive(members, index);
    let mut objects: Vec<ObjectFile<'_>> = vec![parsed(main)];
    select(&mut objects, &[("lib.a", &lib)], &[], &|_| false).expect("select");
    objects.iter().map(|o| o.name.clone()).collect()
}

/// Only members defining a needed name are pulled, with or without an index.
#[test]
fn pulls_only_what_is_needed() {
    let (foo, bar) = (member("foo", &[]), member("bar", &[]));
    let main = user(&["foo"], &[]);
    for index in [true, false] {
        assert_eq!(
            selected(&main, &[("foo.o", &foo), ("bar.o", &bar)], index),
            ["t.o", "lib.a(foo.o)"],
            "index {index}"
        );
    }
}

/// A pulled member's own undefined names pull further members, even earlier ones.
#[test]
fn pulls_transitively() {
    let (bar, foo) = (member("bar", &[]), member("foo", &["bar"]));
    let main = user(&["foo"], &[]);
    for index in [true, false] {
        assert_eq!(
            selected(&main, &[("bar.o", &bar), ("foo.o", &foo)], index),
            ["t.o", "lib.a(foo.o)", "lib.a(bar.o)"],
            "index {index}"
        );
    }
}

/// Weak references and names the objects define pull nothing.
#[test]
fn weak_or_defined_names_pull_nothing() {
    let foo = member("foo", &[]);
    let main = user(&[], &["foo"]);
    assert_eq!(selected(&main, &[("foo.o", &foo)], true), ["t.o"]);
    let mut o = Obj::new();
    let text = o.text(&[0xc3]);
    o.func("foo", text, 0, 1);
    o.undefined("foo");
    let main = o.bytes();
    assert_eq!(selected(&main, &[("foo.o", &foo)], true), ["t.o"]);
}

/// An implicit library's member is not pulled for a name defined outside the unit.
#[test]
fn implicit_archives_yield_to_the_process() {
    let foo = member("foo", &[]);
    let lib = archive(&[("foo.o", &foo)], true);
    let main = user(&["foo"], &[]);
    let mut objects = vec![parsed(&main)];
    select(&mut objects, &[], &[("libgcc.a", &lib)], &|n| n == "foo").unwrap();
    assert_eq!(objects.len(), 1);
    select(&mut objects, &[], &[("libgcc.a", &lib)], &|_| false).unwrap();
    assert_eq!(objects[1].name, "libgcc.a(foo.o)");
}

/// A damaged archive is malformed, named after the archive.
#[test]
fn refuses_a_damaged_archive() {
    let foo = member("foo", &[]);
    let mut lib = archive(&[("foo.o", &foo)], true);
    lib.truncate(30);
    let main = user(&["foo"], &[]);
    let mut objects = vec![parsed(&main)];
    let err = select(&mut objects, &[("lib.a", &lib)], &[], &|_| false).unwrap_err();
    assert!(
        err.to_string().starts_with("lib.a: malformed: archive"),
        "{err}"
    );
}
