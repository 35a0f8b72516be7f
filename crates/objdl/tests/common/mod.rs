//! Helpers shared by objdl's integration tests, and by its benches (which
//! include this module with `#[path]`). Each test file is a crate of its
//! own and uses only part of it.
#![allow(dead_code)]

mod rng;
mod toolchain;
#[allow(unused_imports)] // only the mutation tests use it
pub use rng::Rng;
pub use toolchain::*;

use std::path::{Path, PathBuf};

/// Writes the C source `src` to `dir/NAME.c` and compiles it with
/// `gcc -O2 -c FLAGS` into `dir/NAME.o`, which it returns.
pub fn compile(dir: &Path, name: &str, src: &str, flags: &[&str]) -> PathBuf {
    compile_c("gcc", &[&["-O2"], flags].concat(), dir, name, src)
}

/// [`compile`] into a fresh temporary directory, returned with the object.
pub fn compile_in_tempdir(name: &str, src: &str, flags: &[&str]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let obj = compile(dir.path(), name, src, flags);
    (dir, obj)
}
