//! One object through `Linker::check` at a placement address taken from
//! the input (its first eight bytes, see `objdl_fuzz::placement_address`):
//! the checks on the base (below `vm.mmap_min_addr`, not canonical, past
//! the top of user space), then every address computation of the plan and
//! the relocations with the unit at the edges of the address space, under
//! overflow checks. Nothing is mapped or run.

#![no_main]

use libfuzzer_sys::fuzz_target;
use objdl::Input;

fuzz_target!(|data: &[u8]| {
    let (at, object) = objdl_fuzz::split_place(data);
    objdl_fuzz::check_at(vec![Input::bytes("fuzz.o", object)], true, at);
});
