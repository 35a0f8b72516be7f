//! The C API from C: `tests/c/test_capi.c`, compiled with gcc against
//! `include/objdl.h` and linked with the crate's shared library and, in a
//! second test, its static library, runs against plugins in `tests/c/plugins`
//! compiled with `gcc -c`. The program checks return values itself; this
//! side checks its exit status and what it printed (the dumps, and that a
//! NOEXEC unit's constructor printed nothing).

use std::path::{Path, PathBuf};
use std::process::Command;

#[path = "support/library.rs"]
mod library;
use library::run;

const PLUGINS: [&str; 8] = [
    "basic",
    "provider",
    "provider2",
    "consumer",
    "local",
    "needs_local",
    "uses_define",
    "ctor",
];

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A fresh directory with the plugins compiled, and their paths in the
/// order `test_capi` takes them.
fn plugins() -> (tempfile::TempDir, Vec<PathBuf>) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let src = crate_dir().join("tests/c/plugins");
    let objects = PLUGINS
        .iter()
        .map(|name| {
            let obj = dir.path().join(format!("{name}.o"));
            run(Command::new("gcc")
                .args(["-c", "-O2", "-fPIC", "-Wall", "-Werror", "-o"])
                .arg(&obj)
                .arg(src.join(format!("{name}.c"))));
            obj
        })
        .collect();
    (dir, objects)
}

/// Builds `test_capi` into `dir`, linked with the shared or static library.
fn build_program(dir: &Path, shared: bool) -> PathBuf {
    let exe = dir.join(if shared {
        "test_capi"
    } else {
        "test_capi_static"
    });
    let mut cmd = Command::new("gcc");
    cmd.args(["-std=c11", "-O1", "-Wall", "-Wextra", "-Werror", "-o"])
        .arg(&exe)
        .arg("-I")
        .arg(crate_dir().join("include"))
        .arg(crate_dir().join("tests/c/test_capi.c"));
    library::link_with_capi(&mut cmd, shared);
    cmd.arg("-lpthread");
    run(&mut cmd);
    exe
}

/// The lines of `text` between the marker lines `NAME: begin` and `NAME: end`.
fn section<'a>(text: &'a str, name: &str) -> Vec<&'a str> {
    let lines: Vec<&str> = text.lines().collect();
    let begin = format!("{name}: begin");
    let end = format!("{name}: end");
    let b = lines
        .iter()
        .position(|l| *l == begin)
        .unwrap_or_else(|| panic!("no `{begin}` in:\n{text}"));
    let e = lines
        .iter()
        .position(|l| *l == end)
        .unwrap_or_else(|| panic!("no `{end}` in:\n{text}"));
    lines[b + 1..e].to_vec()
}

fn check_output(stdout: &str, objects: &[PathBuf]) {
    for ok in [
        "ok: errors",
        "ok: dlopen, dlsym, call, dlclose",
        "ok: dlopen_mem",
        "ok: global and local scopes",
        "ok: per-thread dlerror",
        "ok: concurrent open and close",
        "ok: objdl_define",
        "ok: noexec",
        "ok: objdl_dlopen_unit",
        "ok: version",
        "all ok",
    ] {
        assert!(stdout.lines().any(|l| l == ok), "no `{ok}` in:\n{stdout}");
    }
    // dlerror after a failed open names the file.
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("error: ") && l.contains("/nonexistent/dir/missing_plugin.o")),
        "{stdout}"
    );

    // The exports of basic.o, sorted by name, with addresses; no statics.
    let exports = section(stdout, "dump-exports");
    assert_eq!(
        exports[0],
        format!("exports of {}: 4", objects[0].display()),
        "{stdout}"
    );
    let names: Vec<&str> = exports[1..]
        .iter()
        .map(|l| {
            let mut f = l.split_whitespace();
            let (name, addr) = (f.next().unwrap(), f.next().unwrap());
            assert!(addr.starts_with("0x") && addr.len() == 18, "{l}");
            name
        })
        .collect();
    assert_eq!(
        names,
        ["basic_add", "basic_counter", "basic_len", "basic_triple"]
    );

    // The relocations of uses_define.o: counts by type, and at least one
    // trampoline (the executable and libc are too far apart for one
    // placement to reach both), named.
    let relocs = section(stdout, "dump-relocations");
    assert!(
        relocs[0].starts_with(&format!("relocations of {}: ", objects[6].display())),
        "{stdout}"
    );
    assert!(
        relocs
            .iter()
            .any(|l| l.trim_start().starts_with("R_X86_64_")),
        "{stdout}"
    );
    let tramp = relocs
        .iter()
        .position(|l| l.starts_with("trampolines: "))
        .expect("a trampolines line");
    let count: usize = relocs[tramp]["trampolines: ".len()..].parse().unwrap();
    assert!(count >= 1, "{stdout}");
    assert!(
        relocs[tramp + 1..tramp + 1 + count]
            .iter()
            .any(|l| l.contains(" -> 0x") && (l.ends_with(" host_square") || l.ends_with(" puts"))),
        "{stdout}"
    );
    assert!(
        relocs.iter().any(|l| l.starts_with("got slots: ")),
        "{stdout}"
    );
    assert!(
        stdout.lines().any(|l| l == "shout: from the plugin"),
        "{stdout}"
    );

    // NOEXEC: neither the constructor nor the destructor ran. Without it,
    // both did, once each, in order.
    let noexec = section(stdout, "noexec");
    assert!(noexec.is_empty(), "NOEXEC ran code: {noexec:?}");
    assert_eq!(section(stdout, "exec"), ["ctor: ran", "dtor: ran"]);
    let unit_noexec = section(stdout, "unit-noexec");
    assert!(unit_noexec.is_empty(), "NOEXEC ran code: {unit_noexec:?}");
    assert!(
        stdout
            .lines()
            .any(|l| l == format!("version: {}", env!("CARGO_PKG_VERSION"))),
        "{stdout}"
    );
}

fn run_program(shared: bool) {
    let (dir, objects) = plugins();
    let exe = build_program(dir.path(), shared);
    let out = run(Command::new(&exe).args(&objects));
    let stdout = String::from_utf8(out.stdout).expect("UTF-8 output");
    check_output(&stdout, &objects);
}

#[test]
fn c_program_with_the_shared_library() {
    run_program(true);
}

#[test]
fn c_program_with_the_static_library() {
    run_program(false);
}

/// The header stands alone, in strict C99 and in C++.
#[test]
fn header_compiles_as_c_and_cpp() {
    let header = crate_dir().join("include/objdl.h");
    let text = std::fs::read_to_string(&header).expect("include/objdl.h");
    assert!(text.contains("#ifndef OBJDL_H") && text.contains("#define OBJDL_H"));
    for (lang, std) in [("c", "-std=c99"), ("c++", "-std=c++11")] {
        let compiler = if lang == "c" { "gcc" } else { "g++" };
        if lang == "c++" && Command::new(compiler).arg("--version").output().is_err() {
            continue;
        }
        run(Command::new(compiler)
            .args([
                "-x",
                lang,
                std,
                "-pedantic",
                "-Wall",
                "-Wextra",
                "-Werror",
                "-fsyntax-only",
            ])
            .arg(&header));
    }
}

/// `objdl_dlopen` of a FIFO fails at once, naming it, where it used to
/// wait forever for a writer (the program gives itself 10 s: SIGALRM).
#[test]
fn dlopen_of_a_fifo_fails_at_once() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let fifo = dir.path().join("plugin.o");
    run(Command::new("mkfifo").arg(&fifo));
    let src = dir.path().join("open_fifo.c");
    std::fs::write(
        &src,
        r#"#include <objdl.h>
#include <stdio.h>
#include <unistd.h>
int main(int argc, char **argv) {
    (void)argc;
    alarm(10);
    void *h = objdl_dlopen(argv[1], OBJDL_RTLD_LOCAL);
    printf("%s\n", h ? "opened" : objdl_dlerror());
    return h != NULL;
}
"#,
    )
    .expect("write the program");
    let exe = dir.path().join("open_fifo");
    let mut cmd = Command::new("gcc");
    cmd.args(["-std=c11", "-Wall", "-Werror", "-o"])
        .arg(&exe)
        .arg("-I")
        .arg(crate_dir().join("include"))
        .arg(&src);
    library::link_with_capi(&mut cmd, true);
    run(&mut cmd);
    let out = Command::new(&exe).arg(&fifo).output().expect("run it");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}: {stdout}", out.status);
    assert_eq!(
        stdout.trim_end(),
        format!("{}: not a regular file (a FIFO)", fifo.display())
    );
}
