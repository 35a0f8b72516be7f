//! The contract between the stages and an architecture: the [`Arch`]
//! trait, what every architecture provides, and the vocabulary its
//! signatures speak that is not a relocation's ([`SiteKind`],
//! [`HandleArg`], the TLS descriptor cache's [`TlsDescEntry`]). A
//! relocation's vocabulary is `formula.rs`'s and `field.rs`'s.
//!
//! This file names no architecture: each one (`x86_64/`) implements the
//! trait from here, and `arch/mod.rs` chooses `Native` among them, so no
//! file imports one that imports it back.

use std::borrow::Cow;
use std::fmt::Debug;

use object::elf::RelocationType;

use super::field::Field;
use super::formula::{Formula, Quick};

/// What an architecture provides: its relocation types, the instructions
/// around their fields, the code objdl writes, and the cache maintenance
/// that code needs. Implemented by a zero-sized type; the stages reach it
/// through `arch::Native` (chosen in `arch/mod.rs`).
pub(crate) trait Arch {
    // The object format's machine facts.

    /// The processor-specific ELF section type that holds unwind tables,
    /// loaded as `.eh_frame` is (x86-64: `SHT_X86_64_UNWIND`), if the
    /// architecture has one.
    const ELF_UNWIND_SECTION_TYPE: Option<u32>;

    // Relocations.

    /// How many relocation kinds the architecture numbers densely, from 0:
    /// the size of every table and count by kind. Relocation numbers need
    /// not be small (AArch64's start at 257); dense indices are.
    const KINDS: usize;

    /// The dense index of `r_type`, below [`Arch::KINDS`], or `None` for a
    /// type the architecture does not number (a table lookup at most).
    #[cfg_attr(
        not(test),
        expect(
            dead_code,
            reason = "no stage asks: they count with `count_index`, and an architecture's \
                      tables call its files' `kind_index`, to which this delegates"
        )
    )]
    fn kind_index(r_type: RelocationType) -> Option<usize>;

    /// The relocation type whose dense index is `index` (the inverse of
    /// [`Arch::kind_index`]).
    fn kind_of_index(index: usize) -> RelocationType;

    /// An index below [`Arch::KINDS`] under which to count `r_type`, with
    /// no branch: [`Arch::kind_index`] for every type objdl implements;
    /// any index for the others, which are refused before a count is
    /// reported.
    fn count_index(r_type: RelocationType) -> usize;

    /// The formula for relocation type `r_type`, or `None` if objdl does
    /// not implement it. Asked for every relocation: a table lookup.
    fn formula(r_type: RelocationType) -> Option<Formula>;

    /// The [`Quick`] class of `r_type` (a table lookup).
    fn quick_class(r_type: RelocationType) -> Quick;

    /// Whether the values of `r_type` never constrain where a unit goes: a
    /// unit with no others may simply be relocated where the kernel first
    /// maps it. The others are short absolutes and short PC-relative
    /// fields, which constrain the base, and the thread-local forms.
    fn placement_free(r_type: RelocationType) -> bool;

    /// The size in bytes of the field `r_type` patches, for bounds checks
    /// at parse time; 0 for a type that patches nothing or is unknown.
    fn field_width(r_type: RelocationType) -> u64;

    /// The name of `r_type`, for messages (`R_X86_64_PC32`), or `type 99`
    /// for a number no one defined.
    fn reloc_name(r_type: RelocationType) -> Cow<'static, str>;

    /// The dynamic relocation type with which `ld.so` writes a symbol's
    /// offset from the thread pointer into a 64-bit word, putting its
    /// module in static TLS (x86-64: `R_X86_64_TPOFF64`).
    const TP_OFFSET_WORD: RelocationType;

    // The instruction around a field.

    /// What kind of instruction owns the redirectable PC-relative field
    /// ([`Arch::REDIRECT_FIELD`]) at `off` in `bytes` (a section's
    /// contents).
    fn site_kind(bytes: &[u8], off: usize) -> SiteKind;

    /// Whether the instruction owning the PC-relative field at `off` only
    /// reads memory: only such sites may be served from a read-only copy
    /// of a host variable.
    fn reads_only(bytes: &[u8], off: usize) -> bool;

    /// Whether the relocation of type `r_type` and `addend` at the field
    /// `off` of `bytes` only calls or jumps to its symbol, and so may go
    /// through a lazy stub; `None` for a field out of bounds.
    fn call_only(r_type: RelocationType, addend: i64, bytes: &[u8], off: u64) -> Option<bool>;

    /// The offset from its symbol of the location a relocation of type
    /// `r_type` and `addend` in code or data refers to, when it takes an
    /// address (absolute, or PC-relative at the end of its instruction);
    /// `None` for the GOT, thread-local and other forms. A reloadable unit
    /// sends references to a function's start through its entry.
    fn referenced_offset(r_type: RelocationType, addend: i64) -> Option<i64>;

    /// A rewrite that lets a GOT load reach its target directly.
    type Relax: Copy + Eq + Debug;

    /// The relaxation that applies to the relaxable GOT load at `off` with
    /// `addend`, if any.
    fn relaxation(bytes: &[u8], off: usize, addend: i64) -> Option<Self::Relax>;

    /// The value of a relaxed field, given S + A − P.
    fn relaxed_value(relax: Self::Relax, s_plus_a_minus_p: i128) -> i128;

    /// Rewrites the instruction for `relax`; returns the new field offset
    /// relative to `off`, and the value to add to S + A − P for it.
    fn apply_relax(bytes: &mut [u8], off: usize, relax: Self::Relax) -> (isize, i128);

    /// Rewrites the instruction at a [`SiteKind::Address`] field, which computes
    /// an address, into one that loads it from memory at the same operand
    /// (a GOT slot holding the address), in the same length.
    fn address_to_load(bytes: &mut [u8], off: usize);

    /// How far past a redirectable PC-relative field the address
    /// lies that the processor adds the field to: x86-64's field ends its
    /// instruction, so 4 (AArch64's is relative to its own instruction).
    /// A branch whose field holds S + A − P lands on S + A + this.
    const PC_BIAS: i64;

    // The code and data objdl writes.

    /// The size of one GOT slot.
    const GOT_SLOT_SIZE: usize;

    /// The size of a trampoline (see [`Arch::write_trampoline`]).
    const TRAMPOLINE_SIZE: usize;

    /// Writes a trampoline to `target` into `buf`: a jump that reaches
    /// anywhere and clobbers nothing.
    fn write_trampoline(buf: &mut [u8], target: u64);

    /// Where in a trampoline its target's 8-byte address lies (a word a
    /// cached unit moves).
    const TRAMPOLINE_TARGET_AT: usize;

    /// The size of an IFUNC stub (see [`Arch::write_ifunc_stub`]).
    const IFUNC_STUB_SIZE: usize;

    /// Writes, at address `here`, a jump through the GOT slot at `slot`
    /// (which holds the IFUNC resolver's answer).
    fn write_ifunc_stub(buf: &mut [u8], here: u64, slot: u64);

    /// The size of a unit's `atexit`-style function (see
    /// [`Arch::write_handle_stub`]).
    const ATEXIT_STUB_SIZE: usize;

    /// Writes, at `here`, a function that adds the unit's `__dso_handle`
    /// (at `dso_handle`) as argument `arg` and tail-calls the function the
    /// slot at `slot` holds, as libc_nonshared.a's do for a linked module.
    fn write_handle_stub(buf: &mut [u8], here: u64, dso_handle: u64, slot: u64, arg: HandleArg);

    // Lazy binding.

    /// The size of a lazy area's header.
    const LAZY_HEADER_SIZE: usize;

    /// The size of one lazy entry.
    const LAZY_ENTRY_SIZE: usize;

    /// The size of one lazy slot.
    const LAZY_SLOT_SIZE: usize;

    /// Writes the lazy area's header at `here`: it passes `ctx` to the
    /// common resolver `resolver`.
    fn write_lazy_header(buf: &mut [u8], here: u64, ctx: u64, resolver: u64);

    /// Writes lazy entry `index` at `here`: a jump through `slot`, and
    /// what the slot first points to, which passes `index` to the header
    /// at `header`. Returns that first address.
    fn write_lazy_entry(buf: &mut [u8], here: u64, slot: u64, header: u64, index: u32) -> u64;

    /// The address of the common lazy resolver, which saves every
    /// register, calls `bind(context, index)` and jumps to its answer.
    fn lazy_resolver(bind: extern "C" fn(*const (), u64) -> u64) -> u64;

    // TLS descriptors.

    /// Whether the processor and the kernel let the descriptor resolver
    /// save what it must.
    fn tlsdesc_supported() -> bool;

    /// The resolver of a descriptor whose argument is a `tls_index`; its
    /// slow path calls `slow_path` (`__tls_get_addr`'s signature). `None`
    /// when not [`Arch::tlsdesc_supported`].
    fn tlsdesc_resolver(slow_path: u64) -> Option<u64>;

    /// The resolver of a descriptor whose argument is the variable's
    /// offset from the thread pointer (a variable in static TLS).
    fn tlsdesc_static_resolver() -> u64;

    /// The calling thread's descriptor cache pointer, which the resolver
    /// reads: null, or [`TLSDESC_CACHE_ENTRIES`] entries.
    fn tlsdesc_cache() -> *mut *mut TlsDescEntry;

    // Caches.

    /// Makes the instructions just written at `addr`, `len` bytes, visible
    /// to instruction fetch, before they first run: called once wherever
    /// objdl makes code it wrote executable.
    fn flush_icache(addr: u64, len: u64);

    // The field the stages redirect.

    /// The field of the PC-relative references the stages may redirect
    /// ([`SiteKind`]: a branch through a trampoline, an address computation
    /// through a GOT slot) and of the ones they rewrite (a relaxed GOT load,
    /// [`Arch::apply_relax`]): the range every such decision is made
    /// against (x86-64: [`Field::S32`], a `rel32`; AArch64's branch would
    /// be a 26-bit word field).
    const REDIRECT_FIELD: Field;

    // The platform: the process and the system around it.

    /// The architecture's name in messages (`x86-64`).
    const NAME: &'static str;

    /// The ELF `e_machine` of the architecture's objects, written into the
    /// shared objects objdl generates (`load/shim.rs`), and the only one
    /// the ELF reader accepts (`input/elf.rs`): `EM_X86_64`.
    const ELF_MACHINE: u16;

    /// The calling thread's thread pointer, from which static TLS offsets
    /// count (x86-64: `%fs:0`, where glibc's TCB holds its own address).
    fn thread_pointer() -> u64;

    /// How many bits a user address has: from `1 << USER_ADDRESS_BITS` up
    /// to the kernel's half (from `u64::MAX << USER_ADDRESS_BITS`) no
    /// address is canonical (x86-64 with 4-level paging: 47).
    const USER_ADDRESS_BITS: u32;

    /// One past the highest address a user mapping may reach, Linux's
    /// `TASK_SIZE` (x86-64: `0x7fff_ffff_f000`, the last page below 2^47
    /// held back): the top of every placement window.
    const USER_ADDRESS_END: u64;

    /// The multiarch tuple of Debian's library directories
    /// (`/usr/lib/x86_64-linux-gnu`): `-l` and the implicit libraries are
    /// looked for there first.
    const MULTIARCH: &'static str;

    /// The processor part of GNU target triples (`x86_64`): gcc keeps its
    /// own libraries in `/usr/lib/gcc/TRIPLE/VERSION/`, with the triple
    /// [`Arch::MULTIARCH`], `CPU-VENDOR-linux-gnu`, `CPU-redhat-linux` or
    /// `CPU-suse-linux`.
    const GNU_CPU: &'static str;

    /// The vendor part of upstream GNU target triples (x86-64: `pc`, as in
    /// `x86_64-pc-linux-gnu`; `unknown` elsewhere).
    const GNU_VENDOR: &'static str;
}

/// What kind of instruction owns a redirectable PC-relative field (one of
/// [`Arch::REDIRECT_FIELD`], x86-64's `rel32`), judged from the bytes
/// around it (see [`Arch::site_kind`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SiteKind {
    /// A call or jump (x86-64: `call rel32`, `jmp rel32`, `jcc rel32`):
    /// may go through a trampoline.
    Branch,
    /// Computes the address (x86-64: `lea disp(%rip), %reg`): may instead
    /// load it from a GOT slot (see [`Arch::address_to_load`]).
    Address,
    /// Anything else: a load, a store, or data. Cannot be redirected.
    Other,
}

/// Which argument of the libc function receives the unit's `__dso_handle`
/// (see [`Arch::write_handle_stub`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HandleArg {
    /// `at_quick_exit(f)` → `__cxa_at_quick_exit(f, handle)`.
    Second,
    /// `atexit(f)` → `__cxa_atexit(f, NULL, handle)` (zeroes the second
    /// argument when `zero_second`).
    Third { zero_second: bool },
    /// `pthread_atfork(a, b, c)` → `__register_atfork(a, b, c, handle)`.
    Fourth,
}

/// How many entries a thread's TLS descriptor cache has (a power of two).
pub(crate) const TLSDESC_CACHE_ENTRIES: usize = 64;

/// An entry of a thread's TLS descriptor cache: objdl TLS module `module`
/// has its block for this thread at `base`. Slot `module % ENTRIES`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct TlsDescEntry {
    pub module: u64,
    pub base: u64,
}
