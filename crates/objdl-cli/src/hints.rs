//! One-line hints appended to objdl's own errors, for the mistakes a new
//! user makes: a library not named (`sqrt` without `-l m`), a forgotten
//! `--` before the program's arguments.

use std::ffi::CString;
use std::path::{Path, PathBuf};

/// The hint for a missing input `inputs[index]` of `objdl run`
/// that looks like an argument for the program (not the first input, no
/// extension of an object, archive or source): `--` was forgotten.
pub(crate) fn forgotten_dashes(
    inputs: &[PathBuf],
    index: usize,
    err: &std::io::Error,
) -> Option<String> {
    let path = inputs.get(index)?;
    let looks_like_an_input = crate::compile::Language::of(path).is_some()
        || path
            .extension()
            .is_some_and(|e| e == "o" || e == "a" || e == "obj");
    if err.kind() != std::io::ErrorKind::NotFound || index == 0 || looks_like_an_input {
        return None;
    }
    let rest: Vec<String> = inputs[index..]
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    Some(format!(
        "arguments for the program go after `--`: objdl run {} -- {}",
        inputs[0].display(),
        rest.join(" ")
    ))
}

/// The hint for an input of `objdl run` that the library could not read,
/// as [`forgotten_dashes`] gives it.
pub(crate) fn for_missing_input(err: &objdl::Error, inputs: &[PathBuf]) -> Option<String> {
    let objdl::Error::Io { path, source } = err else {
        return None;
    };
    let index = inputs.iter().position(|p| p == path)?;
    forgotten_dashes(inputs, index, source)
}

/// Libraries whose functions programs call without a header saying which
/// library they are in: probed, in this order, for unresolved symbols.
const CANDIDATES: &[&str] = &[
    "m", "stdc++", "atomic", "quadmath", "z", "bz2", "lzma", "crypt", "crypto", "ssl", "gmp",
    "readline", "ncurses", "sqlite3", "uuid", "ffi", "curl",
];

/// The hint for `err`, if there is one: for unresolved symbols, the
/// libraries (found as `-l` finds them, in `dirs` and the system's) that
/// define them, and the `-l` to add. Loads those libraries to look: call
/// only on the way out.
pub(crate) fn for_error(err: &objdl::Error, dirs: &[PathBuf]) -> Option<String> {
    let list = match err {
        objdl::Error::Unresolved(list) => list,
        objdl::Error::Malformed {
            file,
            what: objdl::Malformed::NotElf,
        } => {
            return not_an_object(Path::new(file));
        }
        _ => return None,
    };
    let mut found: Vec<(&str, Vec<&str>)> = Vec::new();
    let mut missing: Vec<&str> = list
        .iter()
        .map(|u| u.symbol.split('@').next().unwrap_or(&u.symbol))
        .collect();
    missing.dedup();
    for lib in CANDIDATES {
        if missing.is_empty() {
            break;
        }
        let Ok(objdl::LibraryFile::Shared(paths)) = objdl::find_library(lib, dirs) else {
            continue;
        };
        let defined: Vec<&str> = missing
            .iter()
            .copied()
            .filter(|sym| paths.iter().any(|p| defines(p, sym)))
            .collect();
        if !defined.is_empty() {
            missing.retain(|s| !defined.contains(s));
            found.push((lib, defined));
        }
    }
    if found.is_empty() {
        return None;
    }
    let parts: Vec<String> = found
        .iter()
        .map(|(lib, syms)| {
            let names: Vec<String> = syms.iter().take(3).map(|s| format!("`{s}`")).collect();
            let more = if syms.len() > 3 { ", ..." } else { "" };
            let verb = if syms.len() == 1 { "is" } else { "are" };
            format!(
                "{}{more} {verb} in lib{lib}: add -l {lib}",
                names.join(", ")
            )
        })
        .collect();
    Some(format!("hint: {}", parts.join("; ")))
}

/// The hint for an input that is not an ELF file: objdl compiles sources
/// it knows by their extension, and reads everything else as an object or
/// an archive.
fn not_an_object(path: &Path) -> Option<String> {
    // A source objdl compiles never reaches the library.
    if crate::compile::Language::of(path).is_some() {
        return None;
    }
    let what = match path.extension().and_then(|e| e.to_str()) {
        Some(ext) => format!("`.{ext}` is not a source objdl compiles"),
        None => "a file without an extension is read as an object".to_string(),
    };
    Some(format!(
        "hint: {what}; it takes objects (.o), archives (.a) and sources (.c, .cc/.cpp/.cxx, .s/.S)"
    ))
}

/// Whether the shared library at `path` defines `symbol` (it is loaded,
/// locally, to ask the dynamic loader).
fn defines(path: &Path, symbol: &str) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let (Ok(path), Ok(symbol)) = (
        CString::new(path.as_os_str().as_bytes()),
        CString::new(symbol),
    ) else {
        return false;
    };
    // SAFETY: NUL-terminated strings; loading a system library runs its
    // initialisers, as linking the program with it would.
    let handle = unsafe { libc::dlopen(path.as_ptr(), libc::RTLD_LAZY | libc::RTLD_LOCAL) };
    if handle.is_null() {
        return false;
    }
    // SAFETY: a live handle and a NUL-terminated name. The handle stays
    // open: the process is about to report an error and exit.
    !unsafe { libc::dlsym(handle, symbol.as_ptr()) }.is_null()
}
