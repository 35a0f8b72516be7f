//! The C API from C: `tests/c/test_capi.c`, compiled with gcc against
//! `include/objdl.h` and linked with the crate's shared library and, in a
//! second test, its static library, runs against plugins in `tests/c/plugins`
//! compiled with `gcc -c`. The program checks return values itself; this
//! side checks its exit status and what it printed (the dumps, and that a
//! NOEXEC unit's constructor printed nothing).

use std::path::{Path, PathBuf};
use std::process::Command;

use objdl_testkit::capi as library;
use objdl_testkit::run_ok as run;

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
    let exe = c_host(
        dir.path(),
        "open_fifo",
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
    );
    let out = Command::new(&exe).arg(&fifo).output().expect("run it");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}: {stdout}", out.status);
    assert_eq!(
        stdout.trim_end(),
        format!("{}: not a regular file (a FIFO)", fifo.display())
    );
}

/// `OBJDL_RTLD_LAZY`: two Global plugins that call each other open one
/// after the other (without the flag, the first open fails, naming the
/// missing function), and a call to a function that nothing defines
/// aborts with one `symbol lookup error` line naming it and its file.
#[test]
fn lazy_binding_from_c() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let plugins = [
        ("ping", "int pong(int);\nint ping(int n) { return n <= 0 ? 0 : 1 + pong(n - 1); }\n"),
        ("pong", "int ping(int);\nint pong(int n) { return n <= 0 ? 100 : 10 + ping(n - 1); }\n"),
        ("dies", "void nowhere_defined(int);\nint dies(int n) { if (n) nowhere_defined(n); return 7; }\n"),
    ];
    let objects: Vec<PathBuf> = plugins
        .iter()
        .map(|(name, text)| {
            let src = dir.path().join(format!("{name}.c"));
            std::fs::write(&src, text).expect("write a plugin");
            let obj = dir.path().join(format!("{name}.o"));
            run(Command::new("gcc")
                .args(["-c", "-O1", "-fPIC", "-Wall", "-Werror", "-o"])
                .arg(&obj)
                .arg(&src));
            obj
        })
        .collect();
    let exe = c_host(
        dir.path(),
        "lazy",
        r#"#include <objdl.h>
#include <stdio.h>
#include <string.h>
int main(int argc, char **argv) {
    (void)argc;
    int lazy = OBJDL_RTLD_GLOBAL | OBJDL_RTLD_LAZY;
    if (objdl_dlopen(argv[1], OBJDL_RTLD_GLOBAL) != NULL) return 10;
    printf("immediate: %s\n", objdl_dlerror());
    void *ping = objdl_dlopen(argv[1], lazy);
    if (!ping) { printf("%s\n", objdl_dlerror()); return 11; }
    void *pong = objdl_dlopen(argv[2], lazy);
    if (!pong) { printf("%s\n", objdl_dlerror()); return 12; }
    int (*f)(int) = (int (*)(int))objdl_dlsym(ping, "ping");
    int (*g)(int) = (int (*)(int))objdl_dlsym(pong, "pong");
    if (!f || !g) return 13;
    printf("ping(5) = %d, pong(5) = %d\n", f(5), g(5));
    void *dies = objdl_dlopen(argv[3], OBJDL_RTLD_LOCAL | OBJDL_RTLD_LAZY);
    if (!dies) { printf("%s\n", objdl_dlerror()); return 14; }
    int (*d)(int) = (int (*)(int))objdl_dlsym(dies, "dies");
    printf("dies(0) = %d\n", d(0));
    fflush(stdout);
    if (argv[4] && strcmp(argv[4], "call") == 0) d(1);
    return 0;
}
"#,
    );

    let out = Command::new(&exe).args(&objects).output().expect("run it");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}: {stdout}", out.status);
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines[0].starts_with("immediate: ") && lines[0].contains("`pong`"),
        "{stdout}"
    );
    // ping(5) = 1 + pong(4) = 11 + ping(3) ... = 23 + pong(0) = 123;
    // pong(5) = 10 + ping(4) ... = 32 + ping(0) = 32.
    assert_eq!(&lines[1..], ["ping(5) = 123, pong(5) = 32", "dies(0) = 7"]);

    let out = Command::new(&exe)
        .args(&objects)
        .arg("call")
        .output()
        .expect("run it");
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(out.status.signal(), Some(libc_sigabrt()), "{}", out.status);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr,
        format!(
            "objdl: symbol lookup error: {}: undefined symbol: nowhere_defined\n",
            objects[2].display()
        )
    );
}

/// `OBJDL_RTLD_RELOADABLE` and `objdl_reload`: a function pointer taken
/// before the reload leads to the new code, the counter carries on, and a
/// reload of a broken object fails with a message, the old code running on.
#[test]
fn reload_from_c() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let versions = [
        "static int n;\nint tick(void) { return ++n; }\n",
        "static int n;\nint tick(void) { return 100 * ++n; }\n",
        "int missing_in_reload(void);\nint tick(void) { return missing_in_reload(); }\n",
    ];
    let builds: Vec<PathBuf> = versions
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let src = dir.path().join(format!("tick{i}.c"));
            std::fs::write(&src, text).expect("write a version");
            let obj = dir.path().join(format!("tick{i}.o"));
            run(Command::new("gcc")
                .args(["-c", "-O2", "-o"])
                .arg(&obj)
                .arg(&src));
            obj
        })
        .collect();
    let live = dir.path().join("tick.o");
    std::fs::copy(&builds[0], &live).expect("copy");
    let exe = c_host(
        dir.path(),
        "reload",
        r#"#include <objdl.h>
#include <stdio.h>
#include <string.h>
static int copy(const char *from, const char *to) {
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    if (!in || !out) return -1;
    char buf[4096]; size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0) fwrite(buf, 1, n, out);
    fclose(in); return fclose(out);
}
int main(int argc, char **argv) {
    (void)argc;
    void *h = objdl_dlopen(argv[1], OBJDL_RTLD_LOCAL | OBJDL_RTLD_RELOADABLE);
    if (!h) { printf("%s\n", objdl_dlerror()); return 10; }
    int (*tick)(void) = (int (*)(void))objdl_dlsym(h, "tick");
    int a = tick(), b = tick();
    printf("%d %d\n", a, b);
    if (copy(argv[3], argv[1]) != 0 || objdl_reload(h, argv[1]) != 0) {
        printf("%s\n", objdl_dlerror()); return 11;
    }
    printf("%d\n", tick());
    if (copy(argv[4], argv[1]) != 0) return 12;
    printf("reload: %d\n", objdl_reload(h, argv[1]));
    printf("error: %s\n", strstr(objdl_dlerror(), "missing_in_reload") ? "named" : "?");
    printf("%d\n", tick());
    printf("global: %d\n", objdl_reload(NULL, argv[1]));
    objdl_dlerror();
    void *plain = objdl_dlopen(argv[2], OBJDL_RTLD_LOCAL);
    printf("plain: %d\n", objdl_reload(plain, argv[2]));
    return objdl_dlclose(h);
}
"#,
    );
    let out = Command::new(&exe)
        .arg(&live)
        .args(&builds)
        .output()
        .expect("run it");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}: {stdout}", out.status);
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        [
            "1 2",
            "300",
            "reload: -1",
            "error: named",
            "400",
            "global: -1",
            "plain: -1"
        ],
        "{stdout}"
    );
}

/// `OBJDL_RTLD_CACHE`: the first process links the object and writes its
/// entry; the next ones take the unit from the cache (no miss said) and
/// behave the same.
#[test]
fn cache_from_c() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let src = dir.path().join("measure.c");
    std::fs::write(
        &src,
        "#include <string.h>\nstatic const char *words[] = {\"alpha\", \"beta\", \"gamma\"};\n\
         int (*cmp)(const char *, const char *) = strcmp;\n\
         int measure(int i) { return (int)strlen(words[i]) * 10 + (cmp(words[i], \"beta\") == 0); }\n",
    )
    .expect("write the object's source");
    let obj = dir.path().join("measure.o");
    run(Command::new("gcc")
        .args(["-c", "-O2", "-o"])
        .arg(&obj)
        .arg(&src));
    let exe = c_host(
        dir.path(),
        "cache",
        r#"#include <objdl.h>
#include <stdio.h>
int main(int argc, char **argv) {
    (void)argc;
    void *h = objdl_dlopen(argv[1], OBJDL_RTLD_LOCAL | OBJDL_RTLD_CACHE);
    if (!h) { printf("%s\n", objdl_dlerror()); return 10; }
    int (*measure)(int) = (int (*)(int))objdl_dlsym(h, "measure");
    printf("%d %d\n", measure(0), measure(1));
    return objdl_dlclose(h);
}
"#,
    );
    let xdg = dir.path().join("xdg");
    std::fs::create_dir(&xdg).expect("a cache home");
    for i in 0..3 {
        let out = Command::new(&exe)
            .arg(&obj)
            .env("XDG_CACHE_HOME", &xdg)
            .env("OBJDL_CACHE_DEBUG", "1")
            .output()
            .expect("run it");
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert!(out.status.success(), "{}: {stdout}{stderr}", out.status);
        assert_eq!(stdout, "50 41\n");
        assert_eq!(stderr.contains("miss"), i == 0, "run {i}: {stderr}");
    }
    assert_eq!(objdl::cache_stats(&xdg.join("objdl")).entries, 1);
}

/// Writes the C program `source` to `dir/NAME.c` and builds it against the
/// shared C library (`gcc -std=c11 -Wall -Werror`), as `dir/NAME`.
fn c_host(dir: &Path, name: &str, source: &str) -> PathBuf {
    let src = dir.join(format!("{name}.c"));
    std::fs::write(&src, source).expect("write the program");
    let exe = dir.join(name);
    let mut cmd = Command::new("gcc");
    cmd.args(["-std=c11", "-Wall", "-Werror", "-o"])
        .arg(&exe)
        .arg("-I")
        .arg(crate_dir().join("include"))
        .arg(&src);
    library::link_with_capi(&mut cmd, true);
    run(&mut cmd);
    exe
}

/// SIGABRT on Linux.
fn libc_sigabrt() -> i32 {
    6
}
