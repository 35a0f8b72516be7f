//! A `#![no_std]` library compiled with `rustc --emit=obj -C panic=abort`:
//! `extern "C"` functions over integers, slices passed as pointers, and
//! statics with interior state. Nothing here can panic, so the object needs
//! nothing from libcore's own objects.
#![no_std]
use core::sync::atomic::{AtomicU64, Ordering};

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    loop {}
}

#[no_mangle]
pub extern "C" fn rs_add(a: i64, b: i64) -> i64 {
    a.wrapping_add(b)
}

#[no_mangle]
pub extern "C" fn rs_mul_add(a: u32, b: u32, c: u32) -> u32 {
    a.wrapping_mul(b).wrapping_add(c)
}

/// Sum of `len` i32s at `p`.
#[no_mangle]
pub unsafe extern "C" fn rs_sum(p: *const i32, len: usize) -> i64 {
    // SAFETY: the caller passes `len` readable i32s at `p`.
    let s = unsafe { core::slice::from_raw_parts(p, len) };
    s.iter().map(|&x| x as i64).sum()
}

/// Reverses `len` bytes at `p` in place.
#[no_mangle]
pub unsafe extern "C" fn rs_reverse(p: *mut u8, len: usize) {
    // SAFETY: the caller passes `len` writable bytes at `p`.
    unsafe { core::slice::from_raw_parts_mut(p, len) }.reverse();
}

static COUNTER: AtomicU64 = AtomicU64::new(10);
static mut HISTORY: [u64; 4] = [0; 4];

/// Adds `n` to a counter kept in a static; returns the new value.
#[no_mangle]
pub extern "C" fn rs_count(n: u64) -> u64 {
    let v = COUNTER.fetch_add(n, Ordering::Relaxed) + n;
    // SAFETY: the callers (the tests) do not call this concurrently.
    unsafe { HISTORY[(v % 4) as usize] = v };
    v
}

#[no_mangle]
pub extern "C" fn rs_history(i: usize) -> u64 {
    // SAFETY: as in `rs_count`.
    unsafe { HISTORY[i & 3] }
}

static NAMES: [&str; 3] = ["zero", "one", "two"];

/// The length of a name from a table of string slices (relocated pointers).
#[no_mangle]
pub extern "C" fn rs_name_len(i: usize) -> usize {
    NAMES.get(i).map_or(0, |s| s.len())
}
