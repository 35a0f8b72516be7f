//! Regenerates `include/objdl.h` from `src/lib.rs` with cbindgen.
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

    let config = cbindgen::Config::from_file(&config_path)
        .unwrap_or_else(|e| panic!("{}: {e}", config_path.display()));
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
