//! The libraries the gcc driver links after the user's inputs, which
//! objects rely on without naming them: `gcc` adds `-lgcc`, `-lgcc_s` (as
//! needed) and `libc_nonshared.a` (in `libc.so`'s linker script) to every
//! link, and `-lgcov` to a `-fprofile-generate` one. Helpers such as
//! `__cpu_model` and `__cpu_indicator_init` (`target_clones`,
//! `__builtin_cpu_supports`), `__morestack` (`-fsplit-stack`),
//! `__popcountdi2` or `__divsc3` live there.
//!
//! objdl turns to them only for what is still unresolved once the unit's
//! own inputs, the global scope and the process have been searched: first
//! the archives `libgcc.a` and `libgcov.a` (members are pulled as ld pulls
//! them), then `libgcc_s.so.1` (loaded into the process), then
//! `libc_nonshared.a`. [`crate::OpenOptions::implicit_libraries`] turns it
//! off. The archives are those of the newest gcc installed
//! (`/usr/lib/gcc/TRIPLE/VERSION/`).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::arch;

/// What objdl tries, in order, for names still unresolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Stage {
    /// Static archives to pull members from.
    Archives(Vec<PathBuf>),
    /// A shared library to load into the process.
    Shared(PathBuf),
}

/// The stages, found once: `libgcc.a` and `libgcov.a`, `libgcc_s.so.1`,
/// `libc_nonshared.a`; those that are not installed are left out.
pub(crate) fn stages() -> &'static [Stage] {
    static STAGES: OnceLock<Vec<Stage>> = OnceLock::new();
    STAGES.get_or_init(|| {
        let mut stages = Vec::new();
        if let Some(dir) = gcc_dir() {
            let archives: Vec<PathBuf> = ["libgcc.a", "libgcov.a"]
                .iter()
                .map(|n| dir.join(n))
                .filter(|p| p.is_file())
                .collect();
            if !archives.is_empty() {
                stages.push(Stage::Archives(archives));
            }
        }
        let lib_dirs = lib_dirs();
        if let Some(p) = first_file(&lib_dirs, "libgcc_s.so.1") {
            stages.push(Stage::Shared(p));
        }
        if let Some(p) = first_file(&lib_dirs, "libc_nonshared.a") {
            stages.push(Stage::Archives(vec![p]));
        }
        stages
    })
}

/// Where the C library and libgcc_s live: the multiarch directories
/// first ([`arch::MULTIARCH`]).
fn lib_dirs() -> Vec<PathBuf> {
    let mut dirs = vec![
        Path::new("/usr/lib").join(arch::MULTIARCH),
        Path::new("/lib").join(arch::MULTIARCH),
    ];
    dirs.extend(["/usr/lib64", "/lib64", "/usr/lib", "/lib"].map(PathBuf::from));
    dirs
}

/// Where gcc keeps its own libraries, per target triple: Debian's
/// multiarch one, the upstream `CPU-VENDOR-linux-gnu` (Arch, Gentoo, a
/// gcc built from source), Red Hat's and SUSE's.
fn gcc_dirs() -> Vec<PathBuf> {
    let (cpu, vendor) = (arch::GNU_CPU, arch::GNU_VENDOR);
    let upstream = format!("{cpu}-{vendor}-linux-gnu");
    vec![
        Path::new("/usr/lib/gcc").join(arch::MULTIARCH),
        Path::new("/usr/lib/gcc").join(&upstream),
        Path::new("/usr/lib/gcc").join(format!("{cpu}-redhat-linux")),
        Path::new("/usr/lib64/gcc").join(format!("{cpu}-suse-linux")),
        Path::new("/usr/local/lib/gcc").join(&upstream),
    ]
}

fn first_file(dirs: &[PathBuf], name: &str) -> Option<PathBuf> {
    dirs.iter().map(|d| d.join(name)).find(|p| p.is_file())
}

/// The directory of the newest gcc version that has a `libgcc.a`.
fn gcc_dir() -> Option<PathBuf> {
    let mut best: Option<(Vec<u32>, PathBuf)> = None;
    for root in gcc_dirs() {
        let Ok(entries) = std::fs::read_dir(root) else {
            continue;
        };
        for e in entries.flatten() {
            let dir = e.path();
            let Some(version) = dir.file_name().and_then(|n| n.to_str()).and_then(version) else {
                continue;
            };
            if dir.join("libgcc.a").is_file() && best.as_ref().is_none_or(|(v, _)| version > *v) {
                best = Some((version, dir));
            }
        }
    }
    best.map(|(_, dir)| dir)
}

/// `12`, `12.2.0`: the numbers; `None` for anything else.
fn version(name: &str) -> Option<Vec<u32>> {
    name.split('.').map(|p| p.parse().ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_by_number() {
        assert!(version("12").unwrap() > version("9").unwrap());
        assert!(version("12.2.0").unwrap() > version("12").unwrap());
        assert_eq!(version("x86_64"), None);
    }

    #[test]
    fn libgcc_is_found_first() {
        // Every machine that runs these tests has gcc.
        match stages().first() {
            Some(Stage::Archives(a)) => assert!(a[0].ends_with("libgcc.a"), "{a:?}"),
            other => panic!("{other:?}"),
        }
    }
}
