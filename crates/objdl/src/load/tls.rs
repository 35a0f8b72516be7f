//! Thread-local storage of loaded units (the general- and local-dynamic
//! models: TLSGD, TLSLD, DTPOFF32/64, DTPMOD64, and TLS descriptors,
//! GOTPC32_TLSDESC, whose resolver in `arch` calls [`objdl_tls_get_addr`]).
//!
//! A unit with `.tdata`/`.tbss` is a TLS *module* with an id of objdl's own
//! (tagged with the top bit, so it never collides with glibc's small
//! integers). Code reaches its variables through `__tls_get_addr`, which
//! objdl resolves to [`objdl_tls_get_addr`]: for objdl's modules it returns
//! the calling thread's block, allocated and initialised from the module's
//! image on first use; every other module goes to glibc's `__tls_get_addr`.
//!
//! Blocks are owned by one registry: a thread's blocks are freed when the
//! thread exits, and a module's blocks (in every thread) when its unit closes.
//! Each thread keeps a lock-free cache of its own blocks.
//!
//! A thread's blocks must outlive every destructor that may still run the
//! unit's code at thread exit, as glibc's own TLS does: Rust's std, for one,
//! runs its thread cleanup (and, without `__cxa_thread_atexit_impl`, every
//! `thread_local!` destructor) from a pthread key destructor, which glibc
//! calls after the `__cxa_thread_atexit_impl` destructors. So the per-thread
//! state has no destructor of its own (it is readable at any point of thread
//! exit), and the blocks are freed by a pthread key destructor that defers
//! itself to glibc's last round of key destructors.
//!
//! Units whose code reaches their own thread-locals with the initial-exec
//! or local-exec model have their block in static TLS instead, allocated by
//! `ld.so` (see [`crate::load::shim`]); their module is glibc's. Thread-exit work
//! of units is in [`crate::load::thread_exit`].

use std::alloc::Layout;
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

use rustc_hash::FxHashMap;

use crate::arch;

/// Marks objdl's module ids.
const TAG: u64 = 1 << 63;

/// `tls_index` of the x86-64 ABI: what a TLSGD/TLSLD GOT pair holds.
#[repr(C)]
pub(crate) struct TlsIndex {
    module: u64,
    offset: u64,
}

struct Module {
    /// The relocated `.tdata` contents; the rest of the block (`.tbss`) is zero.
    image: Vec<u8>,
    layout: Layout,
}

#[derive(Default)]
struct Registry {
    modules: FxHashMap<u64, Module>,
    /// (module, thread) → that thread's block.
    blocks: FxHashMap<(u64, u64), Block>,
}

/// A block allocated with a module's layout.
struct Block(*mut u8, Layout);

// SAFETY: a block is plain memory, only freed under the registry's lock.
unsafe impl Send for Block {}

impl Drop for Block {
    fn drop(&mut self) {
        // SAFETY: allocated in `slow_path` with exactly this layout, freed once.
        unsafe { std::alloc::dealloc(self.0, self.1) };
    }
}

static REGISTRY: Mutex<Option<Registry>> = Mutex::new(None);
static NEXT_MODULE: AtomicU64 = AtomicU64::new(1);
static NEXT_THREAD: AtomicU64 = AtomicU64::new(1);
/// How many modules have been unregistered: a thread whose cache predates
/// the latest drops its stale entries at its next cache miss.
static CLOSED: AtomicU64 = AtomicU64::new(0);

fn registry<R>(f: impl FnOnce(&mut Registry) -> R) -> R {
    let mut guard = REGISTRY.lock().unwrap_or_else(|e| e.into_inner());
    crate::load::annotate::acquired(&REGISTRY);
    let r = f(guard.get_or_insert_with(Registry::default));
    crate::load::annotate::releasing(&REGISTRY);
    r
}

/// This thread's blocks by module, and its key in the registry.
struct ThreadBlocks {
    key: u64,
    cache: FxHashMap<u64, *mut u8>,
    /// [`CLOSED`] when the cache was last purged of closed modules.
    closed_seen: u64,
    /// What the TLS descriptor resolver reads without a call (see
    /// [`arch::tlsdesc_cache`]): recently used blocks, by module id. An entry
    /// of a closed module is never matched again (ids are never reused).
    descriptors: [arch::TlsDescEntry; arch::TLSDESC_CACHE_ENTRIES],
}

thread_local! {
    /// This thread's `ThreadBlocks` (a leaked box), null until its first
    /// block and after [`free_thread_blocks`]. A plain pointer, so that std
    /// registers no destructor for it and it never becomes inaccessible
    /// during thread exit (a `RefCell<ThreadBlocks>` here was destroyed by
    /// glibc's `__call_tls_dtors` before the unit's own pthread key
    /// destructors ran, and `__tls_get_addr` from those panicked).
    static THREAD: Cell<*mut ThreadBlocks> = const { Cell::new(std::ptr::null_mut()) };
}

/// The pthread key whose destructor frees a thread's blocks at thread exit.
struct ExitKey {
    key: libc::pthread_key_t,
    /// How many rounds of key destructors the C library runs at most
    /// (`PTHREAD_DESTRUCTOR_ITERATIONS`, 4 in glibc).
    rounds: usize,
}

/// The exit key, created once; `None` if the C library has no key left, in
/// which case a thread's blocks live until their unit closes.
fn exit_key() -> Option<&'static ExitKey> {
    static KEY: OnceLock<Option<ExitKey>> = OnceLock::new();
    KEY.get_or_init(|| {
        let mut key: libc::pthread_key_t = 0;
        // SAFETY: `key` is a valid out-pointer; `thread_exit` has the
        // destructor's signature and never unwinds.
        if unsafe { libc::pthread_key_create(&mut key, Some(thread_exit)) } != 0 {
            return None;
        }
        // SAFETY: sysconf has no preconditions.
        let n = unsafe { libc::sysconf(libc::_SC_THREAD_DESTRUCTOR_ITERATIONS) };
        // -1: no fixed limit; POSIX guarantees at least 4 rounds.
        let mut rounds = if n < 1 { 4 } else { n as usize };
        // A sanitizer's runtime (ThreadSanitizer's, AddressSanitizer's)
        // retires the thread in the last round, from a key created before
        // this one, after which its malloc and free crash: free the blocks
        // a round earlier.
        // SAFETY: a NUL-terminated name; RTLD_DEFAULT searches the global scope.
        let sanitizer =
            !unsafe { libc::dlsym(libc::RTLD_DEFAULT, c"__sanitizer_set_report_path".as_ptr()) }
                .is_null();
        if sanitizer && rounds > 1 {
            rounds -= 1;
        }
        Some(ExitKey { key, rounds })
    })
    .as_ref()
}

/// The destructor of the exit key. Its value counts the rounds: in every
/// round but the last it re-arms itself, so that the blocks stay valid for
/// every other key destructor (in whatever order the keys were created);
/// in the last round it frees them.
unsafe extern "C" fn thread_exit(value: *mut libc::c_void) {
    let round = value as usize;
    match exit_key() {
        Some(k) if round < k.rounds => {
            // SAFETY: setting a key's value from its destructor is allowed;
            // the C library then runs another round.
            unsafe { libc::pthread_setspecific(k.key, std::ptr::without_provenance(round + 1)) };
        }
        _ => free_thread_blocks(),
    }
}

/// Frees the calling thread's blocks (of every module) and its cache. A
/// later `__tls_get_addr` in this thread starts afresh.
fn free_thread_blocks() {
    let p = THREAD.with(|t| t.replace(std::ptr::null_mut()));
    if p.is_null() {
        return;
    }
    // SAFETY: this thread's own cache pointer; the resolver reads it only
    // from this thread, which is here.
    unsafe { *arch::tlsdesc_cache() = std::ptr::null_mut() };
    // SAFETY: `p` came from `Box::into_raw` in `thread_blocks` and was just
    // unlinked from this thread, its only user.
    let t = unsafe { Box::from_raw(p) };
    // Blocks drop after the lock is released, outside the registry.
    let freed: Vec<Block> = registry(|r| {
        let keys: Vec<(u64, u64)> = r.blocks.keys().filter(|k| k.1 == t.key).copied().collect();
        keys.into_iter()
            .filter_map(|k| r.blocks.remove(&k))
            .collect()
    });
    drop(freed);
}

/// The calling thread's `ThreadBlocks`, created (and the exit key armed) on
/// first use.
fn thread_blocks() -> *mut ThreadBlocks {
    let p = THREAD.with(Cell::get);
    if !p.is_null() {
        return p;
    }
    let p = Box::into_raw(Box::new(ThreadBlocks {
        key: NEXT_THREAD.fetch_add(1, Ordering::Relaxed),
        cache: FxHashMap::default(),
        closed_seen: CLOSED.load(Ordering::Acquire),
        descriptors: [arch::TlsDescEntry::default(); arch::TLSDESC_CACHE_ENTRIES],
    }));
    THREAD.with(|t| t.set(p));
    // SAFETY: `p` lives until `free_thread_blocks`, which clears the
    // pointer first; only this thread reads it.
    unsafe { *arch::tlsdesc_cache() = (*p).descriptors.as_mut_ptr() };
    if let Some(k) = exit_key() {
        // SAFETY: a key of ours; any non-null value arms its destructor
        // (1: the first round).
        unsafe { libc::pthread_setspecific(k.key, std::ptr::without_provenance(1)) };
    }
    p
}

/// A unit's thread-local storage, kept while its memory is.
#[derive(Debug, Default)]
pub(crate) struct ThreadLocals {
    /// A TLS module of objdl's, served by its `__tls_get_addr`.
    _module: Option<TlsModule>,
    /// The shims that hold the unit's block in static TLS, and other
    /// modules' blocks there, for initial-exec and local-exec code.
    _shims: Vec<crate::load::shim::Shim>,
}

impl ThreadLocals {
    /// Storage in `module`, and in static TLS through `shims`.
    pub fn new(module: Option<TlsModule>, shims: Vec<crate::load::shim::Shim>) -> ThreadLocals {
        ThreadLocals {
            _module: module,
            _shims: shims,
        }
    }
}

/// A registered TLS module; unregistered (and every thread's block of it
/// freed) on drop, which happens when its unit closes.
#[derive(Debug)]
pub(crate) struct TlsModule {
    id: u64,
}

impl TlsModule {
    /// Registers a module of `size` bytes aligned to `align`, all zero until
    /// [`TlsModule::set_image`] gives its initial image.
    pub fn register(size: u64, align: u64) -> Option<TlsModule> {
        let layout = Layout::from_size_align(size.max(1) as usize, align.max(1) as usize).ok()?;
        let id = TAG | NEXT_MODULE.fetch_add(1, Ordering::Relaxed);
        let image = Vec::new();
        registry(|r| r.modules.insert(id, Module { image, layout }));
        Some(TlsModule { id })
    }

    /// Gives the module its initial image, relocated (a `.tdata` may hold
    /// addresses, known once the unit is placed, and the module id itself),
    /// before any of the unit's code runs, so before any block is made.
    /// `false` if it is larger than the block.
    pub fn set_image(&self, image: Vec<u8>) -> bool {
        registry(|r| match r.modules.get_mut(&self.id) {
            Some(m) if image.len() <= m.layout.size() => {
                m.image = image;
                true
            }
            _ => false,
        })
    }

    /// The module id that DTPMOD64 and TLSGD/TLSLD pairs hold.
    pub fn id(&self) -> u64 {
        self.id
    }
}

impl Drop for TlsModule {
    fn drop(&mut self) {
        let id = self.id;
        // Blocks drop after the lock is released, outside the registry.
        let freed: Vec<Block> = registry(|r| {
            r.modules.remove(&id);
            let keys: Vec<(u64, u64)> = r.blocks.keys().filter(|k| k.0 == id).copied().collect();
            keys.into_iter()
                .filter_map(|k| r.blocks.remove(&k))
                .collect()
        });
        drop(freed);
        // Stale cache entries for `id` are never looked up again (ids are
        // never reused, and the code that used them is gone); each thread
        // drops them at its next cache miss, so that a thread that outlives
        // many units does not keep an entry for each.
        CLOSED.fetch_add(1, Ordering::Release);
    }
}

/// The real `__tls_get_addr`, for modules that are not objdl's.
fn glibc_tls_get_addr() -> unsafe extern "C" fn(*const TlsIndex) -> *mut u8 {
    static REAL: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    let addr = *REAL.get_or_init(|| {
        // SAFETY: a NUL-terminated name; RTLD_DEFAULT searches the global scope.
        unsafe { libc::dlsym(libc::RTLD_DEFAULT, c"__tls_get_addr".as_ptr()) as usize }
    });
    assert!(addr != 0, "__tls_get_addr not found in the process");
    // SAFETY: glibc's `void *__tls_get_addr(tls_index *)`.
    unsafe { std::mem::transmute::<usize, unsafe extern "C" fn(*const TlsIndex) -> *mut u8>(addr) }
}

/// What units call as `__tls_get_addr`: the address of `ti.offset` in the
/// calling thread's block of module `ti.module`.
///
/// # Safety
/// `ti` must point to a `tls_index` that a TLSGD/TLSLD relocation (or a
/// DTPMOD64/DTPOFF64 pair) filled in.
pub(crate) unsafe extern "C" fn objdl_tls_get_addr(ti: *const TlsIndex) -> *mut u8 {
    // SAFETY: the caller's promise.
    let (module, offset) = unsafe { ((*ti).module, (*ti).offset) };
    if module & TAG == 0 {
        // SAFETY: forwarding the same argument to glibc's implementation.
        return unsafe { glibc_tls_get_addr()(ti) };
    }
    // SAFETY: this thread's own `ThreadBlocks`; nothing below calls back
    // into unit code or frees it, so this is its only reference.
    let t = unsafe { &mut *thread_blocks() };
    let base = match t.cache.get(&module) {
        Some(&p) => p,
        None => {
            let closed = CLOSED.load(Ordering::Acquire);
            if closed != t.closed_seen {
                t.closed_seen = closed;
                registry(|r| t.cache.retain(|m, _| r.modules.contains_key(m)));
            }
            let p = slow_path(module, t.key);
            t.cache.insert(module, p);
            p
        }
    };
    // For the TLS descriptor resolver's fast path, next time.
    t.descriptors[module as usize % arch::TLSDESC_CACHE_ENTRIES] = arch::TlsDescEntry {
        module,
        base: base as u64,
    };
    base.wrapping_add(offset as usize)
}

/// Allocates and initialises this thread's block of `module`.
fn slow_path(module: u64, thread: u64) -> *mut u8 {
    registry(|r| {
        let Some(m) = r.modules.get(&module) else {
            // The unit is being closed while its code still runs: nothing
            // sane to return.
            std::process::abort();
        };
        // SAFETY: the layout has a non-zero size.
        let p = unsafe { std::alloc::alloc_zeroed(m.layout) };
        if p.is_null() {
            std::alloc::handle_alloc_error(m.layout);
        }
        // SAFETY: the block holds at least `image.len()` bytes (size >= image).
        unsafe { std::ptr::copy_nonoverlapping(m.image.as_ptr(), p, m.image.len()) };
        r.blocks.insert((module, thread), Block(p, m.layout));
        p
    })
}

/// The address units get for `__tls_get_addr`.
pub(crate) fn tls_get_addr_entry() -> u64 {
    let f: unsafe extern "C" fn(*const TlsIndex) -> *mut u8 = objdl_tls_get_addr;
    f as usize as u64
}

/// What objdl supplies to units for thread-local storage, by name:
/// `__tls_get_addr`.
pub(crate) fn entry(name: &str) -> Option<u64> {
    (name == "__tls_get_addr").then(tls_get_addr_entry)
}
