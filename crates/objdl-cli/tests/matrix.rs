//! The placement matrix: every code model (default, -fPIC, -fno-pic,
//! -mcmodel=medium with and without PIC, -mcmodel=large) × {auto, far} × {one unit; two
//! units that call each other both ways and call the host}, each compared
//! with the same sources linked by gcc. Plus registers through a far
//! trampoline, and SQLite in every flavour and placement.
//!
//! Under `--place far` every unit lies more than 4 GiB from the executable,
//! every library and every other unit, so every call out of a unit goes
//! through a trampoline: the case flexdll never handled.

use common::{assert_same_stdout as assert_same, sqlite_dir};
use objdl_testkit as common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const OBJDL: &str = env!("CARGO_BIN_EXE_objdl");

/// The code models: name, compiler flags, and the flags gcc needs to link
/// the native twin.
const MODELS: [(&str, &[&str], &[&str]); 6] = [
    ("pie", &[], &[]),
    ("pic", &["-fPIC"], &[]),
    ("nopic", &["-fno-pic", "-fno-pie"], &["-no-pie"]),
    ("medium", &["-mcmodel=medium"], &[]),
    (
        "medium-nopic",
        &["-mcmodel=medium", "-fno-pic", "-fno-pie"],
        &["-no-pie"],
    ),
    ("large", &["-mcmodel=large"], &[]),
];

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/matrix")
}

fn gcc(args: &[&str], what: &str) {
    let out = Command::new("gcc").args(args).output().expect("run gcc");
    assert!(
        out.status.success(),
        "gcc {what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Objects of lib.c and main.c in one model, and the gcc-linked twin.
struct Built {
    _tmp: tempfile::TempDir,
    lib: PathBuf,
    main: PathBuf,
    native: PathBuf,
}

fn build(model: &str, cflags: &[&str], ldflags: &[&str]) -> Built {
    let tmp = tempfile::tempdir().unwrap();
    let p = |n: &str| tmp.path().join(n);
    for name in ["lib", "main"] {
        let src = dir().join(format!("{name}.c"));
        let obj = p(&format!("{name}.o"));
        let mut args = vec!["-O2", "-c"];
        args.extend(cflags);
        args.extend([src.to_str().unwrap(), "-o", obj.to_str().unwrap()]);
        gcc(&args, model);
    }
    let (lib, main, native) = (p("lib.o"), p("main.o"), p("native"));
    let mut args: Vec<&str> = ldflags.to_vec();
    args.extend([
        lib.to_str().unwrap(),
        main.to_str().unwrap(),
        "-o",
        native.to_str().unwrap(),
    ]);
    gcc(&args, model);
    Built {
        _tmp: tmp,
        lib,
        main,
        native,
    }
}

fn objdl(args: &[&str]) -> Output {
    common::objdl_command(OBJDL)
        .args(args)
        .output()
        .expect("run objdl")
}

/// The `objects ... trampolines N ...` figures of each unit, from --stats.
fn trampolines(stderr: &str) -> Vec<u64> {
    stderr
        .lines()
        .filter_map(|l| {
            l.split(" trampolines ")
                .nth(1)?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .collect()
}

#[test]
fn every_model_in_every_placement_one_and_two_units() {
    for (model, cflags, ldflags) in MODELS {
        let b = build(model, cflags, ldflags);
        let want = Command::new(&b.native).arg("x").output().unwrap();
        assert!(want.stdout.len() > 100, "{model}: native output too short");
        let (lib, main) = (b.lib.to_str().unwrap(), b.main.to_str().unwrap());
        for place in ["auto", "far"] {
            // One unit holding both objects.
            let one = objdl(&["run", "--stats", "--place", place, lib, main, "--", "x"]);
            assert_same(&format!("{model} {place} one unit"), &one, &want);

            // Two units: lib opened first as a Global unit.
            let two = objdl(&[
                "run", "--stats", "--place", place, "--unit", lib, main, "--", "x",
            ]);
            let what = format!("{model} {place} two units");
            let err = String::from_utf8_lossy(&two.stderr);
            if model.ends_with("nopic") && place == "far" {
                // Two -fno-pic units must both lie in the low 2 GiB, so they
                // cannot be 4 GiB apart: a clean refusal naming the sites.
                assert_eq!(two.status.code(), Some(125), "{what}: {err}");
                let line = err.lines().last().unwrap_or("");
                assert!(
                    line.starts_with("objdl: error: ") && line.contains("R_X86_64_32"),
                    "{what}: {err}"
                );
                assert!(
                    line.contains("--place low") || line.contains("-fPIC"),
                    "{what}: no fix named: {err}"
                );
                continue;
            }
            assert_same(&what, &two, &want);
            if place == "far" && model != "large" {
                // Every call out of each unit goes through a trampoline.
                let t = trampolines(&err);
                assert_eq!(t.len(), 2, "{what}: {err}");
                assert!(t.iter().all(|&n| n > 0), "{what}: {err}");
            }
        }
    }
}

/// Every integer register, %rax, %r10 and %r11 included, arrives intact
/// through a far trampoline (alainfrisch's point on flexdll PR #52: OCaml
/// passes arguments in %rax).
#[test]
fn registers_survive_a_far_trampoline() {
    let tmp = tempfile::tempdir().unwrap();
    let callee = tmp.path().join("callee.o");
    let caller = tmp.path().join("caller.o");
    gcc(
        &[
            "-c",
            dir().join("regs_callee.s").to_str().unwrap(),
            "-o",
            callee.to_str().unwrap(),
        ],
        "callee",
    );
    gcc(
        &[
            "-c",
            dir().join("regs_caller.s").to_str().unwrap(),
            "-o",
            caller.to_str().unwrap(),
        ],
        "caller",
    );
    for place in ["far", "auto"] {
        let out = objdl(&[
            "run",
            "--stats",
            "--place",
            place,
            "--unit",
            callee.to_str().unwrap(),
            caller.to_str().unwrap(),
        ]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{place}: registers changed on the way (mask = status): {err}"
        );
        if place == "far" {
            assert_eq!(
                trampolines(&err),
                vec![0, 1],
                "{place}: the call must use a trampoline: {err}"
            );
        }
    }
}

// SQLite in each flavour and placement the issue names.

const SCRIPT: &str = "create table t(a integer primary key, b text); \
    insert into t values (1, 'one'), (2, 'two'), (3, 'three'); \
    select a, upper(b), printf('%5.2f', a * 1.5) from t order by a desc; \
    select json_group_array(b) from t; \
    with recursive c(n) as (select 1 union all select n + 1 from c where n < 50) select sum(n), count(*) from c;";

fn sqlite(flavour: &str, place: &str) -> (Output, Output) {
    let d = sqlite_dir().join(flavour);
    let want = Command::new(d.join("native"))
        .args([":memory:", SCRIPT])
        .output()
        .unwrap();
    let (a, b) = (d.join("sqlite3.o"), d.join("shell.o"));
    let got = objdl(&[
        "run",
        "--stats",
        "--place",
        place,
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "--",
        ":memory:",
        SCRIPT,
    ]);
    (got, want)
}

#[test]
fn sqlite_in_every_flavour_and_placement() {
    let cases = [
        ("pie", "auto"),
        ("pic", "auto"),
        ("nopic", "auto"),
        ("large", "auto"),
        ("pic", "far"),
        ("large", "far"),
        ("nopic", "low"),
    ];
    for (flavour, place) in cases {
        let (got, want) = sqlite(flavour, place);
        assert_same(&format!("sqlite {flavour} {place}"), &got, &want);
        eprintln!(
            "sqlite {flavour} --place {place}: {}",
            String::from_utf8_lossy(&got.stderr).trim()
        );
    }
}

/// Default (PIE) objects read stdin/stdout/stderr with plain PC32: under
/// far they cannot load, and the error lists those sites and names -fPIC.
#[test]
fn sqlite_pie_far_and_nopic_far_are_refused() {
    for flavour in ["pie", "nopic"] {
        let (got, _) = sqlite(flavour, "far");
        let err = String::from_utf8_lossy(&got.stderr);
        assert_eq!(got.status.code(), Some(125), "{flavour}: {err}");
        assert_eq!(err.lines().count(), 1, "{flavour}: {err}");
        assert!(err.contains("-fPIC"), "{flavour}: {err}");
        if flavour == "pie" {
            for needle in [
                "`stdin`",
                "`stdout`",
                "`stderr`",
                "R_X86_64_PC32",
                "shell.o:.text",
            ] {
                assert!(err.contains(needle), "{flavour}: missing {needle}: {err}");
            }
        }
    }
}
