//! A shared object that objdl generates and `dlopen`s, so that `ld.so`
//! does for a unit what only `ld.so` can do:
//!
//! - **Static TLS.** Initial-exec and local-exec code (`__thread` in a
//!   default PIE or `-fno-pic` build) reaches its variables at a fixed
//!   offset from the thread pointer, in the static TLS area that glibc lays
//!   out for every thread. glibc keeps a surplus there for modules loaded
//!   later, and only `ld.so` can hand it out and initialise it in every
//!   existing and future thread. The shim's `PT_TLS` has the unit's block
//!   (size, alignment and initial image), and one thread-pointer-offset word (`arch::TP_OFFSET_WORD`)
//!   relocation against it (symbol 0: the shim's own block) makes `ld.so`
//!   allocate it in static TLS; the relocated word is read back. Thread-local
//!   symbols of other modules that the unit reaches with initial-exec get a
//!   `TPOFF64` against their name each: `ld.so` moves their module to static
//!   TLS if it can, as it does for a library loaded with initial-exec code,
//!   and reports the offset.
//! - **Executable stacks.** A `PT_GNU_STACK` with `PF_X` makes glibc make
//!   every thread's stack executable, as it does when it loads such a library.
//!
//! The shim is made in memory (`memfd_create`) and opened through
//! `/proc/self/fd`; it stays open, with its file, until the unit no longer
//! needs it. It has no code and runs nothing.

use std::ffi::{c_void, CStr, CString};
use std::io::Write as _;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use object::elf;
use object::write::elf::{FileHeader, ProgramHeader, Rel, Sym, Writer};
use object::Endianness;

use crate::arch;

/// What the shim is asked for.
#[derive(Debug, Default)]
pub(crate) struct ShimSpec<'a> {
    /// The unit's own thread-local block, to be allocated in static TLS.
    pub block: Option<TlsBlock<'a>>,
    /// Thread-local symbols of other modules reached with initial-exec.
    pub external: &'a [&'a str],
    /// Make every thread's stack executable.
    pub exec_stack: bool,
}

/// A thread-local block: its initial image, then zeros up to `size`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TlsBlock<'a> {
    pub image: &'a [u8],
    pub size: u64,
    pub align: u64,
}

/// An open shim.
#[derive(Debug)]
pub(crate) struct Shim {
    handle: *mut c_void,
    /// The shim's file, kept open while it is loaded: its path
    /// (`/proc/self/fd/N`) must not name another shim meanwhile.
    _file: OwnedFd,
    /// glibc's module id of the unit's block (0 without one).
    pub module: u64,
    /// The unit's block's offset from the thread pointer.
    pub block_offset: i64,
    /// The offset from the thread pointer of each of `ShimSpec::external`.
    pub external_offsets: Vec<i64>,
}

// SAFETY: the handle is only passed to dlclose, once, on drop; glibc's
// dynamic loader is thread-safe.
unsafe impl Send for Shim {}
// SAFETY: as above; `&Shim` exposes only plain numbers.
unsafe impl Sync for Shim {}

impl Drop for Shim {
    fn drop(&mut self) {
        // SAFETY: a handle from dlopen, closed once. The shim has no code,
        // so nothing of it can still be running.
        unsafe { libc::dlclose(self.handle) };
    }
}

/// Why a shim could not be loaded.
#[derive(Debug)]
pub(crate) enum ShimError {
    /// glibc's static TLS surplus has no room left for the block (or for an
    /// external module's), or an external module's block is already
    /// dynamic: `dlerror`'s text.
    StaticTls(String),
    /// Anything else: what failed.
    Other(String),
}

/// Where the parts of the shim go: one read-write segment whose file
/// offsets are also its addresses.
struct ShimLayout {
    words: u64,
    tdata: u64,
    end: u64,
}

/// Where each part of the shim goes, reserved before anything is written.
struct Reserved {
    /// The dynamic string of each external symbol's name.
    names: Vec<object::write::StringId>,
    /// Dynamic symbols, the null one included.
    symbols: u32,
    /// Whether the shim has a block of its own (`PT_TLS`).
    has_block: bool,
    /// Dynamic relocations: the block's own, then one per external symbol.
    relocations: usize,
    dynsym: u64,
    dynstr: u64,
    hash: u64,
    rela: u64,
    dynamic: u64,
    /// The relocated words.
    words: u64,
    /// The block's initial image, its length, and the block's size and
    /// alignment.
    tdata: u64,
    image_len: u64,
    block_size: u64,
    block_align: u64,
    /// The end of what is loaded.
    end: u64,
}

/// The `.dynamic` entries the shim has, `DT_NULL` included.
const DYNAMIC_ENTRIES: usize = 10;

/// Builds the shim's bytes for `spec`.
fn build(spec: &ShimSpec<'_>) -> object::write::Result<(Vec<u8>, ShimLayout)> {
    let mut bytes = Vec::new();
    let mut w = Writer::new(Endianness::Little, true, &mut bytes);
    let r = reserve(&mut w, spec)?;

    w.write_file_header(&FileHeader {
        os_abi: elf::ELFOSABI_NONE,
        abi_version: 0,
        e_type: elf::ET_DYN,
        e_machine: elf::Machine(arch::ELF_MACHINE),
        e_entry: 0,
        e_flags: elf::FileFlags(0),
    })?;
    write_program_headers(&mut w, spec, &r);
    write_dynamic_symbols(&mut w, spec, &r);
    write_relocations(&mut w, &r);
    write_dynamic(&mut w, &r)?;
    w.pad_until(r.words);
    w.write(&vec![0; r.relocations * 8]);
    if let Some(b) = spec.block {
        w.pad_until(r.tdata);
        w.write(b.image);
    }
    debug_assert_eq!(w.len(), r.end);
    w.write_shstrtab();
    w.write_null_section_header();
    w.write_shstrtab_section_header();
    w.write_dynsym_section_header(r.dynsym, 1);
    w.write_dynstr_section_header(r.dynstr);
    w.write_hash_section_header(r.hash);
    w.write_dynamic_section_header(r.dynamic);
    let plan = ShimLayout {
        words: r.words,
        tdata: r.tdata,
        end: r.end,
    };
    Ok((bytes, plan))
}

/// Reserves every part of the shim, in file order.
fn reserve<'a>(w: &mut Writer<'a>, spec: &ShimSpec<'a>) -> object::write::Result<Reserved> {
    let has_block = spec.block.is_some();
    let relocations = usize::from(has_block) + spec.external.len();
    let segments = 3 + u32::from(has_block); // LOAD, DYNAMIC, GNU_STACK (+ TLS)

    w.reserve_file_header();
    w.reserve_program_headers(segments);
    w.reserve_null_dynamic_symbol_index();
    let names: Vec<_> = spec
        .external
        .iter()
        .map(|n| {
            w.reserve_dynamic_symbol_index();
            w.add_dynamic_string(n.as_bytes())
        })
        .collect();
    w.require_dynstr();
    let symbols = 1 + spec.external.len() as u32;
    // Section headers, for tools such as readelf (ld.so reads none).
    w.reserve_shstrtab_section_index();
    w.reserve_dynsym_section_index();
    w.reserve_dynstr_section_index();
    w.reserve_hash_section_index();
    w.reserve_dynamic_section_index();
    let dynsym = w.reserve_dynsym();
    let dynstr = w.reserve_dynstr()?;
    let hash = w.reserve_hash(1, symbols);
    let rela = w.reserve_relocations(relocations, true);
    let dynamic = w.reserve_dynamic(DYNAMIC_ENTRIES);
    let words = w.reserve(relocations as u64 * 8, 8);
    let (tdata, image_len, block_size, block_align) = match spec.block {
        Some(b) => (
            w.reserve(b.image.len() as u64, b.align.max(1)),
            b.image.len() as u64,
            b.size,
            b.align.max(1),
        ),
        None => (w.reserved_len(), 0, 0, 1),
    };
    let end = w.reserved_len();
    w.reserve_shstrtab()?;
    w.reserve_section_headers();
    Ok(Reserved {
        names,
        symbols,
        has_block,
        relocations,
        dynsym,
        dynstr,
        hash,
        rela,
        dynamic,
        words,
        tdata,
        image_len,
        block_size,
        block_align,
        end,
    })
}

/// One read-write `PT_LOAD` of everything, `PT_DYNAMIC`, the block's
/// `PT_TLS` if there is one, and `PT_GNU_STACK`.
fn write_program_headers(w: &mut Writer<'_>, spec: &ShimSpec<'_>, r: &Reserved) {
    w.write_align_program_headers();
    let segment = |p_type, p_flags, offset, filesz, memsz, align| ProgramHeader {
        p_type,
        p_flags,
        p_offset: offset,
        p_vaddr: offset,
        p_paddr: offset,
        p_filesz: filesz,
        p_memsz: memsz,
        p_align: align,
    };
    let rw = elf::PF_R | elf::PF_W;
    w.write_program_header(&segment(elf::PT_LOAD, rw, 0, r.end, r.end, 0x1000));
    let dyn_size = DYNAMIC_ENTRIES as u64 * 16;
    let dynamic = segment(elf::PT_DYNAMIC, rw, r.dynamic, dyn_size, dyn_size, 8);
    w.write_program_header(&dynamic);
    if r.has_block {
        w.write_program_header(&segment(
            elf::PT_TLS,
            elf::PF_R,
            r.tdata,
            r.image_len,
            r.block_size,
            r.block_align,
        ));
    }
    // Always present: without it glibc takes the stack to be executable.
    let stack = if spec.exec_stack {
        elf::PF_R | elf::PF_W | elf::PF_X
    } else {
        elf::PF_R | elf::PF_W
    };
    w.write_program_header(&segment(elf::PT_GNU_STACK, stack, 0, 0, 0, 16));
}

/// The external symbols (undefined, TLS), their names and their hash table.
fn write_dynamic_symbols(w: &mut Writer<'_>, spec: &ShimSpec<'_>, r: &Reserved) {
    w.write_null_dynamic_symbol();
    for &name in &r.names {
        w.write_dynamic_symbol(&Sym {
            section: None,
            st_name: w.dynamic_string_offset(Some(name)),
            st_info: elf::SymbolInfo::new(elf::STB_GLOBAL, elf::STT_TLS),
            st_other: elf::SymbolOther(elf::STV_DEFAULT.0),
            st_shndx: elf::SHN_UNDEF,
            st_value: 0,
            st_size: 0,
        });
    }
    w.write_dynstr();
    let hashes: Vec<u32> = spec
        .external
        .iter()
        .map(|n| elf::hash(n.as_bytes()))
        .collect();
    w.write_hash(1, r.symbols, |i| {
        i.checked_sub(1).map(|i| hashes[i as usize])
    });
}

/// Word 0: the block's own offset (symbol 0 is the shim itself); then one
/// word per external symbol.
fn write_relocations(w: &mut Writer<'_>, r: &Reserved) {
    w.write_align_relocation();
    let targets = r
        .has_block
        .then_some(0)
        .into_iter()
        .chain(1..=r.names.len() as u32);
    for (i, sym) in targets.enumerate() {
        w.write_relocation(
            true,
            &Rel {
                r_offset: r.words + i as u64 * 8,
                r_sym: sym,
                r_type: arch::TP_OFFSET_WORD,
                r_addend: 0,
            },
        );
    }
}

/// `.dynamic`: what `ld.so` needs to bind the words, and `DF_STATIC_TLS`.
fn write_dynamic(w: &mut Writer<'_>, r: &Reserved) -> object::write::Result<()> {
    w.write_align_dynamic();
    w.write_dynamic(elf::DT_HASH, r.hash)?;
    w.write_dynamic(elf::DT_STRTAB, r.dynstr)?;
    w.write_dynamic(elf::DT_SYMTAB, r.dynsym)?;
    w.write_dynamic(elf::DT_STRSZ, u64::from(w.dynstr_len()))?;
    w.write_dynamic(elf::DT_SYMENT, 24)?;
    w.write_dynamic(elf::DT_RELA, r.rela)?;
    w.write_dynamic(elf::DT_RELASZ, r.relocations as u64 * 24)?;
    w.write_dynamic(elf::DT_RELAENT, 24)?;
    w.write_dynamic(elf::DT_FLAGS, elf::DF_STATIC_TLS.0)?;
    w.write_dynamic(elf::DT_NULL, 0)?;
    Ok(())
}

/// Makes the shim for `spec` and opens it.
pub(crate) fn load(spec: &ShimSpec<'_>) -> Result<Shim, ShimError> {
    let (bytes, plan) = build(spec).map_err(|e| ShimError::Other(format!("building it: {e}")))?;
    debug_assert!(plan.tdata <= plan.end);
    // SAFETY: a NUL-terminated name; the flags are valid.
    let fd = unsafe { libc::memfd_create(c"objdl-shim".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(ShimError::Other(format!(
            "memfd_create: {}",
            std::io::Error::last_os_error()
        )));
    }
    // SAFETY: a descriptor memfd_create just returned, owned by nothing else.
    let file = unsafe { OwnedFd::from_raw_fd(fd) };
    std::fs::File::from(
        file.try_clone()
            .map_err(|e| ShimError::Other(e.to_string()))?,
    )
    .write_all(&bytes)
    .map_err(|e| ShimError::Other(format!("writing it: {e}")))?;
    let path = CString::new(format!("/proc/self/fd/{}", file.as_raw_fd())).expect("no NUL");
    // SAFETY: a NUL-terminated path; the shim has no initialisers, so
    // opening it runs nothing but ld.so's own work.
    let handle = unsafe { libc::dlopen(path.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
    if handle.is_null() {
        // The shim's own path says nothing to a reader.
        let own = format!("{}: ", path.to_string_lossy());
        let why = dlerror().replace(&own, "");
        return Err(if why.contains("static TLS") {
            ShimError::StaticTls(why)
        } else {
            ShimError::Other(why)
        });
    }
    let mut shim = Shim {
        handle,
        _file: file,
        module: 0,
        block_offset: 0,
        external_offsets: Vec::new(),
    };
    let mut map: *mut c_void = std::ptr::null_mut();
    // SAFETY: `handle` is open; RTLD_DI_LINKMAP writes a `struct link_map *`.
    let rc = unsafe {
        libc::dlinfo(
            handle,
            libc::RTLD_DI_LINKMAP,
            (&mut map as *mut *mut c_void).cast(),
        )
    };
    if rc != 0 || map.is_null() {
        return Err(ShimError::Other(format!("dlinfo: {}", dlerror())));
    }
    // SAFETY: `l_addr`, the load bias, is the first member of the public
    // `struct link_map` of <link.h>.
    let bias = unsafe { *map.cast::<u64>() };
    // SAFETY: the words lie in the shim's read-write segment, relocated
    // by ld.so, mapped at `bias`.
    let word =
        |i: usize| unsafe { std::ptr::read((bias + plan.words + i as u64 * 8) as *const i64) };
    let mut next = 0;
    if spec.block.is_some() {
        let mut module: libc::size_t = 0;
        // SAFETY: `handle` is open; RTLD_DI_TLS_MODID writes a size_t.
        let rc = unsafe {
            libc::dlinfo(
                handle,
                libc::RTLD_DI_TLS_MODID,
                (&mut module as *mut libc::size_t).cast(),
            )
        };
        if rc != 0 || module == 0 {
            return Err(ShimError::Other(format!("dlinfo: {}", dlerror())));
        }
        shim.module = module as u64;
        shim.block_offset = word(0);
        next = 1;
    }
    shim.external_offsets = (0..spec.external.len()).map(|i| word(next + i)).collect();
    Ok(shim)
}

/// `dlerror`'s message.
fn dlerror() -> String {
    // SAFETY: dlerror returns NULL or a thread-local NUL-terminated string.
    let e = unsafe { libc::dlerror() };
    if e.is_null() {
        "unknown error".into()
    } else {
        // SAFETY: non-NULL dlerror strings are NUL-terminated.
        unsafe { CStr::from_ptr(e) }.to_string_lossy().into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_block_in_static_tls_is_initialised_in_this_thread() {
        let image = [1u8, 2, 3, 4, 5, 6, 7, 8];
        let spec = ShimSpec {
            block: Some(TlsBlock {
                image: &image,
                size: 16,
                align: 8,
            }),
            external: &[],
            exec_stack: false,
        };
        let shim = load(&spec).expect("a shim");
        assert!(shim.block_offset < 0, "{}", shim.block_offset);
        let at = arch::thread_pointer().wrapping_add_signed(shim.block_offset);
        // SAFETY: the block, 16 bytes in this thread's static TLS.
        let block = unsafe { std::slice::from_raw_parts(at as *const u8, 16) };
        assert_eq!(&block[..8], &image);
        assert_eq!(&block[8..], &[0; 8]);
        // A new thread gets its own copy, initialised.
        let off = shim.block_offset;
        std::thread::spawn(move || {
            let at = arch::thread_pointer().wrapping_add_signed(off);
            // SAFETY: as above, in this thread.
            let block = unsafe { std::slice::from_raw_parts(at as *const u8, 16) };
            assert_eq!(&block[..8], &[1, 2, 3, 4, 5, 6, 7, 8]);
        })
        .join()
        .unwrap();
    }
}
