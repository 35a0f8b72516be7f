//! Regenerates `include/objdl.h` from `src/lib.rs` with cbindgen, with the
//! version macros of the crate's version, and gives the shared library its
//! SONAME.
//!
//! The SONAME follows cargo-c's convention: `libobjdl.so.MAJOR`, and
//! `libobjdl.so.0.MINOR` while the major version is 0 (where a minor
//! version may break the ABI). `scripts/install.sh` installs the library as
//! `libobjdl.so.MAJOR.MINOR.PATCH` with links named after it.
//!
//! The header is committed, so C users need neither Rust nor cbindgen to
//! read it; building the crate keeps it up to date. It is written only when
//! its text changes, and a source tree that cannot be written (a packaged
//! crate) keeps the header it has.

use std::path::PathBuf;

fn main() {
    let dir =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let src = dir.join("src/lib.rs");
    let config_path = dir.join("cbindgen.toml");
    let header = dir.join("include/objdl.h");
    println!("cargo:rerun-if-changed={}", src.display());
    println!("cargo:rerun-if-changed={}", config_path.display());
    println!("cargo:rerun-if-changed=build.rs");

    let version = |part: &str| {
        std::env::var(format!("CARGO_PKG_VERSION_{part}"))
            .ok()
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or_else(|| panic!("cargo sets CARGO_PKG_VERSION_{part} to a number"))
    };
    let (major, minor, patch) = (version("MAJOR"), version("MINOR"), version("PATCH"));
    let soname_version = if major == 0 {
        format!("0.{minor}")
    } else {
        major.to_string()
    };
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libobjdl.so.{soname_version}");

    let mut config = cbindgen::Config::from_file(&config_path)
        .unwrap_or_else(|e| panic!("{}: {e}", config_path.display()));
    config.after_includes = Some(format!(
        "\n/** The version of this header: MAJOR.MINOR.PATCH (`objdl_version()` gives the library's). */\n\
         #define OBJDL_VERSION_MAJOR {major}\n\
         #define OBJDL_VERSION_MINOR {minor}\n\
         #define OBJDL_VERSION_PATCH {patch}\n\
         #define OBJDL_VERSION \"{major}.{minor}.{patch}\"\n\
         /** MAJOR * 1000000 + MINOR * 1000 + PATCH, for `#if OBJDL_VERSION_NUMBER >= ...`. */\n\
         #define OBJDL_VERSION_NUMBER {}",
        major * 1_000_000 + minor * 1000 + patch
    ));
    // Only lib.rs: every item of the C API is there, and parsing one file
    // needs no `cargo metadata` call.
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(&src)
        .generate()
        .unwrap_or_else(|e| panic!("cbindgen failed on {}: {e}", src.display()));
    let mut text = Vec::new();
    bindings.write(&mut text);
    if std::fs::read(&header).is_ok_and(|old| old == text) {
        return;
    }
    let written =
        std::fs::create_dir_all(dir.join("include")).and_then(|()| std::fs::write(&header, &text));
    if let Err(e) = written {
        println!("cargo:warning=cannot write {}: {e}", header.display());
    }
}
