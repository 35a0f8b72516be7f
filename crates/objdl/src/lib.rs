//! # objdl: `dlopen` for object files
//!
//! objdl loads x86-64 ELF relocatable code (`.o` files, as `gcc -c` makes
//! them, and static archives of them) into the running process, links it
//! against the process and other units, and runs it, wherever in the
//! 64-bit address space it lands.
//!
//! Calls that cannot reach their targets go through per-unit trampolines
//! that clobber no register; GOT loads are relaxed when their target is in
//! reach; a placement planner puts each unit where the references that
//! cannot be redirected (RIP-relative data, 32-bit absolutes) reach. What no
//! placement can serve is an error that names every site.
//!
//! ```no_run
//! use objdl::{Linker, Symbol};
//!
//! let linker = Linker::new();
//! // SAFETY: opening runs the object's constructors.
//! let unit = unsafe { linker.open("square.o")? };
//! // SAFETY: `square` is `int square(int)` in C.
//! let square: Symbol<extern "C" fn(i32) -> i32> = unsafe { unit.get("square")? };
//! assert_eq!(square(7), 49);
//! unit.close(); // atexit handlers, destructors, unmap
//! # Ok::<(), objdl::Error>(())
//! ```
//!
//! ## Several objects, a placement, no code run
//!
//! [`OpenOptions`] opens several inputs (paths, or bytes with
//! [`Input::bytes`]) as one unit, as `ld` would link them, with a
//! [`Placement`], a [`Scope`], and `no_exec` to link and map without running
//! anything. [`Linker::check`] links without mapping at all and reports the
//! placement window, every trampoline and GOT slot ([`Report`]).
//!
//! ```no_run
//! use objdl::{Linker, OpenOptions, Placement, Scope};
//!
//! let linker = Linker::new();
//! let mut opts = OpenOptions::new();
//! opts.placement(Placement::Far).scope(Scope::Global).no_exec(true);
//! // SAFETY: no_exec: none of the unit's code runs.
//! let unit = unsafe { opts.open(&linker, ["sqlite3.o", "shell.o"])? };
//! println!("{}", unit.stats()); // base, size, trampolines, GOT slots...
//!
//! opts.placement(Placement::At(0x1000_0000_0000));
//! let report = linker.check(["sqlite3.o", "shell.o"], &opts)?;
//! println!("{} trampolines", report.trampolines.len());
//! # Ok::<(), objdl::Error>(())
//! ```
//!
//! ## Resolution order
//!
//! A unit's undefined symbols are resolved, first match wins, from:
//!
//! 1. the unit's own definitions: strong over weak over COMMON; of COMDAT
//!    groups with one signature, the first wins (a discarded group takes its
//!    sections, and the unwind entries pointing into them, along);
//! 2. the exports of units opened with [`Scope::Global`], in open order;
//! 3. symbols given with [`Linker::define`];
//! 4. what objdl supplies per unit: `__start_SECTION`/`__stop_SECTION`
//!    bounds, `__dso_handle`, `atexit`, `at_quick_exit`, `on_exit`,
//!    `pthread_atfork`, `_GLOBAL_OFFSET_TABLE_`;
//! 5. the process's default scope (`dlsym(RTLD_DEFAULT, ...)`, with
//!    `dlvsym` for `name@VERSION`), including the libraries loaded with
//!    [`Linker::load_library`] (the CLI's `-l`);
//! 6. the executable's own `.symtab`, if
//!    [`Linker::use_executable_symbols`] is on;
//! 7. the libraries the gcc driver links implicitly, for what is still
//!    missing: `libgcc.a` and `libgcov.a`, `libgcc_s.so.1`,
//!    `libc_nonshared.a` ([`OpenOptions::implicit_libraries`]).
//!
//! Static archives among the inputs contribute the members that define
//! something still undefined, as `ld` pulls them. Every name left
//! unresolved is reported at once ([`Error::Unresolved`]), unless
//! [`OpenOptions::lazy`] asks for lazy binding: then a function that the
//! unit only calls is bound at its first call instead, by the same order
//! from step 2 on (a name found nowhere then aborts the process, as
//! `ld.so` does).
//!
//! ## Threads
//!
//! [`Linker`] and [`Unit`] are `Send` and `Sync`: units may be opened,
//! called and closed from several threads at once, through one linker or
//! clones of it (which share their namespace). A [`Symbol`] borrows its
//! unit, so a unit cannot be closed while one exists; share a unit between
//! threads as an `Arc<Unit>`, which closes when the last clone drops. Raw
//! pointers copied out of a symbol are not tracked: whoever keeps one keeps
//! the unit open. Initialisers and `STT_GNU_IFUNC` resolvers run on the
//! opening thread, finalisers on the closing one (or at exit); the unit's
//! `__thread` variables get a block per thread.
//!
//! ```
//! fn send_sync<T: Send + Sync>() {}
//! send_sync::<objdl::Linker>();
//! send_sync::<objdl::Unit>();
//! ```
//!
//! ## Limits
//!
//! - x86-64 ELF64 little-endian `ET_REL` objects, and `ar` archives of
//!   them; an LTO object (no machine code) is refused
//!   ([`Error::LtoInput`]): compile it first.
//! - One unit reserves at most 1 GiB (code, data, GOT and trampolines
//!   together: [`OpenOptions::size_limit`]), which keeps its internal
//!   references within a 32-bit displacement. An object may have at most
//!   2^20 sections, 2^24 symbols and 2^28 relocations, and a name 64 KiB.
//! - Initial-exec thread-locals take room in glibc's static TLS surplus,
//!   which is small and fixed at start-up ([`Error::StaticTlsFull`] names
//!   the tunable to raise).
//! - An object that needs an executable stack is refused unless
//!   [`OpenOptions::exec_stack`] allows it, which cannot be undone.
//! - No page is ever writable and executable: text is RX, read-only data
//!   and the GOT R, trampolines RX.
//!
//! ## Safety
//!
//! Opening runs the unit's code (initialisers, IFUNC resolvers), so
//! [`Linker::open`] and [`OpenOptions::open`] are `unsafe`: the inputs must
//! be trusted as the program they are. Malformed inputs are reported as
//! errors ([`Error::Malformed`], whose [`Malformed`] holds the defect's
//! place and values; parsing, resolution, planning and the relocation
//! arithmetic are fuzzed); a file truncated while it is being opened is the
//! exception (inputs are mapped, as linkers map them). [`Error::Internal`]
//! is objdl's own bug, never the input's.
//!
//! ## Tools around it
//!
//! [`process_map()`] lists the process's mappings, for pictures of where units
//! land (`objdl check --map`). The `objdl` command (crate `objdl-cli`) runs
//! objects and sources (`objdl run prog.c -- args`), checks and inspects
//! them; the C library (crate `objdl-capi`, `objdl.h`) offers the same
//! through `objdl_dlopen`, `objdl_dlopen_unit` and `objdl_dlsym`.
//!
//! The pipeline, one module per stage: parse → resolve → layout → plan →
//! place → map → relocate → protect → register → initialise (see
//! `ARCHITECTURE.md` in the repository).

#![deny(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

mod arch;
mod error;
mod hash;
mod input;
pub mod inspect;
mod limits;
mod link;
mod linker;
mod load;
mod options;
mod pipeline;
mod process_map;
mod report;
mod scope;
#[cfg(test)]
mod stage_tests;

pub use error::{
    BaseProblem, CacheRefusal, Error, LibraryRefusal, Malformed, NotCode, OutOfReach, Part,
    PlacementRefusal, PlacementSearch, ReloadRefusal, Result, Sanitizer, Site, StaticTlsRefusal,
    UnreachableFix, UnreachableSite, Unresolved, Unsupported, SANITIZERS,
};
pub use input::elf::{lto_object, LtoObject};
pub use input::file::regular_file;
pub use link::placement::Placement;
pub use linker::Linker;
pub use load::cache::{cache_clear, cache_stats, check_cache_dir, default_cache_dir, CacheStats};
pub use load::unit::{LoadStats, RelocationSummary, Symbol, Unit};
pub use options::{Input, OpenOptions, Scope};
pub use pipeline::ReloadReport;
pub use process_map::{process_map, Mapping};
pub use report::{GotSlot, LoadedSection, Report, Trampoline};
pub use scope::host::{find_library, LibraryFile};
