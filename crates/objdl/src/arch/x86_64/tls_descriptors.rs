//! TLS descriptors (`-mtls-dialect=gnu2`): the resolvers a descriptor's
//! first word points to.

use super::xsave::{xsave_size, XSAVE_SIZE};
use crate::arch::contract::{TlsDescEntry, TLSDESC_CACHE_ENTRIES};

/// The function the resolver's slow path calls with the variable's
/// `tls_index` (objdl's `__tls_get_addr`), set by [`tlsdesc_resolver`]
/// before any descriptor can point to the resolver.
static TLSDESC_SLOW_PATH: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

// The TLS descriptor resolver. Code calls it as `call *(%rax)` with %rax
// the descriptor's address and expects in %rax the variable's offset from
// the thread pointer, every other register intact, vector registers too
// (the compiler keeps them live across the call). The descriptor's second
// word is the variable's `tls_index` pair.
//
// Fast path: the calling thread's cache (a pointer in static TLS,
// `objdl_tlsdesc_cache`, set by `tls.rs`) has the block of the module:
// two registers saved, no call. (Initial-exec, so that reading it needs no
// call: in an executable the linker makes it local-exec; a shared library
// with objdl in it is marked STATIC_TLS.) Slow path: every general register the C
// ABI lets a callee clobber is saved, then all other state with `xsave`;
// objdl's `__tls_get_addr` (which also fills the cache) gives the address.
std::arch::global_asm!(
    ".pushsection .tbss.objdl_tlsdesc_cache,\"awT\",@nobits",
    ".p2align 3",
    ".globl objdl_tlsdesc_cache",
    ".hidden objdl_tlsdesc_cache",
    ".type objdl_tlsdesc_cache,@object",
    ".size objdl_tlsdesc_cache, 8",
    "objdl_tlsdesc_cache:",
    ".zero 8",
    ".popsection",
    ".pushsection .text.objdl_tlsdesc,\"ax\",@progbits",
    // The address of this thread's cache pointer.
    ".p2align 4",
    ".globl objdl_tlsdesc_cache_slot",
    ".hidden objdl_tlsdesc_cache_slot",
    ".type objdl_tlsdesc_cache_slot,@function",
    "objdl_tlsdesc_cache_slot:",
    ".cfi_startproc",
    "mov objdl_tlsdesc_cache@gottpoff(%rip), %rax",
    "add %fs:0, %rax",
    "ret",
    ".cfi_endproc",
    ".size objdl_tlsdesc_cache_slot, . - objdl_tlsdesc_cache_slot",
    ".p2align 4",
    ".globl objdl_tlsdesc_resolve",
    ".hidden objdl_tlsdesc_resolve",
    ".type objdl_tlsdesc_resolve,@function",
    "objdl_tlsdesc_resolve:",
    ".cfi_startproc",
    "mov 8(%rax), %rax",
    "push %rcx",
    ".cfi_adjust_cfa_offset 8",
    "push %rdx",
    ".cfi_adjust_cfa_offset 8",
    "mov objdl_tlsdesc_cache@gottpoff(%rip), %rcx",
    "mov %fs:(%rcx), %rcx",
    "test %rcx, %rcx",
    "jz 2f",
    "mov (%rax), %rdx",
    "and ${mask}, %edx",
    "shl $4, %edx",
    "add %rdx, %rcx",
    "mov (%rax), %rdx",
    "cmp %rdx, (%rcx)",
    "jne 2f",
    "mov 8(%rcx), %rcx",
    "add 8(%rax), %rcx",
    "sub %fs:0, %rcx",
    "mov %rcx, %rax",
    "pop %rdx",
    ".cfi_adjust_cfa_offset -8",
    "pop %rcx",
    ".cfi_adjust_cfa_offset -8",
    "ret",
    ".cfi_adjust_cfa_offset 16",
    "2:",
    "pop %rdx",
    ".cfi_adjust_cfa_offset -8",
    "pop %rcx",
    ".cfi_adjust_cfa_offset -8",
    "push %rbp",
    ".cfi_adjust_cfa_offset 8",
    ".cfi_rel_offset %rbp, 0",
    "mov %rsp, %rbp",
    ".cfi_def_cfa_register %rbp",
    "push %rdi",
    "push %rsi",
    "push %rdx",
    "push %rcx",
    "push %r8",
    "push %r9",
    "push %r10",
    "push %r11",
    "push %rbx",
    "mov %rax, %rbx",
    "sub {size}(%rip), %rsp",
    "and $-64, %rsp",
    xsave_all!(),
    "mov %rbx, %rdi",
    "call *{slow}(%rip)",
    "mov %rax, %rbx",
    "mov $-1, %eax",
    "mov $-1, %edx",
    "xrstor64 (%rsp)",
    "mov %rbx, %rax",
    "sub %fs:0, %rax",
    "lea -72(%rbp), %rsp",
    "pop %rbx",
    "pop %r11",
    "pop %r10",
    "pop %r9",
    "pop %r8",
    "pop %rcx",
    "pop %rdx",
    "pop %rsi",
    "pop %rdi",
    "pop %rbp",
    ".cfi_def_cfa %rsp, 8",
    "ret",
    ".cfi_endproc",
    ".size objdl_tlsdesc_resolve, . - objdl_tlsdesc_resolve",
    // A variable in static TLS: the descriptor's argument is its offset
    // from the thread pointer (glibc's `_dl_tlsdesc_return`).
    ".p2align 4",
    ".globl objdl_tlsdesc_static",
    ".hidden objdl_tlsdesc_static",
    ".type objdl_tlsdesc_static,@function",
    "objdl_tlsdesc_static:",
    ".cfi_startproc",
    "mov 8(%rax), %rax",
    "ret",
    ".cfi_endproc",
    ".size objdl_tlsdesc_static, . - objdl_tlsdesc_static",
    ".popsection",
    size = sym XSAVE_SIZE,
    slow = sym TLSDESC_SLOW_PATH,
    mask = const TLSDESC_CACHE_ENTRIES - 1,
    options(att_syntax)
);

unsafe extern "C" {
    /// See the `global_asm!` above; not callable from Rust (its argument is in %rax).
    fn objdl_tlsdesc_resolve();
    /// See the `global_asm!` above; not callable from Rust (its argument is in %rax).
    fn objdl_tlsdesc_static();
    /// The address of the calling thread's TLS descriptor cache pointer.
    fn objdl_tlsdesc_cache_slot() -> *mut *mut TlsDescEntry;
}

/// The calling thread's TLS descriptor cache pointer, which the resolver
/// reads: null, or [`TLSDESC_CACHE_ENTRIES`] entries that stay valid until
/// it is set again.
pub(super) fn tlsdesc_cache() -> *mut *mut TlsDescEntry {
    // SAFETY: the helper only computes an address (thread pointer plus the
    // static TLS offset of a variable of this module).
    unsafe { objdl_tlsdesc_cache_slot() }
}

/// The address of the resolver of a TLS descriptor whose argument is the
/// variable's offset from the thread pointer (a variable in static TLS).
pub(super) fn tlsdesc_static_resolver() -> u64 {
    objdl_tlsdesc_static as *const () as u64
}

/// Whether the processor and the kernel have `xsave`, which the TLS
/// descriptor resolver needs.
pub(super) fn tlsdesc_supported() -> bool {
    xsave_size().is_some()
}

/// The address of the TLS descriptor resolver, for the first word of a
/// descriptor whose argument is a `tls_index`; its slow path calls
/// `slow_path` (`__tls_get_addr`'s signature; always the same function).
/// `None` when the processor or the kernel lacks `xsave`.
pub(super) fn tlsdesc_resolver(slow_path: u64) -> Option<u64> {
    use std::sync::atomic::Ordering;
    xsave_size()?;
    TLSDESC_SLOW_PATH.store(slow_path, Ordering::Release);
    Some(objdl_tlsdesc_resolve as *const () as u64)
}
