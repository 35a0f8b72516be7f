//! Inputs for link-time optimisation, which hold no machine code: a slim
//! GCC LTO object (`gcc -c -flto`) or LLVM bitcode (`clang -c -flto`).
//! objdl refuses them (see [`objdl::LtoObject`]); `objdl run` and `objdl
//! check` compile them first, as the linker plugin would, and load the
//! result.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The compiler in environment variable `var` (`CC`, `CXX`), split on
/// whitespace as `make` does (`CC="gcc -m64"`), or `default`.
pub(crate) fn compiler(var: &str, default: &str) -> Vec<OsString> {
    let words: Vec<OsString> = std::env::var(var)
        .ok()
        .map(|v| v.split_whitespace().map(OsString::from).collect())
        .unwrap_or_default();
    if words.is_empty() {
        vec![default.into()]
    } else {
        words
    }
}

/// Compiles LTO input `path` (of `kind`) to an ordinary object `out`, in
/// `scratch` (removed if objdl is told to stop meanwhile: see
/// [`crate::input::run_compiler`]).
pub(crate) fn compile(
    path: &Path,
    kind: objdl::LtoObject,
    out: &Path,
    scratch: &mut crate::input::Scratch,
) -> Result<(), String> {
    let (mut cmd, what) = match kind {
        // The LTO plugin's own way to a relocatable object without LTO.
        objdl::LtoObject::GccSlim => {
            let mut cmd = Command::new("gcc");
            cmd.args(["-r", "-nostdlib", "-flinker-output=nolto-rel"]);
            (cmd, "gcc")
        }
        _ => {
            let clang = clang().ok_or_else(|| {
                format!(
                    "{}: LLVM bitcode (clang -flto) needs clang to compile it, and none is installed; rebuild it without -flto",
                    path.display()
                )
            })?;
            let mut cmd = Command::new(&clang);
            cmd.args(["-c", "-x", "ir"]);
            (cmd, "clang")
        }
    };
    cmd.arg(path).arg("-o").arg(out);
    let status = crate::input::run_compiler(&mut cmd, scratch)
        .map_err(|e| format!("{}: cannot run {what}: {e}", path.display()))?;
    if !status.success() {
        return Err(format!(
            "{}: compiling the LTO input with {what} failed ({status})",
            path.display()
        ));
    }
    Ok(())
}

/// A clang on PATH: `clang`, else the newest `clang-N`.
fn clang() -> Option<PathBuf> {
    let found = |name: &str| {
        std::env::split_paths(&std::env::var_os("PATH")?)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    };
    found("clang").or_else(|| (14..=30).rev().find_map(|v| found(&format!("clang-{v}"))))
}
