//! `objdl run`'s cache: a second process takes the linked unit from the
//! cache (its libraries elsewhere, by ASLR) and behaves exactly as the
//! first; the cache is on by default and off with `--no-cache` or
//! `OBJDL_NO_CACHE`; `objdl cache stats` and `objdl cache clear`.

use objdl_testkit as common;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn objdl() -> Command {
    common::objdl_command(env!("CARGO_BIN_EXE_objdl"))
}

/// SQLite's shell, from the PIE objects, with one statement.
fn sqlite(cmd: &mut Command) -> Output {
    let d = common::sqlite_dir().join("pie");
    let out = cmd
        .arg("--stats")
        .arg(d.join("sqlite3.o"))
        .arg(d.join("shell.o"))
        .args([
            "--",
            ":memory:",
            "create table t(x); insert into t values (6*7); select x, sqlite_version() from t;",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", common::show(&out));
    out
}

/// Waits until `dir` holds `n` entries: a miss writes its entry from a
/// detached process, a few milliseconds after the run.
fn wait_for_entries(dir: &Path, n: u64) {
    let start = Instant::now();
    while objdl::cache_stats(dir).entries != n {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no entry in {}",
            dir.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn cached(out: &Output) -> bool {
    String::from_utf8_lossy(&out.stderr)
        .trim_end()
        .ends_with(" cached")
}

#[test]
fn the_cache_is_on_by_default_and_off_when_asked() {
    let home = tempfile::tempdir().unwrap();
    let dir: PathBuf = home.path().join("objdl");
    let default = || {
        let mut cmd = objdl();
        cmd.env_remove("OBJDL_NO_CACHE")
            .env("XDG_CACHE_HOME", home.path())
            .arg("run");
        cmd
    };
    let first = sqlite(&mut default());
    assert!(!cached(&first));
    wait_for_entries(&dir, 1);
    let second = sqlite(&mut default());
    assert!(cached(&second), "{}", common::show(&second));
    assert_eq!(first.stdout, second.stdout);
    // Off: neither used nor filled.
    objdl::cache_clear(&dir).unwrap();
    for off in [
        sqlite(default().arg("--no-cache")),
        sqlite(default().env("OBJDL_NO_CACHE", "1")),
    ] {
        assert!(!cached(&off));
        assert_eq!(off.stdout, first.stdout);
    }
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(objdl::cache_stats(&dir).entries, 0);
    // A default directory others may write to: a warning, and no cache.
    std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let warned = sqlite(&mut default());
    let err = String::from_utf8_lossy(&warned.stderr);
    assert!(
        err.contains("warning: not caching") && err.contains("writable by others"),
        "{err}"
    );
    assert_eq!(warned.stdout, first.stdout);
}

#[test]
fn a_second_process_runs_from_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let run = || {
        let out = sqlite(
            objdl()
                .arg("run")
                .arg(format!("--cache={}", cache.display())),
        );
        let stats = String::from_utf8_lossy(&out.stderr).into_owned();
        (String::from_utf8(out.stdout).unwrap(), stats)
    };
    let (first, stats) = run();
    assert!(!stats.contains(" cached"), "{stats}");
    assert!(first.starts_with("42|3."), "{first}");
    wait_for_entries(&cache, 1);
    for _ in 0..3 {
        let (again, stats) = run();
        assert!(stats.trim_end().ends_with(" cached"), "{stats}");
        assert_eq!(again, first);
    }
    let out = objdl()
        .args(["cache", "stats", "--dir"])
        .arg(&cache)
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(": 1 entries, "),
        "{}",
        common::show(&out)
    );
    let out = objdl()
        .args(["cache", "clear", "--dir"])
        .arg(&cache)
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(": 1 entries removed"),
        "{}",
        common::show(&out)
    );
    let (_, stats) = run();
    assert!(!stats.contains(" cached"), "cleared: {stats}");
}

#[test]
fn a_unit_that_cannot_be_cached_is_remembered_so() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let src = common::write_file(
        tmp.path(),
        "tls.c",
        "#include <stdio.h>\n__thread int x = 5;\nint main(void) { printf(\"%d\\n\", x); return 0; }\n",
    );
    let obj = tmp.path().join("tls.o");
    let gcc = Command::new("gcc")
        .args(["-c", "-O2", "-fPIC", "-o"])
        .arg(&obj)
        .arg(&src)
        .output()
        .unwrap();
    assert!(gcc.status.success(), "{}", common::show(&gcc));
    let run = || {
        let out = objdl()
            .env("OBJDL_CACHE_DEBUG", "1")
            .arg("run")
            .arg(format!("--cache={}", cache.display()))
            .arg(&obj)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", common::show(&out));
        assert_eq!(out.stdout, b"5\n");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    assert!(run().contains("miss: no entry"));
    // Thread-locals keep a unit out of the cache; the detached writer
    // says so in an entry of its own, and later runs link without trying.
    wait_for_entries(&cache, 1);
    for _ in 0..2 {
        let err = run();
        assert!(err.contains("miss: the unit cannot be cached"), "{err}");
    }
    assert_eq!(objdl::cache_stats(&cache).entries, 1);
}

/// Compiles `src` with `compiler` and `args` in `dir`.
fn build(compiler: &str, dir: &Path, args: &[&str]) {
    let out = Command::new(compiler)
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", common::show(&out));
}

#[test]
fn libraries_loaded_later_move_on_their_own_and_a_replaced_one_is_a_miss() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let cache = dir.join("cache");
    let lib = |value: i32| {
        let src = format!("int foo_value = {value};\nint foo(int x) {{ return x + foo_value; }}\n");
        common::write_file(dir, "foo.c", &src);
        // A new file, as a package upgrade makes (not the old one rewritten).
        let _ = std::fs::remove_file(dir.join("libfoo.so"));
        build(
            "gcc",
            dir,
            &["-shared", "-fPIC", "-O2", "foo.c", "-o", "libfoo.so"],
        );
    };
    lib(41);
    common::write_file(
        dir,
        "main.c",
        "#include <stdio.h>\nextern int foo(int);\nextern int foo_value;\nint (*fp)(int) = foo;\n\
         int main(void) { printf(\"%d %d %d\\n\", foo(1), fp(2), foo_value); return 0; }\n",
    );
    build(
        "gcc",
        dir,
        &["-c", "-O2", "-fPIC", "main.c", "-o", "main.o"],
    );
    common::write_file(
        dir,
        "cpp.cc",
        "#include <iostream>\n#include <stdexcept>\n#include <string>\n\
         int main() { std::string s = \"x\"; try { throw std::runtime_error(\"boom\"); }\n\
         catch (const std::exception &e) { s += e.what(); } std::cout << s << std::endl; }\n",
    );
    build("g++", dir, &["-c", "-O2", "cpp.cc", "-o", "cpp.o"]);
    let run = |args: &[&str]| {
        let out = objdl()
            .current_dir(dir)
            .env("OBJDL_CACHE_DEBUG", "1")
            .arg("run")
            .arg("--stats")
            .arg(format!("--cache={}", cache.display()))
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", common::show(&out));
        out
    };
    // libfoo.so and libstdc++ are dlopened by objdl, after the libraries
    // ld.so mapped: each moves by its own distance between processes. The
    // unit is placed for most of its PC-relative references, and the
    // others are moved one by one. (A run may find the unit's place taken
    // by a library: then it links; so a hit is asked of one of three.)
    for (args, want, entries) in [
        (&["main.o", "-L.", "-lfoo"][..], "42 43 41\n", 1),
        (&["cpp.o", "-lstdc++", "-lm"][..], "xboom\n", 2),
    ] {
        let first = run(args);
        assert_eq!(String::from_utf8_lossy(&first.stdout), want);
        wait_for_entries(&cache, entries);
        let mut hits = 0;
        for _ in 0..3 {
            let again = run(args);
            assert_eq!(
                String::from_utf8_lossy(&again.stdout),
                want,
                "{}",
                common::show(&again)
            );
            hits += usize::from(cached(&again));
        }
        assert!(hits > 0, "{args:?}: never from the cache");
    }
    // libfoo.so replaced: a miss, a fresh link, the new library's values.
    lib(9);
    let replaced = run(&["main.o", "-L.", "-lfoo"]);
    assert!(!cached(&replaced));
    assert_eq!(String::from_utf8_lossy(&replaced.stdout), "10 11 9\n");
    let err = String::from_utf8_lossy(&replaced.stderr);
    assert!(err.contains("miss: the libraries differ"), "{err}");
}
