//! A broad conformance run: GCC's C torture execution tests
//! (gcc.c-torture/execute, fetched by `scripts/fetch-torture.sh` into the
//! cache at test time, never committed), each compiled once in PIE and once
//! in `-fPIC`, run by `objdl run` and compared with the same object linked
//! by gcc: exit status, standard output and standard error.
//!
//! A program gcc itself cannot build or run here (a test for another
//! target, one that needs special options) is left out and counted. Every
//! other one must behave exactly like its twin, or be refused by objdl
//! with one line and a reason this file expects; the summary (passes,
//! every refusal with its reason) is printed.

use common::run_with_timeout;
use objdl_testkit as common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;
use std::time::Duration;

const OBJDL: &str = env!("CARGO_BIN_EXE_objdl");

/// One program in this many is run (sorted by name): about 400 of the
/// 1,592; `OBJDL_TORTURE_EVERY=1` runs them all.
fn every() -> usize {
    std::env::var("OBJDL_TORTURE_EVERY")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(4)
}

/// How long one run may take.
const TIMEOUT: Duration = Duration::from_secs(20);

/// Refusals that are objdl's documented policy, by a part of their message.
const EXPECTED_REFUSALS: &[&str] = &[
    // gcc nested functions whose address escapes: a trampoline on the stack.
    "needs an executable stack",
];

/// Programs whose output depends on their process, not on how they were
/// linked: only their exit status is compared.
const PROCESS_DEPENDENT: &[(&str, &str)] = &[
    ("941014-2.c", "prints a malloc'd field it never set"),
    ("return-addr.c", "prints stack addresses"),
];

/// The torture programs, from the cache.
fn programs() -> Vec<PathBuf> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/fetch-torture.sh");
    // Its progress (a fresh cache takes seconds to a minute) and errors go
    // straight to the terminal.
    let out = Command::new("bash")
        .arg(script)
        .stderr(std::process::Stdio::inherit())
        .output()
        .expect("run scripts/fetch-torture.sh");
    assert!(
        out.status.success(),
        "fetch-torture.sh failed ({}): its messages are above",
        out.status
    );
    let dir = PathBuf::from(String::from_utf8(out.stdout).expect("UTF-8").trim());
    let mut all: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("the torture directory")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "c"))
        .collect();
    all.sort();
    all.into_iter().step_by(every()).collect()
}

/// What became of one program in one flavour.
enum Outcome {
    /// gcc could not build or run it here: not a test of objdl.
    NotApplicable,
    /// objdl ran it exactly like its twin.
    Pass,
    /// objdl refused it, with this line.
    Refused(String),
    /// objdl ran it differently: what differed.
    Differs(String),
}

fn run(cmd: Command) -> Option<Output> {
    let (out, killed) = run_with_timeout(cmd, None, TIMEOUT);
    (!killed).then_some(out)
}

fn check(src: &Path, dir: &Path, flavour: &str, flags: &[&str]) -> Outcome {
    let stem = src.file_stem().unwrap().to_string_lossy();
    let obj = dir.join(format!("{stem}.{flavour}.o"));
    let exe = dir.join(format!("{stem}.{flavour}"));
    let mut cc = Command::new("gcc");
    cc.args(["-c", "-O2", "-w"])
        .args(flags)
        .arg(src)
        .arg("-o")
        .arg(&obj);
    if !run(cc).is_some_and(|o| o.status.success()) {
        return Outcome::NotApplicable;
    }
    let mut ld = Command::new("gcc");
    ld.args(flags).arg(&obj).args(["-lm", "-o"]).arg(&exe);
    if !run(ld).is_some_and(|o| o.status.success()) {
        return Outcome::NotApplicable;
    }
    let Some(native) = run(Command::new(&exe)) else {
        return Outcome::NotApplicable;
    };
    if !native.status.success() {
        return Outcome::NotApplicable;
    }
    let mut objdl = common::objdl_command(OBJDL);
    objdl.args(["run", "-l", "m"]).arg(&obj);
    let Some(ours) = run(objdl) else {
        return Outcome::Differs("objdl run did not finish".into());
    };
    if ours.status.code() == Some(125) {
        let err = String::from_utf8_lossy(&ours.stderr).into_owned();
        let lines: Vec<&str> = err.lines().collect();
        if lines.len() == 1 && lines[0].starts_with("objdl: error: ") {
            return Outcome::Refused(lines[0].to_string());
        }
        return Outcome::Differs(format!("status 125 and stderr {err:?}"));
    }
    let file = src.file_name().unwrap().to_string_lossy();
    let output_counts = !PROCESS_DEPENDENT.iter().any(|(name, _)| *name == file);
    if ours.status.code() != native.status.code()
        || (output_counts && (ours.stdout != native.stdout || ours.stderr != native.stderr))
    {
        return Outcome::Differs(format!(
            "status {:?} vs {:?}, stdout {:?} vs {:?}, stderr {:?} vs {:?}",
            ours.status,
            native.status,
            String::from_utf8_lossy(&ours.stdout),
            String::from_utf8_lossy(&native.stdout),
            String::from_utf8_lossy(&ours.stderr),
            String::from_utf8_lossy(&native.stderr)
        ));
    }
    Outcome::Pass
}

#[test]
fn gcc_torture_programs_run_like_their_gcc_linked_twins() {
    let programs = programs();
    assert!(
        programs.len() >= 300 || every() > 4,
        "only {} programs",
        programs.len()
    );
    let dir = tempfile::tempdir().expect("temporary directory");
    let flavours: [(&str, &[&str]); 2] = [("pie", &[]), ("pic", &["-fPIC"])];
    let jobs: Vec<(&PathBuf, &str, &[&str])> = programs
        .iter()
        .flat_map(|p| flavours.iter().map(move |&(f, flags)| (p, f, flags)))
        .collect();
    let next = Mutex::new(0usize);
    let results = Mutex::new(Vec::new());
    let workers = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(4);
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let i = {
                    let mut n = next.lock().unwrap();
                    *n += 1;
                    *n - 1
                };
                let Some(&(src, flavour, flags)) = jobs.get(i) else {
                    break;
                };
                let outcome = check(src, dir.path(), flavour, flags);
                let name = format!("{} ({flavour})", src.file_name().unwrap().to_string_lossy());
                results.lock().unwrap().push((name, outcome));
            });
        }
    });
    let mut results = results.into_inner().unwrap();
    results.sort_by(|a, b| a.0.cmp(&b.0));
    let (mut pass, mut skipped) = (0, 0);
    let mut refused = Vec::new();
    let mut differs = Vec::new();
    for (name, outcome) in &results {
        match outcome {
            Outcome::Pass => pass += 1,
            Outcome::NotApplicable => skipped += 1,
            Outcome::Refused(line) => refused.push(format!("{name}: {line}")),
            Outcome::Differs(what) => differs.push(format!("{name}: {what}")),
        }
    }
    eprintln!(
        "conformance: {} programs x 2 flavours: {pass} pass, {} refused, {} differ, {skipped} not applicable (gcc could not build or run them here)",
        programs.len(),
        refused.len(),
        differs.len()
    );
    for r in &refused {
        eprintln!("  refused {r}");
    }
    let unexpected: Vec<&String> = refused
        .iter()
        .filter(|r| !EXPECTED_REFUSALS.iter().any(|e| r.contains(e)))
        .collect();
    assert!(
        differs.is_empty() && unexpected.is_empty(),
        "differ:\n{}\nunexpected refusals:\n{}",
        differs.join("\n"),
        unexpected
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(pass >= programs.len() * 3 / 2, "only {pass} runs passed");
}
