//! Running the toolchain from tests and benches: compilers, `rustc`, the
//! Rust staticlib demo, the SQLite cache script.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// Runs `cmd`, panicking with its output if it cannot be run or fails.
/// Returns its output.
pub fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Writes `text` to `source` and compiles (or assembles) it with
/// `COMPILER -c ARGS SOURCE -o OBJECT`, panicking with the compiler's
/// diagnostics if it fails.
pub fn compile_to(compiler: &str, args: &[&str], source: &Path, text: &str, object: &Path) {
    std::fs::write(source, text).unwrap_or_else(|e| panic!("write {}: {e}", source.display()));
    run_ok(
        Command::new(compiler)
            .arg("-c")
            .args(args)
            .arg(source)
            .arg("-o")
            .arg(object),
    );
}

/// Writes the C source `text` to `dir/NAME.c` and compiles it with
/// `COMPILER -c ARGS` into `dir/NAME.o`, which it returns.
pub fn compile_c(compiler: &str, args: &[&str], dir: &Path, name: &str, text: &str) -> PathBuf {
    let object = dir.join(format!("{name}.o"));
    compile_to(
        compiler,
        args,
        &dir.join(format!("{name}.c")),
        text,
        &object,
    );
    object
}

/// A command for the Rust compiler: `$RUSTC`, else `rustc`.
pub fn rustc() -> Command {
    Command::new(std::env::var_os("RUSTC").unwrap_or_else(|| OsString::from("rustc")))
}

/// The std staticlib test program of `crates/objdl/tests/rust`, built by
/// [`build_rust_demo`].
pub struct RustDemo {
    /// `libdemo.a`: `demo.rs`, a Rust staticlib with std.
    pub lib: PathBuf,
    /// `main.o`: `main.c`, the C `main` that drives it.
    pub main_o: PathBuf,
    /// `native`: the two linked by gcc.
    pub native: PathBuf,
}

/// Builds `demo.rs` (with rustc) and `main.c` (with gcc) of `sources` into
/// `dir`, and links the two with gcc into an executable there.
pub fn build_rust_demo(sources: &Path, dir: &Path) -> RustDemo {
    let lib = dir.join("libdemo.a");
    run_ok(
        rustc()
            .args(["--edition=2021", "--crate-type=staticlib", "-O"])
            .arg(sources.join("demo.rs"))
            .arg("-o")
            .arg(&lib),
    );
    let main_o = dir.join("main.o");
    run_ok(
        Command::new("gcc")
            .args(["-fPIC", "-O2", "-Wall", "-Werror", "-c"])
            .arg(sources.join("main.c"))
            .arg("-o")
            .arg(&main_o),
    );
    let native = dir.join("native");
    run_ok(
        Command::new("gcc")
            .arg(&main_o)
            .arg(&lib)
            .args(["-lpthread", "-ldl", "-lm", "-o"])
            .arg(&native),
    );
    RustDemo {
        lib,
        main_o,
        native,
    }
}

/// The SQLite cache made by `scripts/fetch-sqlite.sh` (run once per test
/// binary; the script is idempotent and locks the cache). Every crate of
/// the workspace is two levels below its root. The script's progress (a
/// fresh cache takes minutes) and errors go straight to the terminal.
pub fn sqlite_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/fetch-sqlite.sh");
        let out = Command::new("bash")
            .arg(script)
            .stderr(std::process::Stdio::inherit())
            .output()
            .expect("run scripts/fetch-sqlite.sh");
        assert!(
            out.status.success(),
            "fetch-sqlite.sh failed ({}): its messages are above",
            out.status
        );
        PathBuf::from(String::from_utf8(out.stdout).expect("UTF-8 path").trim())
    })
}

/// A clang that reads and writes CREL (19 or later): `$CLANG`, else the
/// newest `clang-N` on PATH, else `clang`. Panics if there is none
/// (`.ci/run` installs clang-19).
pub fn clang() -> PathBuf {
    if let Some(c) = std::env::var_os("CLANG") {
        return PathBuf::from(c);
    }
    let on_path = |name: &str| {
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    };
    (19..=30)
        .rev()
        .find_map(|v| on_path(&format!("clang-{v}")))
        .or_else(|| on_path("clang"))
        .expect("clang 19 or later must be installed (.ci/run installs clang-19)")
}
