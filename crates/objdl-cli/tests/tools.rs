//! Loaded code as tools see it: GDB (through its JIT interface) and perf
//! (through /tmp/perf-PID.map).

use common::compile_c;
use objdl_testkit as common;

use std::os::unix::fs::MetadataExt;
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
    let child = common::objdl_command(env!("CARGO_BIN_EXE_objdl"))
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

/// `/tmp/perf-PID.map` is a name anyone can make first. objdl appended to
/// the file a symbolic link there pointed to, and to a file another user
/// had made; and it created the map with the umask's mode (0666 under umask
/// 000). Now: never through a link, never another user's file (one warning
/// line, and the program runs), and created 0600. The shell makes the name
/// for its own PID, then becomes objdl with `exec`, keeping it.
#[test]
fn perf_map_is_not_a_file_others_can_plant() {
    let d = tempfile::tempdir().unwrap();
    let obj = compile_c("gcc", &["-O1"], d.path(), "plant", PROGRAM);
    let objdl = env!("CARGO_BIN_EXE_objdl");
    // Runs `sh -c SCRIPT sh OBJDL OBJECT ARG`, with the perf map on; returns
    // the map's path (objdl's PID is the shell's) and the output.
    let run = |script: &str, arg: &std::path::Path| {
        let child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .args(["sh", objdl])
            .arg(&obj)
            .arg(arg)
            .env("OBJDL_PERF_MAP", "1")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let map = std::path::PathBuf::from(format!("/tmp/perf-{}.map", child.id()));
        let out = child.wait_with_output().unwrap();
        (map, out)
    };
    let ran = |out: &std::process::Output| {
        assert!(out.status.success(), "{out:?}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("8489"),
            "{out:?}"
        );
    };

    // A symbolic link to a file of ours.
    let victim = d.path().join("victim");
    std::fs::write(&victim, "precious\n").unwrap();
    let (map, out) = run(
        r#"ln -s "$3" "/tmp/perf-$$.map" && exec "$1" run "$2""#,
        &victim,
    );
    let _ = std::fs::remove_file(&map);
    ran(&out);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("symbolic link"), "{stderr}");

    // Created 0600, whatever the umask.
    let (map, out) = run(r#"umask 000 && exec "$1" run "$2""#, d.path());
    let mode = std::fs::metadata(&map).map(|m| m.mode() & 0o777);
    let _ = std::fs::remove_file(&map);
    ran(&out);
    assert_eq!(mode.unwrap(), 0o600);

    // A file another user made: only root can make one here.
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        let (map, out) = run(
            r#"touch "/tmp/perf-$$.map" && chown 65534 "/tmp/perf-$$.map" && exec "$1" run "$2""#,
            d.path(),
        );
        let len = std::fs::metadata(&map).map(|m| m.len());
        let _ = std::fs::remove_file(&map);
        ran(&out);
        assert_eq!(len.unwrap(), 0, "objdl wrote to another user's file");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("belongs to user 65534"), "{stderr}");
    } else {
        eprintln!("not root: the case of another user's file is not tested");
    }
}
