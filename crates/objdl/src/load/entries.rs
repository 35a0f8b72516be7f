//! The entries of a reloadable unit ([`crate::OpenOptions::reloadable`]):
//! one per function of its objects, a stub `jmp *slot(%rip)` (read-only,
//! executable) and its slot (read-write, never executable), in chunks of
//! their own. Every reference to the function, from the unit, other units,
//! the host, function pointers and data, is the stub's address; the slot
//! holds where the function's current code is.
//!
//! A reload repoints a function with one aligned 8-byte store into its
//! slot: a thread that jumps through the stub at that moment reads either
//! the old address or the new one, both code that stays mapped. No
//! instruction is ever rewritten, so no thread can execute a half-written
//! patch, and no page is writable and executable at once: a chunk's stubs
//! are written before its page is made executable, and never again.
//!
//! Which functions get entries, and how references reach them, is decided
//! at link time (`link::entries`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use rustc_hash::{FxHashMap, FxHashSet};

use crate::arch;
use crate::error::{Error, Result, Unsupported};
use crate::load::memory::{Memory, Protection, Reservation, PAGE};

/// What a reloadable unit's links share: its entries, and what its data
/// was after the last link (what a reload compares with).
#[derive(Debug, Default)]
pub(crate) struct HotContext {
    pub table: Mutex<EntryTable>,
    pub data: Mutex<DataMap>,
}

/// Per object (by name), its data after a link.
#[derive(Debug, Default)]
pub(crate) struct DataMap {
    pub objects: FxHashMap<String, ObjectData>,
    /// The unit's thread-locals, if it has any.
    pub tls: Option<KeptTls>,
}

/// A unit's thread-local block after a link: what it is made of, and
/// where it is, for a reload whose block is the same to use it again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeptTls {
    /// Per object, its TLS sections in order: (name, size, alignment, its
    /// named variables (name, offset, size), sorted).
    pub signature: TlsSignature,
    /// The TLS module id (as TLSGD/DTPMOD64 hold it).
    pub module_id: u64,
    /// The block's offset from the thread pointer, when it is in static TLS.
    pub block: Option<i64>,
}

/// See [`KeptTls::signature`].
pub(crate) type TlsSignature = Vec<(String, Vec<(String, u64, u64, Vec<(String, u64, u64)>)>)>;

/// One object's data after a link.
#[derive(Debug, Default)]
pub(crate) struct ObjectData {
    /// Its keepable sections, in order.
    pub sections: Vec<DataSection>,
    /// Its global variables: name → (address, size).
    pub globals: FxHashMap<String, (u64, u64)>,
    /// The names of all its variables, local, global and thread-local.
    pub names: FxHashSet<String>,
}

/// A keepable section of an object after a link.
#[derive(Debug)]
pub(crate) struct DataSection {
    pub name: String,
    pub addr: u64,
    pub size: u64,
    /// (name, offset, size) of its named variables, sorted.
    pub symbols: Vec<(String, u64, u64)>,
    /// (offset, address) of its global variables whose storage is not
    /// here but older (kept when the section changed).
    pub moved: Vec<(u64, u64)>,
}

/// Entries per chunk: a page of stubs, then a page of slots.
const PER_CHUNK: usize = PAGE as usize / arch::IFUNC_STUB_SIZE;

/// At most this many entries: as many functions as a unit may have symbols.
const MAX_ENTRIES: usize = crate::limits::MAX_SYMBOLS;

/// The entries of one reloadable unit, found by (object, function name).
pub(crate) struct EntryTable {
    /// Each chunk: [`PER_CHUNK`] stubs (RX), then as many slots (RW).
    chunks: Vec<Reservation>,
    /// (object name, function name) → entry index.
    by_name: FxHashMap<(Box<str>, Box<str>), u32>,
    /// Entries given out.
    len: usize,
}

impl std::fmt::Debug for EntryTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EntryTable")
            .field("entries", &self.len)
            .field("chunks", &self.chunks.len())
            .finish()
    }
}

impl Default for EntryTable {
    fn default() -> EntryTable {
        EntryTable::new()
    }
}

impl EntryTable {
    /// An empty table: no mapping until the first entry.
    pub fn new() -> EntryTable {
        EntryTable {
            chunks: Vec::new(),
            by_name: FxHashMap::default(),
            len: 0,
        }
    }

    /// The entry of function `name` of object `object`, if it has one.
    pub fn find(&self, object: &str, name: &str) -> Option<u32> {
        // A borrowed lookup would need a custom key type; names are short.
        self.by_name
            .get(&(Box::<str>::from(object), Box::<str>::from(name)))
            .copied()
    }

    /// The entry of function `name` of object `object`: its own, or a new
    /// one whose slot is 0 until [`EntryTable::set`] fills it.
    pub fn entry(&mut self, object: &str, name: &str) -> Result<u32> {
        if let Some(i) = self.find(object, name) {
            return Ok(i);
        }
        let i = self.push(object)?;
        self.by_name.insert((object.into(), name.into()), i);
        Ok(i)
    }

    /// Names `name` of `object` as entry `index` too (an alias at the
    /// same address), unless the name has an entry already.
    pub fn alias(&mut self, object: &str, name: &str, index: u32) {
        self.by_name
            .entry((object.into(), name.into()))
            .or_insert(index);
    }

    /// A new entry, mapping a chunk when the last one is full.
    fn push(&mut self, object: &str) -> Result<u32> {
        if self.len >= MAX_ENTRIES {
            return Err(Error::Unsupported {
                file: object.to_string(),
                what: Unsupported::ReloadableFunctions { limit: MAX_ENTRIES },
            });
        }
        if self.len == self.chunks.len() * PER_CHUNK {
            self.chunks.push(new_chunk()?);
        }
        self.len += 1;
        Ok((self.len - 1) as u32)
    }

    /// The address of entry `i`'s stub: the function's address for everyone.
    pub fn stub(&self, i: u32) -> u64 {
        let (chunk, at) = (i as usize / PER_CHUNK, i as usize % PER_CHUNK);
        self.chunks[chunk].base() + (at * arch::IFUNC_STUB_SIZE) as u64
    }

    /// The address of entry `i`'s slot.
    fn slot(&self, i: u32) -> u64 {
        let (chunk, at) = (i as usize / PER_CHUNK, i as usize % PER_CHUNK);
        self.chunks[chunk].base() + PAGE + (at * 8) as u64
    }

    /// Where entry `i` leads now (0 before it is first set).
    #[cfg(test)]
    pub fn target(&self, i: u32) -> u64 {
        // SAFETY: the slot is an aligned word of a chunk this table keeps
        // mapped read-write; stores to it are atomic too.
        unsafe { (*(self.slot(i) as *const AtomicU64)).load(Ordering::Acquire) }
    }

    /// Points entry `i` at `code`: one aligned 8-byte store, so that a
    /// thread jumping through the stub meanwhile reads the old address or
    /// the new one, never a mix.
    pub fn set(&self, i: u32, code: u64) {
        // SAFETY: as in `target`.
        unsafe { (*(self.slot(i) as *const AtomicU64)).store(code, Ordering::Release) }
    }

    /// Entries given out.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Bytes mapped for the entries.
    pub fn mapped_bytes(&self) -> u64 {
        self.chunks.len() as u64 * 2 * PAGE
    }
}

/// A chunk: every stub written while its page is read-write and not
/// executable, then the page made read-only and executable for good; the
/// slots (0) stay read-write and never executable.
fn new_chunk() -> Result<Reservation> {
    let mut mem = Reservation::reserve(None, 2 * PAGE)?;
    let base = mem.base();
    {
        // SAFETY: the mapping was just made read-write; nothing refers to it.
        let bytes = unsafe { mem.bytes_mut() };
        for at in 0..PER_CHUNK {
            let here = base + (at * arch::IFUNC_STUB_SIZE) as u64;
            let slot = base + PAGE + (at * 8) as u64;
            let stub = &mut bytes[at * arch::IFUNC_STUB_SIZE..][..arch::IFUNC_STUB_SIZE];
            arch::write_ifunc_stub(stub, here, slot);
        }
    }
    mem.finalise(&[(0, PAGE, Protection::RX)])?;
    Ok(mem)
}

/// Makes code written by this thread visible to every thread's instruction
/// fetch before they are sent to it: `membarrier` with `SYNC_CORE` where
/// the kernel has it (the `mprotect` that made the code executable already
/// interrupted every core running the process, which serialises them).
pub(crate) fn sync_cores() {
    use std::sync::OnceLock;
    const REGISTER_PRIVATE_EXPEDITED_SYNC_CORE: libc::c_long = 1 << 6;
    const PRIVATE_EXPEDITED_SYNC_CORE: libc::c_long = 1 << 5;
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let registered = *REGISTERED.get_or_init(|| {
        // SAFETY: membarrier takes (cmd, flags, cpu_id) and touches no memory.
        unsafe {
            libc::syscall(
                libc::SYS_membarrier,
                REGISTER_PRIVATE_EXPEDITED_SYNC_CORE,
                0,
                0,
            ) == 0
        }
    });
    if registered {
        // SAFETY: as above.
        unsafe { libc::syscall(libc::SYS_membarrier, PRIVATE_EXPEDITED_SYNC_CORE, 0, 0) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_stable_and_named_once() {
        let mut t = EntryTable::new();
        let a = t.entry("a.o", "f").unwrap();
        let b = t.entry("a.o", "g").unwrap();
        assert_ne!(a, b);
        assert_eq!(t.entry("a.o", "f").unwrap(), a);
        t.alias("a.o", "f_alias", a);
        assert_eq!(t.find("a.o", "f_alias"), Some(a));
        assert_eq!(t.find("b.o", "f"), None);
        assert_eq!(t.stub(b) - t.stub(a), arch::IFUNC_STUB_SIZE as u64);
        t.set(a, 0x1234);
        assert_eq!(t.target(a), 0x1234);
        for i in 0..PER_CHUNK {
            t.entry("a.o", &format!("h{i}")).unwrap();
        }
        assert_eq!(t.mapped_bytes(), 4 * PAGE);
    }
}
