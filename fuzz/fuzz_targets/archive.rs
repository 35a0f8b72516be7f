//! The input as a static archive, linked with a fixed small object that
//! refers to symbols its members define, through `Linker::check` at a fixed
//! address: archive reading (with and without a symbol index), member
//! selection, then resolution, the plan and the relocations. Nothing is
//! mapped or run.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use objdl::Input;

static DRIVER: OnceLock<Vec<u8>> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let driver = DRIVER.get_or_init(objdl_fuzz::driver_object);
    // No names are defined for it: the archive must serve the driver.
    objdl_fuzz::check(
        vec![
            Input::bytes("driver.o", driver.clone()),
            Input::bytes("fuzz.a", data),
        ],
        false,
    );
});
