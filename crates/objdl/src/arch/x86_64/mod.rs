//! x86-64: relocation formulas and tables ([`relocations`]), the
//! instruction bytes around a field and the rewrites objdl is allowed to
//! make ([`instructions`]), the stubs it emits ([`stubs`], [`lazy`]), and
//! the TLS descriptor resolvers ([`tls_descriptors`]).
//!
//! Everything that knows an x86-64 opcode or an `R_X86_64_*` number is here.

/// The assembly that saves all register state the kernel enables at
/// `(%rsp)` (64-byte aligned, `xsave::XSAVE_SIZE` bytes), clobbering %rax
/// and %rdx: the xsave header (bytes 512..576) zeroed, as `xrstor` needs,
/// then `xsave64` of every component. One template piece of the
/// resolvers' `global_asm!`.
macro_rules! xsave_all {
    () => {
        concat!(
            "xor %eax, %eax\n",
            "mov %rax, 512(%rsp)\n",
            "mov %rax, 520(%rsp)\n",
            "mov %rax, 528(%rsp)\n",
            "mov %rax, 536(%rsp)\n",
            "mov %rax, 544(%rsp)\n",
            "mov %rax, 552(%rsp)\n",
            "mov %rax, 560(%rsp)\n",
            "mov %rax, 568(%rsp)\n",
            "mov $-1, %eax\n",
            "mov $-1, %edx\n",
            "xsave64 (%rsp)",
        )
    };
}

mod instructions;
mod lazy;
mod relocations;
mod stubs;
mod tls_descriptors;
mod xsave;

use std::borrow::Cow;

use object::elf::RelocationType;

use super::contract::{Arch, HandleArg, SiteKind, TlsDescEntry};
use super::field::Field;
use super::formula::{Formula, Quick};

pub(crate) use instructions::Relax;

/// x86-64 (AMD64), System V ABI, ELF.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct X86_64;

impl Arch for X86_64 {
    const ELF_UNWIND_SECTION_TYPE: Option<u32> = Some(object::elf::SHT_X86_64_UNWIND.0);

    const KINDS: usize = relocations::KINDS;

    #[inline(always)]
    fn kind_index(r_type: RelocationType) -> Option<usize> {
        relocations::kind_index(r_type)
    }

    #[inline(always)]
    fn kind_of_index(index: usize) -> RelocationType {
        relocations::kind_of_index(index)
    }

    #[inline(always)]
    fn count_index(r_type: RelocationType) -> usize {
        relocations::count_index(r_type)
    }

    #[inline(always)]
    fn formula(r_type: RelocationType) -> Option<Formula> {
        relocations::formula(r_type)
    }

    #[inline(always)]
    fn quick_class(r_type: RelocationType) -> Quick {
        relocations::quick_class(r_type)
    }

    #[inline(always)]
    fn placement_free(r_type: RelocationType) -> bool {
        relocations::placement_free(r_type)
    }

    #[inline(always)]
    fn field_width(r_type: RelocationType) -> u64 {
        relocations::field_width(r_type)
    }

    fn reloc_name(r_type: RelocationType) -> Cow<'static, str> {
        relocations::reloc_name(r_type)
    }

    const TP_OFFSET_WORD: RelocationType = object::elf::R_X86_64_TPOFF64;

    #[inline(always)]
    fn site_kind(bytes: &[u8], off: usize) -> SiteKind {
        instructions::site_kind(bytes, off)
    }

    fn reads_only(bytes: &[u8], off: usize) -> bool {
        instructions::reads_only(bytes, off)
    }

    fn call_only(r_type: RelocationType, addend: i64, bytes: &[u8], off: u64) -> Option<bool> {
        instructions::call_only(r_type, addend, bytes, off)
    }

    fn referenced_offset(r_type: RelocationType, addend: i64) -> Option<i64> {
        relocations::referenced_offset(r_type, addend)
    }

    type Relax = Relax;

    #[inline(always)]
    fn relaxation(bytes: &[u8], off: usize, addend: i64) -> Option<Relax> {
        instructions::relaxation(bytes, off, addend)
    }

    #[inline(always)]
    fn relaxed_value(relax: Relax, s_plus_a_minus_p: i128) -> i128 {
        instructions::relaxed_value(relax, s_plus_a_minus_p)
    }

    #[inline(always)]
    fn apply_relax(bytes: &mut [u8], off: usize, relax: Relax) -> (isize, i128) {
        instructions::apply_relax(bytes, off, relax)
    }

    #[inline(always)]
    fn address_to_load(bytes: &mut [u8], off: usize) {
        instructions::lea_to_mov(bytes, off)
    }

    const PC_BIAS: i64 = 4;

    const GOT_SLOT_SIZE: usize = stubs::GOT_SLOT_SIZE;

    const TRAMPOLINE_SIZE: usize = stubs::TRAMPOLINE_SIZE;

    const TRAMPOLINE_TARGET_AT: usize = 6;

    fn write_trampoline(buf: &mut [u8], target: u64) {
        stubs::write_trampoline(buf, target)
    }

    const IFUNC_STUB_SIZE: usize = stubs::IFUNC_STUB_SIZE;

    fn write_ifunc_stub(buf: &mut [u8], here: u64, slot: u64) {
        stubs::write_ifunc_stub(buf, here, slot)
    }

    const ATEXIT_STUB_SIZE: usize = stubs::ATEXIT_STUB_SIZE;

    fn write_handle_stub(buf: &mut [u8], here: u64, dso_handle: u64, slot: u64, arg: HandleArg) {
        stubs::write_handle_stub(buf, here, dso_handle, slot, arg)
    }

    const LAZY_HEADER_SIZE: usize = lazy::LAZY_HEADER_SIZE;

    const LAZY_ENTRY_SIZE: usize = lazy::LAZY_ENTRY_SIZE;

    const LAZY_SLOT_SIZE: usize = lazy::LAZY_SLOT_SIZE;

    fn write_lazy_header(buf: &mut [u8], here: u64, ctx: u64, resolver: u64) {
        lazy::write_lazy_header(buf, here, ctx, resolver)
    }

    fn write_lazy_entry(buf: &mut [u8], here: u64, slot: u64, header: u64, index: u32) -> u64 {
        lazy::write_lazy_entry(buf, here, slot, header, index)
    }

    fn lazy_resolver(bind: extern "C" fn(*const (), u64) -> u64) -> u64 {
        lazy::lazy_resolver(bind)
    }

    fn tlsdesc_supported() -> bool {
        tls_descriptors::tlsdesc_supported()
    }

    fn tlsdesc_resolver(slow_path: u64) -> Option<u64> {
        tls_descriptors::tlsdesc_resolver(slow_path)
    }

    fn tlsdesc_static_resolver() -> u64 {
        tls_descriptors::tlsdesc_static_resolver()
    }

    fn tlsdesc_cache() -> *mut *mut TlsDescEntry {
        tls_descriptors::tlsdesc_cache()
    }

    /// Nothing to do: x86-64's instruction cache is coherent with data
    /// writes (stores to code are snooped), and `mprotect`, a system call,
    /// serialises the processor before the code first runs.
    #[inline(always)]
    fn flush_icache(_addr: u64, _len: u64) {}

    /// A `rel32`: `call`, `jmp`, `jcc`, `lea`/`mov` with `(%rip)`.
    const REDIRECT_FIELD: Field = Field::S32;

    const NAME: &'static str = "x86-64";

    const ELF_MACHINE: u16 = object::elf::EM_X86_64.0;

    #[inline(always)]
    fn thread_pointer() -> u64 {
        let tp: u64;
        // SAFETY: reads the TCB's self-pointer at %fs:0, which glibc sets
        // for every thread before any of its code runs.
        unsafe {
            std::arch::asm!("mov {}, fs:0", out(reg) tp, options(nostack, readonly, preserves_flags))
        };
        tp
    }

    const USER_ADDRESS_BITS: u32 = 47;

    const USER_ADDRESS_END: u64 = (1 << 47) - 4096;

    const MULTIARCH: &'static str = "x86_64-linux-gnu";

    const GNU_CPU: &'static str = "x86_64";

    const GNU_VENDOR: &'static str = "pc";
}
