//! # objdl: `dlopen` for object files
//!
//! objdl loads x86-64 ELF relocatable code (`.o` files, as `gcc -c` makes
//! them) into the running process, links it against the process and other
//! units, and runs it, wherever in the 64-bit address space it lands.
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
//! # Ok::<(), objdl::Error>(())
//! ```
//!
//! The pipeline, one module per stage: [parse](crate) → resolve → layout →
//! plan → place → map → relocate → protect → register → initialise. See
//! `ARCHITECTURE.md`.

#![deny(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

mod annotate;
mod arch;
mod archive;
mod debug;
mod error;
mod host;
mod implicit;
pub mod inspect;
mod layout;
mod limits;
mod linker;
mod memory;
mod namespace;
mod parse;
mod placement;
mod plan;
mod process_map;
mod relocate;
mod resolve;
mod runtime;
mod shim;
mod thread_exit;
mod tls;
mod unit;

pub use error::{Error, Result, Sanitizer, Site, UnreachableSite, Unresolved, SANITIZERS};
pub use host::{find_library, LibraryFile};
pub use linker::{GotSlot, Input, Linker, LoadedSection, OpenOptions, Report, Scope, Trampoline};
pub use parse::{lto_object, LtoObject};
pub use placement::Placement;
pub use process_map::{process_map, Mapping};
pub use unit::{LoadStats, RelocationSummary, Symbol, Unit};
