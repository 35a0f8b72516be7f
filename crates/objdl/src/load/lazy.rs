//! Lazy binding's runtime ([`crate::OpenOptions::lazy`]), as `RTLD_LAZY`
//! does for shared objects: the unit's *lazy area*, a mapping of its own
//! with a stub per name (read-only, executable) and a slot per name
//! (read-write, never executable), and the binder its stubs call.
//! Which names get stubs is decided at link time (`link::lazy`).
//!
//! A stub jumps through its slot, which first points back into the stub:
//! it pushes the name's index and enters the common resolver in
//! [`crate::arch`], which saves the argument registers and calls
//! [`objdl_lazy_bind`]. That looks the name up as resolution would
//! (Global units, then [`crate::Linker::define`]s, then the process, then
//! the executable's symbols if asked), stores the address in the slot (one
//! aligned 8-byte store: threads racing on a first call store the same
//! value), and the resolver jumps there. A name found nowhere prints one
//! line, `objdl: symbol lookup error: FILE: undefined symbol: NAME`, and
//! aborts, as `ld.so` does.
//!
//! A Global unit that a lazy call binds to is kept loaded by the binding
//! unit, as an immediate binding keeps it (a dependency edge, as `ld.so`
//! adds one); the area, with its table, goes with the unit's memory.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::arch;
use crate::error::{Error, Result, Unresolved, Unsupported};
use crate::load::memory::{align_up, Memory, Protection, Reservation, PAGE};
use crate::scope::host::{self, Host};
use crate::scope::namespace::{Held, Namespace};

/// A unit's lazy stubs and slots, and what binding needs.
pub(crate) struct LazyArea {
    /// Stub pages (RX), then slot pages (RW). Unmapped when the unit goes.
    mem: Reservation,
    /// The header's context word points here (boxed: its address is fixed).
    table: Box<LazyTable>,
}

impl std::fmt::Debug for LazyArea {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LazyArea")
            .field("base", &format_args!("{:#x}", self.mem.base()))
            .field("names", &self.table.names.len())
            .finish()
    }
}

/// What [`objdl_lazy_bind`] reads.
struct LazyTable {
    /// Per index: the name and the input that first referred to it.
    names: Vec<(Box<str>, u32)>,
    /// The inputs' names, for the message.
    files: Vec<String>,
    /// The address of slot 0; slot `i` follows at `8 * i`.
    slots: u64,
    host: Arc<Host>,
    namespace: Arc<Namespace>,
    /// The Global units lazy calls bound to: kept loaded while this unit is.
    bound: Mutex<Vec<Held>>,
}

impl LazyArea {
    /// Maps an area for `names` (each with the index in `files` of the
    /// input that first refers to it): a stub per name, whose slot points
    /// back into it until the first call binds it. The stubs are
    /// read-only and executable from here on.
    pub fn new(
        names: Vec<(Box<str>, u32)>,
        files: Vec<String>,
        host: &Arc<Host>,
        namespace: &Arc<Namespace>,
    ) -> Result<LazyArea> {
        let n = names.len() as u64;
        let too_many = || Error::Unsupported {
            file: files.join(", "),
            what: Unsupported::LazyNames,
        };
        // Header and entries, then the slots, each part in whole pages.
        let stub_bytes = n
            .checked_mul(arch::LAZY_ENTRY_SIZE as u64)
            .and_then(|b| b.checked_add(arch::LAZY_HEADER_SIZE as u64))
            .filter(|&b| b <= crate::limits::MAX_UNIT_SIZE)
            .map(|b| align_up(b, PAGE))
            .ok_or_else(too_many)?;
        let slot_bytes = n
            .checked_mul(arch::LAZY_SLOT_SIZE as u64)
            .filter(|&b| b <= crate::limits::MAX_UNIT_SIZE)
            .map(|b| align_up(b, PAGE))
            .ok_or_else(too_many)?;
        let total = stub_bytes
            .checked_add(slot_bytes)
            .filter(|&t| t <= crate::limits::MAX_UNIT_SIZE)
            .ok_or_else(too_many)?;
        let mut mem = Reservation::reserve(None, total)?;
        let base = mem.base();
        let slots = base + stub_bytes;
        let table = Box::new(LazyTable {
            names,
            files,
            slots,
            host: host.clone(),
            namespace: namespace.clone(),
            bound: Mutex::new(Vec::new()),
        });
        {
            // SAFETY: the mapping was just made read-write and nothing else
            // refers to it yet.
            let bytes = unsafe { mem.bytes_mut() };
            let ctx = &*table as *const LazyTable as u64;
            arch::write_lazy_header(bytes, base, ctx, arch::lazy_resolver(objdl_lazy_bind));
            for i in 0..table.names.len() {
                let at = arch::LAZY_HEADER_SIZE + i * arch::LAZY_ENTRY_SIZE;
                let slot = slots + (i * arch::LAZY_SLOT_SIZE) as u64;
                let unbound = arch::write_lazy_entry(
                    &mut bytes[at..at + arch::LAZY_ENTRY_SIZE],
                    base + at as u64,
                    slot,
                    base,
                    i as u32,
                );
                let s = (stub_bytes as usize) + i * arch::LAZY_SLOT_SIZE;
                bytes[s..s + 8].copy_from_slice(&unbound.to_le_bytes());
            }
        }
        mem.finalise(&[(0, stub_bytes, Protection::RX)])?;
        Ok(LazyArea { mem, table })
    }

    /// The address of name `index`'s stub: what its references bind to.
    pub fn stub(&self, index: u32) -> u64 {
        self.mem.base()
            + arch::LAZY_HEADER_SIZE as u64
            + u64::from(index) * arch::LAZY_ENTRY_SIZE as u64
    }

    /// How many names are bound lazily.
    pub fn len(&self) -> usize {
        self.table.names.len()
    }

    /// Each lazily bound name, with the input that first referred to it.
    pub fn names(&self) -> impl Iterator<Item = Unresolved> + '_ {
        let t = &*self.table;
        t.names.iter().map(|(name, file)| Unresolved {
            symbol: name.to_string(),
            file: t.files[*file as usize].clone(),
        })
    }
}

impl LazyTable {
    /// `name`'s address, looked up as resolution looks up a name the unit
    /// does not define (the per-unit names objdl supplies were bound at
    /// open time): the Global units, the host's definitions, the process
    /// (not the cache: a library may have come since), the executable.
    fn lookup(&self, name: &str) -> Option<u64> {
        if let Some((addr, unit)) = self.namespace.lookup(name) {
            let mut bound = self.bound.lock().unwrap_or_else(|e| e.into_inner());
            let same = |u: &Held| std::ptr::addr_eq(Arc::as_ptr(u), Arc::as_ptr(&unit));
            if !bound.iter().any(same) {
                bound.push(unit);
            }
            return Some(addr);
        }
        self.host
            .defined(name)
            .or_else(|| host::dlsym_uncached(name))
            .or_else(|| self.host.exe_symbol(name))
            .filter(|&a| a != 0)
    }
}

/// Binds lazy name `index` of `table` (a [`LazyTable`]) and returns its
/// address; called by the common resolver in [`crate::arch`] with every
/// argument register saved. A name found nowhere ends the process, as
/// `ld.so` does.
extern "C" fn objdl_lazy_bind(table: *const (), index: u64) -> u64 {
    // SAFETY: the resolver passes the context word of the header of the
    // area whose stub was called: the address of its table, which lives
    // as long as the area's stubs can run (the unit owns both).
    let table = unsafe { &*table.cast::<LazyTable>() };
    let Some((name, file)) = usize::try_from(index).ok().and_then(|i| table.names.get(i)) else {
        lookup_error("?", &format!("lazy stub index {index}"));
    };
    let Some(addr) = table.lookup(name) else {
        lookup_error(&table.files[*file as usize], name);
    };
    let slot = table.slots + index * arch::LAZY_SLOT_SIZE as u64;
    // SAFETY: slot `index` is an aligned word of the area's read-write
    // pages, which live as long as the table; the stubs read it with
    // plain aligned loads, which an atomic store does not tear.
    let slot = unsafe { &*(slot as *const AtomicU64) };
    slot.store(addr, Ordering::Release);
    addr
}

/// Prints `objdl: symbol lookup error: FILE: undefined symbol: NAME` (one
/// line: control characters escaped) and aborts.
fn lookup_error(file: &str, name: &str) -> ! {
    let esc = |s: &str| -> String {
        s.chars()
            .flat_map(|c| {
                let e: Vec<char> = if c.is_control() {
                    c.escape_default().collect()
                } else {
                    vec![c]
                };
                e
            })
            .collect()
    };
    let line = format!(
        "objdl: symbol lookup error: {}: undefined symbol: {}\n",
        esc(file),
        esc(name)
    );
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
    std::process::abort()
}
