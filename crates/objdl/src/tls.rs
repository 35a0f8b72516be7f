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
//! The same work runs the unit's code, so it must not outlive the unit:
//! objdl also supplies units' `__cxa_thread_atexit_impl` (and libstdc++'s
//! `__cxa_thread_atexit`), `pthread_key_create` and `pthread_key_delete`
//! (see [`entry`]). Thread-exit destructors and key destructors whose code
//! lies in a unit are recorded with its module; when the unit closes, its
//! pending destructors are skipped (what they would free leaks) and its keys
//! deleted, where glibc would keep a closed shared object mapped until they
//! ran. Otherwise a thread that ever ran a Rust (or C++) unit's code and
//! outlived the unit jumped into unmapped memory at its exit.

use std::alloc::Layout;
use std::cell::Cell;
use std::ffi::c_void;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

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
    /// `.tdata` contents; the rest of the block (`.tbss`) is zero.
    image: Vec<u8>,
    layout: Layout,
    /// The unit's memory, `[start, end)`, once it is mapped and relocated:
    /// thread-exit work whose code lies there is the unit's.
    range: (u64, u64),
    /// The unit's `__dso_handle`, under which [`unit_closing`] registers.
    dso: u64,
    /// Cleared when the unit closes: its thread-exit destructors are then
    /// skipped.
    open: Arc<AtomicBool>,
    /// Keys the unit created with a destructor in its code, deleted when it
    /// closes.
    keys: Vec<libc::pthread_key_t>,
    /// [`unit_closing`] is registered under `dso`.
    hooked: bool,
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
    f(guard.get_or_insert_with(Registry::default))
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
        let rounds = if n < 1 { 4 } else { n as usize };
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

/// A registered TLS module; unregistered (and every thread's block of it
/// freed) on drop, which happens when its unit closes.
#[derive(Debug)]
pub(crate) struct TlsModule {
    id: u64,
}

impl TlsModule {
    /// Registers a module of `size` bytes aligned to `align`, whose first
    /// `image.len()` bytes start as `image`.
    pub fn register(image: Vec<u8>, size: u64, align: u64) -> Option<TlsModule> {
        let layout = Layout::from_size_align(size.max(1) as usize, align.max(1) as usize).ok()?;
        let id = TAG | NEXT_MODULE.fetch_add(1, Ordering::Relaxed);
        registry(|r| {
            r.modules.insert(
                id,
                Module {
                    image,
                    layout,
                    range: (0, 0),
                    dso: 0,
                    open: Arc::new(AtomicBool::new(true)),
                    keys: Vec::new(),
                    hooked: false,
                },
            )
        });
        Some(TlsModule { id })
    }

    /// The module id that DTPMOD64 and TLSGD/TLSLD pairs hold.
    pub fn id(&self) -> u64 {
        self.id
    }
}

impl Drop for TlsModule {
    fn drop(&mut self) {
        let id = self.id;
        close_exit_work(id);
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
        // never reused, and the code that used them is unmapped); each
        // thread drops them at its next cache miss, so that a thread that
        // outlives many units does not keep an entry for each.
        CLOSED.fetch_add(1, Ordering::Release);
    }
}

/// Completes module `id` once its unit is relocated, before any of the
/// unit's code runs (so no block has been made from the old template yet):
/// `image` is the template with its relocations applied (a `.tdata` may hold
/// addresses, known only once the unit is placed); `range` is the unit's
/// memory when mapped there (not for a check into a buffer), and `dso` its
/// `__dso_handle`.
pub(crate) fn set_unit(id: u64, image: Option<Vec<u8>>, range: Option<(u64, u64)>, dso: u64) {
    let stale_keys = registry(|r| {
        let mut stale_keys = Vec::new();
        if let Some(range) = range {
            // A module whose unit lay here is gone (its memory was unmapped,
            // its module not yet dropped): this memory's thread-exit work is
            // no longer its own.
            for (_, old) in r.modules.iter_mut().filter(|(&other, old)| {
                other != id && old.range.0 < range.1 && range.0 < old.range.1
            }) {
                old.range = (0, 0);
                old.open.store(false, Ordering::Release);
                stale_keys.append(&mut old.keys);
            }
        }
        if let Some(m) = r.modules.get_mut(&id) {
            if let Some(image) = image {
                debug_assert!(image.len() <= m.layout.size());
                m.image = image;
            }
            if let Some(range) = range {
                m.range = range;
                m.dso = dso;
            }
        }
        stale_keys
    });
    delete_keys(stale_keys);
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

// Thread-exit work of units.

/// A C function looked up in the process, once per name.
fn libc_fn(name: &'static std::ffi::CStr, cache: &'static OnceLock<usize>) -> Option<usize> {
    let addr = *cache.get_or_init(|| {
        // SAFETY: a NUL-terminated name; RTLD_DEFAULT searches the global scope.
        unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) as usize }
    });
    (addr != 0).then_some(addr)
}

type ThreadAtexit = unsafe extern "C" fn(
    unsafe extern "C" fn(*mut c_void),
    *mut c_void,
    *mut c_void,
) -> libc::c_int;

/// glibc's `__cxa_thread_atexit_impl` (glibc 2.18 and later).
fn glibc_thread_atexit() -> Option<ThreadAtexit> {
    static ADDR: OnceLock<usize> = OnceLock::new();
    let addr = libc_fn(c"__cxa_thread_atexit_impl", &ADDR)?;
    // SAFETY: `int __cxa_thread_atexit_impl(void (*)(void *), void *, void *)`.
    Some(unsafe { std::mem::transmute::<usize, ThreadAtexit>(addr) })
}

/// The module of the open unit whose memory holds `addr`.
fn owner(r: &mut Registry, addr: u64) -> Option<(u64, &mut Module)> {
    r.modules
        .iter_mut()
        .find(|(_, m)| (m.range.0..m.range.1).contains(&addr) && m.open.load(Ordering::Acquire))
        .map(|(&id, m)| (id, m))
}

/// Makes sure that [`unit_closing`] runs when module `id`'s unit closes:
/// `__cxa_finalize` of its `__dso_handle`, before its memory is unmapped.
/// (The module's own drop, after the unmap, is the fallback.)
fn hook_close(id: u64, m: &mut Module) {
    static CXA_ATEXIT: OnceLock<usize> = OnceLock::new();
    if m.hooked || m.dso == 0 {
        return;
    }
    let Some(addr) = libc_fn(c"__cxa_atexit", &CXA_ATEXIT) else {
        return;
    };
    // SAFETY: `int __cxa_atexit(void (*)(void *), void *, void *)`.
    let cxa_atexit = unsafe { std::mem::transmute::<usize, ThreadAtexit>(addr) };
    // SAFETY: `unit_closing` takes any argument; the handle is the unit's.
    m.hooked = unsafe {
        cxa_atexit(
            unit_closing,
            id as usize as *mut c_void,
            m.dso as *mut c_void,
        )
    } == 0;
}

/// Run by `__cxa_finalize` when module `id`'s unit closes (or at exit).
unsafe extern "C" fn unit_closing(id: *mut c_void) {
    close_exit_work(id as usize as u64);
}

/// Stops module `id`'s thread-exit work: pending destructors are skipped,
/// and its keys are deleted (so no thread calls their destructors).
fn close_exit_work(id: u64) {
    let keys = registry(|r| match r.modules.get_mut(&id) {
        Some(m) => {
            m.open.store(false, Ordering::Release);
            std::mem::take(&mut m.keys)
        }
        None => Vec::new(),
    });
    delete_keys(keys);
}

/// Deletes keys a closed unit created (and had not deleted).
fn delete_keys(keys: Vec<libc::pthread_key_t>) {
    for k in keys {
        // SAFETY: a key of the unit's, which no code uses any more.
        unsafe { libc::pthread_key_delete(k) };
    }
}

/// A unit's thread-exit destructor, run while its unit is open.
struct ThreadDtor {
    func: unsafe extern "C" fn(*mut c_void),
    obj: *mut c_void,
    open: Arc<AtomicBool>,
}

unsafe extern "C" fn run_thread_dtor(p: *mut c_void) {
    // SAFETY: boxed by `objdl_cxa_thread_atexit` for this one call.
    let d = unsafe { Box::from_raw(p.cast::<ThreadDtor>()) };
    if d.open.load(Ordering::Acquire) {
        // SAFETY: the destructor and argument the unit registered; its code
        // is still mapped (the unit is open).
        unsafe { (d.func)(d.obj) };
    }
}

/// What units call as `__cxa_thread_atexit_impl` and `__cxa_thread_atexit`:
/// glibc's, through [`run_thread_dtor`] when `func` is a unit's.
unsafe extern "C" fn objdl_cxa_thread_atexit(
    func: unsafe extern "C" fn(*mut c_void),
    obj: *mut c_void,
    dso: *mut c_void,
) -> libc::c_int {
    let Some(glibc) = glibc_thread_atexit() else {
        return -1;
    };
    let open = registry(|r| {
        let (id, m) = owner(r, func as usize as u64)?;
        hook_close(id, m);
        Some(m.open.clone())
    });
    let Some(open) = open else {
        // SAFETY: the caller's arguments, unchanged.
        return unsafe { glibc(func, obj, dso) };
    };
    let d = Box::into_raw(Box::new(ThreadDtor { func, obj, open }));
    // SAFETY: `run_thread_dtor` takes the box, once.
    let rc = unsafe { glibc(run_thread_dtor, d.cast(), dso) };
    if rc != 0 {
        // SAFETY: not registered, so still ours.
        drop(unsafe { Box::from_raw(d) });
    }
    rc
}

type KeyDtor = Option<unsafe extern "C" fn(*mut c_void)>;

/// What units call as `pthread_key_create`: records a key whose destructor
/// is a unit's code with that unit.
unsafe extern "C" fn objdl_pthread_key_create(
    key: *mut libc::pthread_key_t,
    dtor: KeyDtor,
) -> libc::c_int {
    // SAFETY: the caller's arguments, unchanged.
    let rc = unsafe { libc::pthread_key_create(key, dtor) };
    if let (0, Some(f)) = (rc, dtor) {
        // SAFETY: pthread_key_create succeeded, so `*key` is set.
        let k = unsafe { *key };
        registry(|r| {
            if let Some((id, m)) = owner(r, f as usize as u64) {
                m.keys.push(k);
                hook_close(id, m);
            }
        });
    }
    rc
}

/// What units call as `pthread_key_delete`.
unsafe extern "C" fn objdl_pthread_key_delete(key: libc::pthread_key_t) -> libc::c_int {
    // Forgotten first: once deleted, the number may be handed out again.
    registry(|r| {
        for m in r.modules.values_mut() {
            m.keys.retain(|&k| k != key);
        }
    });
    // SAFETY: the caller's argument, unchanged.
    unsafe { libc::pthread_key_delete(key) }
}

/// The functions objdl supplies to units for thread-local storage, by name:
/// `__tls_get_addr` and the thread-exit registrations above.
pub(crate) fn entry(name: &str) -> Option<u64> {
    Some(match name {
        "__tls_get_addr" => tls_get_addr_entry(),
        "__cxa_thread_atexit_impl" | "__cxa_thread_atexit" => {
            glibc_thread_atexit()?;
            let f: ThreadAtexit = objdl_cxa_thread_atexit;
            f as usize as u64
        }
        "pthread_key_create" => {
            let f: unsafe extern "C" fn(*mut libc::pthread_key_t, KeyDtor) -> libc::c_int =
                objdl_pthread_key_create;
            f as usize as u64
        }
        "pthread_key_delete" => {
            let f: unsafe extern "C" fn(libc::pthread_key_t) -> libc::c_int =
                objdl_pthread_key_delete;
            f as usize as u64
        }
        _ => return None,
    })
}
