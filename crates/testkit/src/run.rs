//! Running programs with a time limit, and comparing what they print.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The C compiler: `$CC`, else `gcc`.
pub fn cc() -> String {
    std::env::var("CC").unwrap_or_else(|_| "gcc".to_string())
}

/// Runs `cmd` with `stdin` as its input (`None`: `/dev/null`), capturing
/// its standard output and error, and kills it if it has not finished after
/// `limit`. Returns what it printed and whether it had to be killed.
pub fn run_with_timeout(mut cmd: Command, stdin: Option<&[u8]>, limit: Duration) -> (Output, bool) {
    let what = format!("{cmd:?}");
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {what}: {e}"));
    let writer = stdin.map(|data| {
        let mut input = child.stdin.take().expect("stdin");
        let data = data.to_vec();
        std::thread::spawn(move || {
            // The program may exit without reading everything: ignore EPIPE.
            let _ = input.write_all(&data);
        })
    });
    let mut out_pipe = child.stdout.take().expect("stdout");
    let mut err_pipe = child.stderr.take().expect("stderr");
    let out_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out_pipe.read_to_end(&mut v);
        v
    });
    let err_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err_pipe.read_to_end(&mut v);
        v
    });
    let start = Instant::now();
    let mut killed = false;
    let status = loop {
        if let Some(s) = child.try_wait().expect("try_wait") {
            break s;
        }
        if start.elapsed() > limit {
            killed = true;
            let _ = child.kill();
            break child.wait().expect("wait");
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    if let Some(writer) = writer {
        writer.join().expect("stdin writer");
    }
    let out = Output {
        status,
        stdout: out_reader.join().expect("stdout reader"),
        stderr: err_reader.join().expect("stderr reader"),
    };
    (out, killed)
}

/// [`run_with_timeout`] with `stdin` as the input, failing the test if
/// `cmd` does not finish within `limit`.
pub fn run_with_input(cmd: Command, stdin: &[u8], limit: Duration) -> Output {
    let what = format!("{cmd:?}");
    let (out, killed) = run_with_timeout(cmd, Some(stdin), limit);
    if killed {
        panic!("{what} did not finish within {limit:?}");
    }
    out
}

/// An output's status, standard output and standard error, for messages.
pub fn show(o: &Output) -> String {
    format!(
        "status {:?}\n--- stdout ---\n{}--- stderr ---\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// An output's standard output, as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Fails the test, naming `what` and showing both runs, unless `got` has
/// the status, standard output and standard error of `expected` (the
/// native executable's run).
pub fn assert_same(expected: &Output, got: &Output, what: &str) {
    assert!(
        expected.status == got.status
            && expected.stdout == got.stdout
            && expected.stderr == got.stderr,
        "{what}: objdl's run differs from the native executable's\n=== native ===\n{}\n=== objdl ===\n{}",
        show(expected),
        show(got)
    );
}

/// Fails the test, naming `what`, unless `got` has the exit status code
/// and standard output of `want` (standard error may differ; it is shown).
pub fn assert_same_stdout(what: &str, got: &Output, want: &Output) {
    let err = String::from_utf8_lossy(&got.stderr);
    assert_eq!(
        got.status.code(),
        want.status.code(),
        "{what}: status; stderr: {err}"
    );
    assert_eq!(
        String::from_utf8_lossy(&got.stdout),
        String::from_utf8_lossy(&want.stdout),
        "{what}: stdout"
    );
}

/// A command running `program` (the `objdl` of this build, as a test gets
/// it from `env!("CARGO_BIN_EXE_objdl")`) without the compiler variables
/// of the test's environment (`CC`, `CXX`, `CFLAGS`, `CXXFLAGS`,
/// `CPPFLAGS`, `ASFLAGS`): tests set them themselves where they mean to;
/// and without `run`'s default cache (`OBJDL_NO_CACHE=1`).
pub fn objdl_command(program: &str) -> Command {
    let mut cmd = Command::new(program);
    for var in ["CC", "CXX", "CFLAGS", "CXXFLAGS", "CPPFLAGS", "ASFLAGS"] {
        cmd.env_remove(var);
    }
    // Each test asks for the cache when it tests it (`--cache=DIR`): the
    // user's own stays out of the tests, and theirs out of it.
    cmd.env("OBJDL_NO_CACHE", "1");
    cmd
}

/// Writes `text` to `dir/name`, making the directories `name` names, and
/// returns the file's path.
pub fn write_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).unwrap_or_else(|e| panic!("{}: {e}", parent.display()));
    }
    std::fs::write(&p, text).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
    p
}
