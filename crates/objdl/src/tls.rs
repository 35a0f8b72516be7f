//! Thread-local storage of loaded units (the general- and local-dynamic
//! models: TLSGD, TLSLD, DTPOFF32/64, DTPMOD64).
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

use std::alloc::Layout;
use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use rustc_hash::FxHashMap;

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

fn registry<R>(f: impl FnOnce(&mut Registry) -> R) -> R {
    let mut guard = REGISTRY.lock().unwrap_or_else(|e| e.into_inner());
    f(guard.get_or_insert_with(Registry::default))
}

/// This thread's blocks by module, and its key in the registry. Dropped at
/// thread exit, which frees the thread's blocks.
struct ThreadBlocks {
    key: u64,
    cache: FxHashMap<u64, *mut u8>,
}

impl Drop for ThreadBlocks {
    fn drop(&mut self) {
        let key = self.key;
        registry(|r| r.blocks.retain(|&(_, thread), _| thread != key));
    }
}

thread_local! {
    static THREAD: RefCell<ThreadBlocks> = RefCell::new(ThreadBlocks {
        key: NEXT_THREAD.fetch_add(1, Ordering::Relaxed),
        cache: FxHashMap::default(),
    });
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
        registry(|r| r.modules.insert(id, Module { image, layout }));
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
        // Blocks drop after the lock is released, outside the registry.
        let freed: Vec<Block> = registry(|r| {
            r.modules.remove(&id);
            let keys: Vec<(u64, u64)> = r.blocks.keys().filter(|k| k.0 == id).copied().collect();
            keys.into_iter()
                .filter_map(|k| r.blocks.remove(&k))
                .collect()
        });
        drop(freed);
        // Stale cache entries for `id` are never looked up again: ids are
        // never reused, and the code that used them is unmapped.
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
    let base = THREAD.with(|t| {
        let mut t = t.borrow_mut();
        if let Some(&p) = t.cache.get(&module) {
            return p;
        }
        let p = slow_path(module, t.key);
        t.cache.insert(module, p);
        p
    });
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
