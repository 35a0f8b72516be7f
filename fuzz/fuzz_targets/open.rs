//! One object opened for real (`no_exec`: mapped and relocated, nothing of
//! it run): the path that relocates where the kernel maps a unit whose
//! relocations do not constrain its base, checking each one as it goes.

#![no_main]

use libfuzzer_sys::fuzz_target;
use objdl::Input;

fuzz_target!(|data: &[u8]| {
    objdl_fuzz::open(vec![Input::bytes("fuzz.o", data)]);
});
