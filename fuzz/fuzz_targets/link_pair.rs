//! Two objects (a little-endian `u32` length, the first object, then the
//! second) linked as one unit through `Linker::check` at a fixed address:
//! cross-object resolution, COMDAT groups, COMMON and duplicates, then the
//! plan and the relocations. Nothing is mapped or run.

#![no_main]

use libfuzzer_sys::fuzz_target;
use objdl::Input;

fuzz_target!(|data: &[u8]| {
    let (a, b) = objdl_fuzz::split_pair(data);
    objdl_fuzz::check(
        vec![Input::bytes("fuzz-a.o", a), Input::bytes("fuzz-b.o", b)],
        true,
    );
});
