//! Loaded code as tools see it: GDB (through its JIT interface) and perf
//! (through /tmp/perf-PID.map).

mod common;
use common::compile_c;

use std::process::Command;

const PROGRAM: &str = r#"
#include <stdio.h>
int loaded_global = 4242;
__attribute__((noinline)) int loaded_leaf(int x) { loaded_global += x; return loaded_global * 2; }
__attribute__((noinline)) int loaded_middle(int x) { return loaded_leaf(x + 1) + 1; }
int main(void) { printf("%d\n", loaded_middle(1)); return 0; }
"#;

/// gdb stops at a loaded function by name, shows a backtrace through
/// loaded and host frames, and prints a loaded global from its DWARF.
#[test]
fn gdb_sees_loaded_code() {
    let d = tempfile::tempdir().unwrap();
    let obj = compile_c("gcc", &["-g", "-O1"], d.path(), "dbg", PROGRAM);
    let out = Command::new("gdb")
        .args([
            "-batch",
            "-nx",
            "-ex",
            "set breakpoint pending on",
            "-ex",
            "break loaded_leaf",
            "-ex",
            "run",
        ])
        .args([
            "-ex",
            "bt",
            "-ex",
            "print loaded_global",
            "-ex",
            "continue",
            "--args",
        ])
        .arg(env!("CARGO_BIN_EXE_objdl"))
        .arg("run")
        .arg(&obj)
        .output()
        .expect("gdb must be installed (.ci/run installs it)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Breakpoint 1, loaded_leaf (x="), "{text}");
    assert!(
        text.contains("at dbg.c:4") || text.contains("dbg.c:4"),
        "line info: {text}"
    );
    let bt: Vec<&str> = text.lines().filter(|l| l.starts_with('#')).collect();
    let pos = |needle: &str| bt.iter().position(|l| l.contains(needle));
    // The host frame: objdl's own `main`, which calls the program's.
    let host = bt
        .iter()
        .position(|l| l.contains(" in main ()") && !l.contains("dbg.c"));
    let (leaf, middle, main) = (pos("loaded_leaf"), pos("loaded_middle"), pos("main () at"));
    assert!(
        leaf < middle && middle < main && main < host && host.is_some(),
        "backtrace: {bt:#?}"
    );
    assert!(text.contains("$1 = 4242"), "{text}");
    assert!(text.contains("8489"), "the program ran on: {text}");
}

/// OBJDL_PERF_MAP=1 writes every loaded function and trampoline to
/// /tmp/perf-PID.map.
#[test]
fn perf_map_lists_functions_and_trampolines() {
    let d = tempfile::tempdir().unwrap();
    let obj = compile_c("gcc", &["-O1", "-fPIC"], d.path(), "perf", PROGRAM);
    let child = Command::new(env!("CARGO_BIN_EXE_objdl"))
        .env("OBJDL_PERF_MAP", "1")
        .args(["run", "--place", "far"])
        .arg(&obj)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let path = format!("/tmp/perf-{pid}.map");
    let map = std::fs::read_to_string(&path).expect("the perf map");
    let _ = std::fs::remove_file(&path);
    for name in [
        "loaded_leaf",
        "loaded_middle",
        "main",
        "objdl trampoline to",
    ] {
        let line = map
            .lines()
            .find(|l| l.ends_with(name) || l.contains(name))
            .unwrap_or_else(|| panic!("{name}: {map}"));
        let mut parts = line.split_whitespace();
        let start = u64::from_str_radix(parts.next().unwrap(), 16).unwrap();
        let size = u64::from_str_radix(parts.next().unwrap(), 16).unwrap();
        assert!(start > 0 && size > 0, "{line}");
    }
}
