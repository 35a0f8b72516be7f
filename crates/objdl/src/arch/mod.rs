//! The architecture seam: everything that knows an opcode or a relocation
//! number lives behind the [`Arch`] trait, which [`Native`] implements for
//! the processor objdl runs on. Only x86-64 exists today ([`X86_64`]);
//! AArch64 (or COFF's x64 relocations) would be a sibling.
//!
//! The stages call through [`Native`], statically: every call is
//! monomorphic and inlined, so the hot loops stay table lookups. The free
//! functions and constants below are thin wrappers over `Native`'s, so
//! that call sites read as `arch::formula(kind)`. No stage names a
//! relocation number or an instruction; they speak this module's
//! vocabulary: [`Formula`], [`Quick`], [`ExternalFact`], [`SiteKind`],
//! [`Field`], [`HandleArg`].
//!
//! # Files
//!
//! This file only chooses and re-exports: it declares the others, sets
//! [`Native`], re-exports the trait and the vocabulary (so that the stages
//! write `arch::SiteKind`, wherever it is defined) and holds the wrappers.
//! The rest lies below it, and imports downwards only, so that no file
//! imports one that imports it back:
//!
//! - `field.rs`: [`Field`], a field's range and encoding (imports nothing).
//! - `formula.rs`: [`Formula`], [`Quick`], [`ExternalFact`] (imports
//!   `field.rs`).
//! - `contract.rs`: the [`Arch`] trait and the vocabulary of its
//!   signatures ([`SiteKind`], [`HandleArg`], [`TlsDescEntry`]; imports
//!   `field.rs` and `formula.rs`, and no architecture).
//! - `x86_64/`: [`X86_64`], implementing the trait; its files import from
//!   the three above and from each other, never from this file.
//!
//! # How to add an architecture
//!
//! A zero-sized type in its own folder (as `x86_64/`), implementing
//! [`Arch`] (imported from `contract.rs`, as the vocabulary from
//! `formula.rs` and `field.rs`), and `Native` set to it under its
//! `target_arch`. It provides:
//!
//! - **Object-format facts**: its unwind-table section type, if any
//!   ([`Arch::ELF_UNWIND_SECTION_TYPE`]) (its ELF machine is among the
//!   platform's facts below).
//! - **Relocation kinds**: a dense index from 0 ([`Arch::KINDS`],
//!   [`Arch::kind_index`], [`Arch::kind_of_index`], [`Arch::count_index`]),
//!   which every table and count uses, whatever the raw numbers (AArch64's
//!   start at 257); each kind's [`Formula`] and [`Field`] (bit fields
//!   included: [`BitField`](field::BitField)), as `const` tables ([`Arch::formula`],
//!   [`Arch::quick_class`], [`Arch::placement_free`], [`Arch::field_width`]);
//!   names for messages ([`Arch::reloc_name`]); and the dynamic type `ld.so`
//!   uses for a static TLS offset ([`Arch::TP_OFFSET_WORD`]).
//! - **Instructions around a field**: the field of the PC-relative
//!   references objdl redirects or rewrites ([`Arch::REDIRECT_FIELD`]), what
//!   owns such a field ([`Arch::site_kind`], [`Arch::reads_only`],
//!   [`Arch::call_only`], [`Arch::referenced_offset`]), where the
//!   processor's PC is relative to it ([`Arch::PC_BIAS`]), GOT-load
//!   relaxations ([`Arch::Relax`], [`Arch::relaxation`],
//!   [`Arch::relaxed_value`], [`Arch::apply_relax`]) and the one rewrite of
//!   an address computation into a load ([`Arch::address_to_load`]).
//! - **Code objdl writes**: GOT slots, trampolines, IFUNC stubs and the
//!   unit's `atexit`-style functions (sizes and writers), the lazy area's
//!   header, entries and common resolver, and the TLS descriptor resolvers
//!   ([`Arch::tlsdesc_resolver`] and its siblings).
//! - **Cache maintenance**: [`Arch::flush_icache`], called before code
//!   objdl wrote first runs (by `load::memory`'s `Memory::finalise`; a
//!   no-op where the instruction cache is coherent, as on x86-64).
//! - **The platform**: its name ([`Arch::NAME`]), ELF machine
//!   ([`Arch::ELF_MACHINE`]), thread pointer ([`Arch::thread_pointer`]),
//!   user address space ([`Arch::USER_ADDRESS_BITS`],
//!   [`Arch::USER_ADDRESS_END`]) and the triples of its library
//!   directories ([`Arch::MULTIARCH`], [`Arch::GNU_CPU`],
//!   [`Arch::GNU_VENDOR`]).
//!
//! A new object format (COFF, Mach-O) is a `Format` (`input/format.rs`):
//! its relocation records give (offset, symbol, kind, addend), the addend
//! read from the field's bytes in the section for formats with implicit
//! addends (ELF `REL`, COFF), so that the formulas always see an explicit
//! one; its kinds are an architecture's.

mod contract;
mod field;
mod formula;
#[cfg(target_arch = "x86_64")]
mod x86_64;

use std::borrow::Cow;

use object::elf::RelocationType;

pub(crate) use contract::{Arch, HandleArg, SiteKind, TlsDescEntry, TLSDESC_CACHE_ENTRIES};
pub(crate) use field::Field;
pub(crate) use formula::{ExternalFact, Formula, Quick};
#[cfg(target_arch = "x86_64")]
pub(crate) use x86_64::X86_64;

#[cfg(not(target_arch = "x86_64"))]
compile_error!("objdl runs on x86-64 only: another processor needs an `Arch` (see `arch/mod.rs`)");

/// The architecture objdl runs on, and links for.
#[cfg(target_arch = "x86_64")]
pub(crate) type Native = X86_64;

/// S + A − P in 64 bits, or `None` if it overflows. S is taken as two's
/// complement, as [`Formula::Pc`] is everywhere.
#[inline(always)]
pub(crate) fn pc_relative(s: u64, p: u64, addend: i64) -> Option<i64> {
    (s as i64)
        .checked_sub(p as i64)
        .and_then(|v| v.checked_add(addend))
}

/// Whether S + A − P fits [`REDIRECT_FIELD`]: a PC-relative reference from
/// `p` reaches `s` as it is, with no trampoline or slot.
#[inline(always)]
pub(crate) fn pc_relative_fits(s: u64, p: u64, addend: i64) -> bool {
    pc_relative(s, p, addend).is_some_and(|v| REDIRECT_FIELD.fits(i128::from(v)))
}

// Thin wrappers over `Native`'s items, for readable call sites.

/// [`Native`]'s rewrite of a GOT load (see [`Arch::Relax`]).
pub(crate) type Relax = <Native as Arch>::Relax;

/// See [`Arch::KINDS`].
pub(crate) const KINDS: usize = <Native as Arch>::KINDS;

/// See [`Arch::kind_of_index`].
#[inline(always)]
pub(crate) fn kind_of_index(index: usize) -> RelocationType {
    Native::kind_of_index(index)
}

/// See [`Arch::count_index`].
#[inline(always)]
pub(crate) fn count_index(r_type: RelocationType) -> usize {
    Native::count_index(r_type)
}

/// See [`Arch::formula`].
#[inline(always)]
pub(crate) fn formula(r_type: RelocationType) -> Option<Formula> {
    Native::formula(r_type)
}

/// See [`Arch::quick_class`].
#[inline(always)]
pub(crate) fn quick_class(r_type: RelocationType) -> Quick {
    Native::quick_class(r_type)
}

/// See [`Arch::placement_free`].
#[inline(always)]
pub(crate) fn placement_free(r_type: RelocationType) -> bool {
    Native::placement_free(r_type)
}

/// See [`Arch::field_width`].
#[inline(always)]
pub(crate) fn field_width(r_type: RelocationType) -> u64 {
    Native::field_width(r_type)
}

/// See [`Arch::reloc_name`].
pub(crate) fn reloc_name(r_type: RelocationType) -> Cow<'static, str> {
    Native::reloc_name(r_type)
}

/// See [`Arch::PC_BIAS`].
pub(crate) const PC_BIAS: i64 = <Native as Arch>::PC_BIAS;

/// See [`Arch::TP_OFFSET_WORD`].
pub(crate) const TP_OFFSET_WORD: RelocationType = <Native as Arch>::TP_OFFSET_WORD;

/// What relocation type `r_type` needs to know of an external symbol
/// besides its address (see [`Formula::external_fact`]).
#[inline]
pub(crate) fn external_fact(r_type: RelocationType) -> Option<ExternalFact> {
    match formula(r_type) {
        Some(f) => f.external_fact(),
        None => None,
    }
}

/// See [`Arch::site_kind`].
#[inline(always)]
pub(crate) fn site_kind(bytes: &[u8], off: usize) -> SiteKind {
    Native::site_kind(bytes, off)
}

/// See [`Arch::reads_only`].
pub(crate) fn reads_only(bytes: &[u8], off: usize) -> bool {
    Native::reads_only(bytes, off)
}

/// See [`Arch::call_only`].
pub(crate) fn call_only(
    r_type: RelocationType,
    addend: i64,
    bytes: &[u8],
    off: u64,
) -> Option<bool> {
    Native::call_only(r_type, addend, bytes, off)
}

/// See [`Arch::referenced_offset`].
pub(crate) fn referenced_offset(r_type: RelocationType, addend: i64) -> Option<i64> {
    Native::referenced_offset(r_type, addend)
}

/// See [`Arch::relaxation`].
#[inline(always)]
pub(crate) fn relaxation(bytes: &[u8], off: usize, addend: i64) -> Option<Relax> {
    Native::relaxation(bytes, off, addend)
}

/// See [`Arch::relaxed_value`].
#[inline(always)]
pub(crate) fn relaxed_value(relax: Relax, s_plus_a_minus_p: i128) -> i128 {
    Native::relaxed_value(relax, s_plus_a_minus_p)
}

/// See [`Arch::apply_relax`].
#[inline(always)]
pub(crate) fn apply_relax(bytes: &mut [u8], off: usize, relax: Relax) -> (isize, i128) {
    Native::apply_relax(bytes, off, relax)
}

/// See [`Arch::address_to_load`].
pub(crate) fn address_to_load(bytes: &mut [u8], off: usize) {
    Native::address_to_load(bytes, off)
}

/// See [`Arch::GOT_SLOT_SIZE`].
pub(crate) const GOT_SLOT_SIZE: usize = <Native as Arch>::GOT_SLOT_SIZE;

/// See [`Arch::TRAMPOLINE_SIZE`].
pub(crate) const TRAMPOLINE_SIZE: usize = <Native as Arch>::TRAMPOLINE_SIZE;
/// See [`Arch::TRAMPOLINE_TARGET_AT`].
pub(crate) const TRAMPOLINE_TARGET_AT: usize = <Native as Arch>::TRAMPOLINE_TARGET_AT;

/// See [`Arch::write_trampoline`].
pub(crate) fn write_trampoline(buf: &mut [u8], target: u64) {
    Native::write_trampoline(buf, target)
}

/// See [`Arch::IFUNC_STUB_SIZE`].
pub(crate) const IFUNC_STUB_SIZE: usize = <Native as Arch>::IFUNC_STUB_SIZE;

/// See [`Arch::write_ifunc_stub`].
pub(crate) fn write_ifunc_stub(buf: &mut [u8], here: u64, slot: u64) {
    Native::write_ifunc_stub(buf, here, slot)
}

/// See [`Arch::ATEXIT_STUB_SIZE`].
pub(crate) const ATEXIT_STUB_SIZE: usize = <Native as Arch>::ATEXIT_STUB_SIZE;

/// See [`Arch::write_handle_stub`].
pub(crate) fn write_handle_stub(
    buf: &mut [u8],
    here: u64,
    dso_handle: u64,
    slot: u64,
    arg: HandleArg,
) {
    Native::write_handle_stub(buf, here, dso_handle, slot, arg)
}

/// See [`Arch::LAZY_HEADER_SIZE`].
pub(crate) const LAZY_HEADER_SIZE: usize = <Native as Arch>::LAZY_HEADER_SIZE;

/// See [`Arch::LAZY_ENTRY_SIZE`].
pub(crate) const LAZY_ENTRY_SIZE: usize = <Native as Arch>::LAZY_ENTRY_SIZE;

/// See [`Arch::LAZY_SLOT_SIZE`].
pub(crate) const LAZY_SLOT_SIZE: usize = <Native as Arch>::LAZY_SLOT_SIZE;

/// See [`Arch::write_lazy_header`].
pub(crate) fn write_lazy_header(buf: &mut [u8], here: u64, ctx: u64, resolver: u64) {
    Native::write_lazy_header(buf, here, ctx, resolver)
}

/// See [`Arch::write_lazy_entry`].
pub(crate) fn write_lazy_entry(
    buf: &mut [u8],
    here: u64,
    slot: u64,
    header: u64,
    index: u32,
) -> u64 {
    Native::write_lazy_entry(buf, here, slot, header, index)
}

/// See [`Arch::lazy_resolver`].
pub(crate) fn lazy_resolver(bind: extern "C" fn(*const (), u64) -> u64) -> u64 {
    Native::lazy_resolver(bind)
}

/// See [`Arch::tlsdesc_supported`].
pub(crate) fn tlsdesc_supported() -> bool {
    Native::tlsdesc_supported()
}

/// See [`Arch::tlsdesc_resolver`].
pub(crate) fn tlsdesc_resolver(slow_path: u64) -> Option<u64> {
    Native::tlsdesc_resolver(slow_path)
}

/// See [`Arch::tlsdesc_static_resolver`].
pub(crate) fn tlsdesc_static_resolver() -> u64 {
    Native::tlsdesc_static_resolver()
}

/// See [`Arch::flush_icache`].
#[inline(always)]
pub(crate) fn flush_icache(addr: u64, len: u64) {
    Native::flush_icache(addr, len)
}

/// See [`Arch::tlsdesc_cache`].
pub(crate) fn tlsdesc_cache() -> *mut *mut TlsDescEntry {
    Native::tlsdesc_cache()
}

/// See [`Arch::REDIRECT_FIELD`].
pub(crate) const REDIRECT_FIELD: Field = <Native as Arch>::REDIRECT_FIELD;

/// See [`Arch::NAME`].
pub(crate) const NAME: &str = <Native as Arch>::NAME;

/// See [`Arch::ELF_MACHINE`].
pub(crate) const ELF_MACHINE: u16 = <Native as Arch>::ELF_MACHINE;

/// See [`Arch::thread_pointer`].
#[inline(always)]
pub(crate) fn thread_pointer() -> u64 {
    Native::thread_pointer()
}

/// See [`Arch::USER_ADDRESS_BITS`].
pub(crate) const USER_ADDRESS_BITS: u32 = <Native as Arch>::USER_ADDRESS_BITS;

/// See [`Arch::USER_ADDRESS_END`].
pub(crate) const USER_ADDRESS_END: u64 = <Native as Arch>::USER_ADDRESS_END;

/// See [`Arch::MULTIARCH`].
pub(crate) const MULTIARCH: &str = <Native as Arch>::MULTIARCH;

/// See [`Arch::GNU_CPU`].
pub(crate) const GNU_CPU: &str = <Native as Arch>::GNU_CPU;

/// See [`Arch::GNU_VENDOR`].
pub(crate) const GNU_VENDOR: &str = <Native as Arch>::GNU_VENDOR;
