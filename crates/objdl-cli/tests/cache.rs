//! `objdl run --cache`: a second process takes the linked unit from the
//! cache (its libraries elsewhere, by ASLR) and behaves exactly as the
//! first; `objdl cache stats` and `objdl cache clear`.

use objdl_testkit as common;
use std::process::Command;

fn objdl() -> Command {
    common::objdl_command(env!("CARGO_BIN_EXE_objdl"))
}

#[test]
fn a_second_process_runs_from_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let d = common::sqlite_dir().join("pie");
    let run = || {
        let out = objdl()
            .arg("run")
            .arg(format!("--cache={}", cache.display()))
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
        let stats = String::from_utf8_lossy(&out.stderr).into_owned();
        (String::from_utf8(out.stdout).unwrap(), stats)
    };
    let (first, stats) = run();
    assert!(!stats.contains(" cached"), "{stats}");
    assert!(first.starts_with("42|3."), "{first}");
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
