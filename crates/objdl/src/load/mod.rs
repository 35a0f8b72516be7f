//! Loading: the process side of a unit. [`memory`], the memory provider,
//! reserves, protects and finalises its pages, [`runtime`] registers its
//! unwind tables and runs its initialisers and finalisers, [`tls`] and
//! [`shim`] serve its thread-locals ([`thread_exit`]: their destructors),
//! [`debug`] tells gdb and perf, [`annotate`] tells ThreadSanitizer;
//! [`unit`](mod@unit) is the loaded unit and what it keeps alive,
//! [`opened`] the units opened from paths.

pub(crate) mod annotate;
pub(crate) mod cache;
pub(crate) mod debug;
pub(crate) mod entries;
pub(crate) mod lazy;
pub(crate) mod memory;
pub(crate) mod opened;
pub(crate) mod runtime;
pub(crate) mod shim;
pub(crate) mod thread_exit;
pub(crate) mod tls;
pub(crate) mod unit;
