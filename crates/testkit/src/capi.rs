//! Where the C API's shared and static libraries of this very build are,
//! for tests that compile C or C++ hosts against them (objdl-capi's
//! tests/c_api.rs, objdl-cli's tests/cpp.rs and tests/install.rs).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The libraries the hosts link with.
pub const LIBRARIES: [&str; 2] = ["libobjdl_capi.so", "libobjdl_capi.a"];

/// The shared library's SONAME, as build.rs sets it (cargo-c's rule:
/// `libobjdl.so.0.MINOR` while the major version is 0).
pub fn soname() -> String {
    let (major, minor) = (
        env!("CARGO_PKG_VERSION_MAJOR"),
        env!("CARGO_PKG_VERSION_MINOR"),
    );
    if major == "0" {
        format!("libobjdl.so.0.{minor}")
    } else {
        format!("libobjdl.so.{major}")
    }
}

/// The directory holding `libobjdl_capi.so` and `libobjdl_capi.a`, and a
/// link named after the SONAME (`libobjdl.so.0.1`), which the hosts linked
/// with the shared library ask the dynamic loader for.
///
/// Cargo compiles objdl-capi once for all its crate types, before linking
/// a test that depends on it, so the shared and static libraries of this
/// very build are beside the test, in `target/<profile>/deps` (and copied to
/// `target/<profile>`). Only if they are missing is `cargo build` run, with
/// the test's profile. (Running it every time would cost seconds and
/// rebuilds: `cargo build -p objdl-capi` unifies features differently from
/// `cargo test --workspace`, and both write the same unhashed `.so`/`.a`.)
pub fn library_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let exe = std::env::current_exe().expect("the test's path");
        let deps = exe.parent().expect("target/<profile>/deps").to_path_buf();
        let profile = deps.parent().expect("target/<profile>").to_path_buf();
        let has_all = |dir: &Path| LIBRARIES.iter().all(|l| dir.join(l).is_file());
        if let Some(dir) = [&deps, &profile].into_iter().find(|d| has_all(d)) {
            return with_soname_link(dir);
        }
        let mut cmd = Command::new(env!("CARGO"));
        cmd.current_dir(env!("CARGO_MANIFEST_DIR")).args([
            "build",
            "--quiet",
            "-p",
            "objdl-capi",
            "--lib",
        ]);
        if !cfg!(debug_assertions) {
            cmd.arg("--release");
        }
        crate::run_ok(&mut cmd);
        assert!(
            has_all(&profile),
            "cargo build made no {LIBRARIES:?} in {}",
            profile.display()
        );
        with_soname_link(&profile)
    })
}

/// Makes `DIR/SONAME` a link to `DIR/libobjdl_capi.so` (atomically: tests
/// run in parallel) and returns `dir`.
fn with_soname_link(dir: &Path) -> PathBuf {
    let link = dir.join(soname());
    let temp = dir.join(format!("{}.{}.tmp", soname(), std::process::id()));
    let _ = std::fs::remove_file(&temp);
    std::os::unix::fs::symlink("libobjdl_capi.so", &temp)
        .and_then(|()| std::fs::rename(&temp, &link))
        .unwrap_or_else(|e| panic!("link {}: {e}", link.display()));
    dir.to_path_buf()
}

/// Adds to the compiler command `cmd` what links a host with the C API:
/// the shared library (found at run time through an rpath) or the static
/// one with the system libraries a Rust staticlib needs.
pub fn link_with_capi(cmd: &mut Command, shared: bool) {
    let lib = library_dir();
    if shared {
        cmd.arg("-L")
            .arg(lib)
            .arg(format!("-Wl,-rpath,{}", lib.display()))
            .arg("-lobjdl_capi");
    } else {
        // What `rustc --print native-static-libs` lists for a Rust
        // staticlib on x86_64-unknown-linux-gnu.
        cmd.arg(lib.join("libobjdl_capi.a")).args([
            "-lgcc_s",
            "-lutil",
            "-lrt",
            "-lpthread",
            "-lm",
            "-ldl",
            "-lc",
        ]);
    }
}
