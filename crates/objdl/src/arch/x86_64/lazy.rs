//! Lazy binding (`OpenOptions::lazy`; the runtime side is the loader's
//! `lazy` module): the stubs of a lazy area and the common resolver.

use super::xsave::{xsave_size, XSAVE_SIZE};

// A lazy area is one mapping: stub pages (RX), then slot pages (RW). The
// stub pages start with a header that, like a PLT's first entry, pushes
// the area's context and jumps to the common resolver; each name then has
// a 16-byte entry:
//
// ```text
// header: ff 35 rel32   push ctx(%rip)        the word at +16
//         ff 25 rel32   jmp *resolver(%rip)   the word at +24
//         cc cc cc cc
//         .quad ctx, resolver
// entry:  ff 25 rel32   jmp *slot(%rip)       what call sites reach
//         68 imm32      push $index           where the slot first points
//         e9 rel32      jmp header
// ```
//
// The slot is the only writable word the entry reads; the header's words
// are in the read-only, executable page, so that W^X holds.

/// The size of the lazy area's header (see above).
pub(super) const LAZY_HEADER_SIZE: usize = 32;

/// The size of one lazy entry (see above).
pub(super) const LAZY_ENTRY_SIZE: usize = 16;

/// The size of one lazy slot.
pub(super) const LAZY_SLOT_SIZE: usize = 8;

/// Writes the lazy area's header at `here` into `buf`: it pushes `ctx`
/// and jumps to `resolver`, both read from the header itself.
pub(super) fn write_lazy_header(buf: &mut [u8], here: u64, ctx: u64, resolver: u64) {
    let rel = |field_end: u64, target: u64| (target.wrapping_sub(field_end) as i32).to_le_bytes();
    buf[..LAZY_HEADER_SIZE].fill(0xcc);
    buf[0..2].copy_from_slice(&[0xff, 0x35]);
    buf[2..6].copy_from_slice(&rel(here + 6, here + 16));
    buf[6..8].copy_from_slice(&[0xff, 0x25]);
    buf[8..12].copy_from_slice(&rel(here + 12, here + 24));
    buf[16..24].copy_from_slice(&ctx.to_le_bytes());
    buf[24..32].copy_from_slice(&resolver.to_le_bytes());
}

/// Writes lazy entry `index` at `here` into `buf`: `jmp *slot(%rip)`,
/// then `push $index; jmp header`. Returns the address the slot must hold
/// until the name is bound (the `push`). The header, the entry and the
/// slot lie in one small mapping, so the displacements fit.
pub(super) fn write_lazy_entry(
    buf: &mut [u8],
    here: u64,
    slot: u64,
    header: u64,
    index: u32,
) -> u64 {
    let rel = |field_end: u64, target: u64| (target.wrapping_sub(field_end) as i32).to_le_bytes();
    buf[0..2].copy_from_slice(&[0xff, 0x25]);
    buf[2..6].copy_from_slice(&rel(here + 6, slot));
    buf[6] = 0x68;
    buf[7..11].copy_from_slice(&index.to_le_bytes());
    buf[11] = 0xe9;
    buf[12..16].copy_from_slice(&rel(here + 16, header));
    here + 6
}

// The common lazy resolver. Entered by a `jmp` from the header, with the
// stack as the call site left it plus two words: the area's context at
// (%rsp), the name's index at 8(%rsp), then the call's return address.
// Every register that may carry an argument (or the vararg count in %al,
// or the static chain in %r10) is saved, all vector and x87 state with
// `xsave` (`fxsave` where the kernel does not enable xsave), the stack is
// aligned for the call through `LAZY_BIND` (the binder `lazy_resolver`
// was given), which returns
// the target (or does not return). The target replaces the index word,
// everything is restored, and `ret` (after dropping the context word)
// jumps to it with the stack exactly as the call site left it: no
// register is clobbered, not even %r11.
std::arch::global_asm!(
    ".pushsection .text.objdl_lazy,\"ax\",@progbits",
    ".p2align 4",
    ".globl objdl_lazy_resolve",
    ".hidden objdl_lazy_resolve",
    ".type objdl_lazy_resolve,@function",
    "objdl_lazy_resolve:",
    ".cfi_startproc",
    ".cfi_adjust_cfa_offset 16",
    "push %rbp",
    ".cfi_adjust_cfa_offset 8",
    ".cfi_rel_offset %rbp, 0",
    "mov %rsp, %rbp",
    ".cfi_def_cfa_register %rbp",
    "push %rax",
    "push %rdi",
    "push %rsi",
    "push %rdx",
    "push %rcx",
    "push %r8",
    "push %r9",
    "push %r10",
    "push %r11",
    "push %rbx",
    "mov {size}(%rip), %rbx",
    "test %rbx, %rbx",
    "jz 2f",
    "sub %rbx, %rsp",
    "and $-64, %rsp",
    xsave_all!(),
    "mov 8(%rbp), %rdi",
    "mov 16(%rbp), %rsi",
    "call *{bind}(%rip)",
    "mov %rax, %rbx",
    "mov $-1, %eax",
    "mov $-1, %edx",
    "xrstor64 (%rsp)",
    "jmp 3f",
    "2:",
    "sub $576, %rsp",
    "and $-64, %rsp",
    "fxsave64 (%rsp)",
    "mov 8(%rbp), %rdi",
    "mov 16(%rbp), %rsi",
    "call *{bind}(%rip)",
    "mov %rax, %rbx",
    "fxrstor64 (%rsp)",
    "3:",
    "mov %rbx, 16(%rbp)",
    "lea -80(%rbp), %rsp",
    "pop %rbx",
    "pop %r11",
    "pop %r10",
    "pop %r9",
    "pop %r8",
    "pop %rcx",
    "pop %rdx",
    "pop %rsi",
    "pop %rdi",
    "pop %rax",
    "pop %rbp",
    ".cfi_def_cfa %rsp, 24",
    // `lea`, not `add`: the flags stay as the caller left them.
    "lea 8(%rsp), %rsp",
    ".cfi_adjust_cfa_offset -8",
    "ret",
    ".cfi_endproc",
    ".size objdl_lazy_resolve, . - objdl_lazy_resolve",
    ".popsection",
    size = sym XSAVE_SIZE,
    bind = sym LAZY_BIND,
    options(att_syntax)
);

unsafe extern "C" {
    /// See the `global_asm!` above; not callable from Rust (its arguments
    /// are on the stack).
    fn objdl_lazy_resolve();
}

/// The function the lazy resolver calls, `extern "C" fn(context, index)
/// -> address`: set by [`lazy_resolver`], so that this module does not
/// name the loader's binder (as `tls_descriptors::TLSDESC_SLOW_PATH` for descriptors).
static LAZY_BIND: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// The address of the common lazy resolver, for the header of a lazy
/// area; it calls `bind(context, index)`, which returns the address to
/// jump to (the loader's binder, the same every call).
pub(super) fn lazy_resolver(bind: extern "C" fn(*const (), u64) -> u64) -> u64 {
    use std::sync::atomic::Ordering;
    // Sets the xsave area's size when the processor has xsave; the
    // resolver uses fxsave otherwise.
    let _ = xsave_size();
    LAZY_BIND.store(bind as usize as u64, Ordering::Release);
    objdl_lazy_resolve as *const () as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lazy_stub_bytes() {
        let mut h = [0u8; LAZY_HEADER_SIZE];
        write_lazy_header(&mut h, 0x1000, 0xaabb, 0xccdd);
        // push 0x1010(%rip); jmp *0x1018(%rip)
        assert_eq!(
            &h[..12],
            &[0xff, 0x35, 10, 0, 0, 0, 0xff, 0x25, 12, 0, 0, 0]
        );
        assert_eq!(u64::from_le_bytes(h[16..24].try_into().unwrap()), 0xaabb);
        assert_eq!(u64::from_le_bytes(h[24..32].try_into().unwrap()), 0xccdd);
        let mut e = [0u8; LAZY_ENTRY_SIZE];
        let unbound = write_lazy_entry(&mut e, 0x1030, 0x2008, 0x1000, 3);
        assert_eq!(unbound, 0x1036);
        // jmp *0x2008(%rip): 0x2008 - 0x1036 = 0xfd2.
        assert_eq!(&e[..6], &[0xff, 0x25, 0xd2, 0x0f, 0, 0]);
        assert_eq!(&e[6..11], &[0x68, 3, 0, 0, 0]);
        // jmp 0x1000: 0x1000 - 0x1040 = -0x40.
        assert_eq!(&e[11..16], &[0xe9, 0xc0, 0xff, 0xff, 0xff]);
    }
}
