//! `objdl run main.o libdemo.a`: a Rust staticlib built with std
//! (`crates/objdl/tests/rust/demo.rs`: `format!`, Vec/String, threads,
//! `thread_local!`, `catch_unwind`, the default panic hook, `println!`)
//! driven by a C `main`, against the same two linked by gcc. Standard output
//! must be identical, and standard error too except for thread ids.
//!
//! The compiler is `$RUSTC`, else `rustc`.

use common::{build_rust_demo, RustDemo};
use objdl_testkit as common;

use std::path::Path;
use std::process::{Command, Output};

/// The panic message's `thread 'NAME' (TID) panicked`, without the TID.
fn without_thread_ids(s: &str) -> String {
    s.lines()
        .map(
            |line| match (line.find("' ("), line.find(") panicked at ")) {
                (Some(a), Some(b))
                    if line.starts_with("thread '")
                        && a + 3 < b
                        && line[a + 3..b].bytes().all(|c| c.is_ascii_digit()) =>
                {
                    format!("{}' (TID{}", &line[..a], &line[b..])
                }
                _ => line.to_string(),
            },
        )
        .collect::<Vec<_>>()
        .join("\n")
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        without_thread_ids(&String::from_utf8_lossy(&out.stderr)),
    )
}

#[test]
fn std_staticlib_from_c_matches_gcc() {
    let d = tempfile::tempdir().unwrap();
    let sources = Path::new(env!("CARGO_MANIFEST_DIR")).join("../objdl/tests/rust");
    let RustDemo {
        lib,
        main_o,
        native,
    } = build_rust_demo(&sources, d.path());

    // Backtraces are off: objdl's units are not in the symbol tables std's
    // backtrace printer reads.
    let linked = Command::new(&native)
        .env("RUST_BACKTRACE", "0")
        .output()
        .unwrap();
    let loaded = common::objdl_command(env!("CARGO_BIN_EXE_objdl"))
        .arg("run")
        .arg(&main_o)
        .arg(&lib)
        .env("RUST_BACKTRACE", "0")
        .output()
        .unwrap();
    assert_eq!(linked.status.code(), Some(0), "{linked:?}");
    assert_eq!(loaded.status.code(), Some(0), "{loaded:?}");
    let (linked, loaded) = (text(&linked), text(&loaded));
    assert_eq!(loaded.0, linked.0, "standard output");
    assert_eq!(loaded.1, linked.1, "standard error");
    for want in [
        "threads: worker-0:1..2 initial [start+w0]; worker-1:1..3 initial [start+w1]; \
         worker-2:1..4 initial [start+w2]; worker-3:1..5 initial [start+w3]\n",
        "catch: 1 boom 42\ncatch again: 1 boom 42\nthread panic: 1 thread boom\n",
        "rust println 3: [0, 1, 2]\ndone\n",
    ] {
        assert!(loaded.0.contains(want), "{want:?} in\n{}", loaded.0);
    }
    for want in [
        "thread '<unnamed>' (TID) panicked at ",
        "boom 42\nnote: run with `RUST_BACKTRACE=1`",
        "thread boom\n",
        "rust eprintln 3",
    ] {
        assert!(loaded.1.contains(want), "{want:?} in\n{}", loaded.1);
    }
}
