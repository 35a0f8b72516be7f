//! Helpers shared by the tests and benches of objdl's crates, one copy
//! each: running the toolchain ([`compile`], [`compile_c`], `rustc`, the
//! SQLite cache), running programs with a time limit and comparing their
//! output ([`run_with_timeout`], [`assert_same`]), reading and patching
//! ELF section headers with `object` ([`elf`]), finding the C API's
//! libraries of this build ([`capi`]), and a deterministic generator for
//! the mutation tests ([`Rng`]).
//!
//! A dev-dependency of `objdl`, `objdl-cli` and `objdl-capi`; not published.

pub mod capi;
pub mod elf;
mod rng;
mod run;
mod toolchain;

pub use rng::Rng;
pub use run::*;
pub use toolchain::*;

use std::path::{Path, PathBuf};

/// Writes the C source `src` to `dir/NAME.c` and compiles it with
/// `gcc -O2 -c FLAGS` into `dir/NAME.o`, which it returns.
pub fn compile(dir: &Path, name: &str, src: &str, flags: &[&str]) -> PathBuf {
    compile_with("gcc", dir, name, src, flags)
}

/// [`compile`] with `compiler` (such as `$CC`, see [`cc`]) instead of gcc:
/// `COMPILER -O2 -c FLAGS`.
pub fn compile_with(compiler: &str, dir: &Path, name: &str, src: &str, flags: &[&str]) -> PathBuf {
    compile_c(compiler, &[&["-O2"], flags].concat(), dir, name, src)
}

/// [`compile`] into a fresh temporary directory, returned with the object.
pub fn compile_in_tempdir(name: &str, src: &str, flags: &[&str]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let obj = compile(dir.path(), name, src, flags);
    (dir, obj)
}
