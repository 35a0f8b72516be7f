//! Hot reload: an object (the first of a pair: a little-endian `u32`
//! length, the first object, then the second) opened reloadable for real
//! (`no_exec`), then reloaded with the second as the new version of the
//! same input: functions bound to entries, relocations to a function's
//! start renamed, data kept, new or reset by section and name.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (first, second) = objdl_fuzz::split_pair(data);
    objdl_fuzz::reload(first, second);
});
