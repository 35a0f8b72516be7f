//! One object through `Linker::check` at a fixed address: parse, resolve,
//! lay out, plan and relocate into a buffer. Nothing is mapped or run.

#![no_main]

use libfuzzer_sys::fuzz_target;
use objdl::Input;

fuzz_target!(|data: &[u8]| {
    objdl_fuzz::check(vec![Input::bytes("fuzz.o", data)], true);
});
