//! What the library refuses of objects as compilers make them, and how it
//! says so: an executable stack, an LTO object without machine code,
//! calls into a sanitizer's runtime the process does not have. (A static
//! TLS surplus too small is in tls.rs.) Each object is compiled by gcc at
//! test time; nothing runs.

use common::compile;
use objdl_testkit as common;

use objdl::{Error, Linker, OpenOptions, Placement};

fn check(obj: &std::path::Path, opts: &OpenOptions) -> objdl::Result<objdl::Report> {
    Linker::new().check([obj], opts)
}

fn at() -> OpenOptions {
    let mut opts = OpenOptions::new();
    opts.placement(Placement::At(0x1000_0000));
    opts
}

#[test]
fn an_executable_stack_is_refused_unless_allowed() {
    let d = tempfile::tempdir().unwrap();
    let obj = compile(
        d.path(),
        "nested",
        "int apply(int (*f)(int), int x) { return f(x); }\n\
         int outer(int k) { int add(int x) { return x + k; } return apply(add, 1); }",
        &["-O0"],
    );
    let e = check(&obj, &at()).unwrap_err();
    assert!(matches!(e, Error::ExecutableStack { .. }), "{e:?}");
    let msg = e.to_string();
    for needle in [
        "nested.o: needs an executable stack",
        "nested function's address is taken",
        "-ftrampoline-impl=heap",
        "--exec-stack",
    ] {
        assert!(msg.contains(needle), "missing {needle}: {msg}");
    }
    // Allowed: a check links it (and makes no stack executable).
    let mut opts = at();
    opts.exec_stack(true);
    check(&obj, &opts).unwrap();
}

#[test]
fn lto_objects_without_machine_code_name_lto() {
    let d = tempfile::tempdir().unwrap();
    let obj = compile(
        d.path(),
        "slim",
        "int twice(int x) { return 2 * x; }",
        &["-flto"],
    );
    let e = check(&obj, &at()).unwrap_err();
    assert!(
        matches!(
            e,
            Error::LtoInput {
                kind: objdl::LtoObject::GccSlim,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(
        e.to_string()
            .contains("slim.o: unsupported: a GCC LTO object (-flto) without machine code"),
        "{e}"
    );
    assert_eq!(
        objdl::lto_object(&std::fs::read(&obj).unwrap()),
        Some(objdl::LtoObject::GccSlim)
    );
    // A fat one carries its machine code, and links.
    let fat = compile(
        d.path(),
        "fat",
        "int twice(int x) { return 2 * x; }",
        &["-flto", "-ffat-lto-objects"],
    );
    assert_eq!(objdl::lto_object(&std::fs::read(&fat).unwrap()), None);
    check(&fat, &at()).unwrap();
}

#[test]
fn a_missing_sanitizer_runtime_is_named() {
    let d = tempfile::tempdir().unwrap();
    let obj = compile(
        d.path(),
        "asan",
        "int g[4]; int get(int i) { return g[i]; }",
        &["-fsanitize=address"],
    );
    let mut opts = at();
    opts.implicit_libraries(false);
    let e = check(&obj, &opts).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, Error::Unresolved(_)), "{e:?}");
    for needle in [
        "__asan_",
        "AddressSanitizer's (-fsanitize=address)",
        "first library of the process",
        "LD_PRELOAD=$(gcc -print-file-name=libasan.so)",
    ] {
        assert!(msg.contains(needle), "missing {needle}: {msg}");
    }
}
