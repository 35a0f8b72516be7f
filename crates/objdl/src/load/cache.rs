//! The persistent cache of linked units ([`crate::OpenOptions::cache`]): a
//! unit as linked, written to a file once, and mapped again by later loads
//! of the same inputs, in any process, with only its absolute addresses
//! moved.
//!
//! Why that is enough: the shared libraries a process maps at start-up
//! all move together between processes (one random mmap base; the
//! executable alone moves on its own); a library loaded later moves by a
//! distance of its own. The unit is placed at the distance most of its
//! PC-relative references need, and each word that holds an address, of
//! the unit or of a library, moves by its own target's distance
//! ([`Entry::fixups`], a list like RELR's, each word naming where it
//! points), as does each PC-relative field that reaches a library that
//! moved otherwise ([`Entry::pc_fixups`]). A unit that reaches the
//! executable, or anything that is not a library, is not cached.
//!
//! An entry is one file, `KEY.objdl`, named after a hash of its key (the
//! inputs' identities, the options, objdl's version) and holding the key
//! itself; written to a temporary file and renamed, so that a reader sees
//! a whole entry or none. Everything in it is checked before use (magic,
//! version, length, an xxh3 checksum of the rest, then the key): a file
//! that fails any check is a miss, never an error. The directory must be
//! the user's own and writable by no one else: a cache is code.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::load::memory::{Memory, Reservation, PAGE};

/// The file's first bytes.
const MAGIC: &[u8; 8] = b"OBJDLC02";

/// Where an address an entry holds lies, for moving it: in the unit
/// ([`IN_UNIT`]), in a library (1 + its index in [`Entry::modules`]), or in
/// nothing mapped ([`CONSTANT`]: it never moves).
pub(crate) type Lies = u16;
/// See [`Lies`].
pub(crate) const IN_UNIT: Lies = 0;
/// See [`Lies`].
pub(crate) const CONSTANT: Lies = u16::MAX;

/// The most the cache directory holds before old entries go.
pub(crate) const MAX_BYTES: u64 = 512 << 20;

/// A shared library of the process: its path, its file's identity, and
/// where it is mapped (its base and its loaded ranges).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Module {
    /// Its path (the executable's from `/proc/self/exe`; the vDSO's name).
    pub path: String,
    /// Known by its path and file (or the vDSO): one whose path cannot be
    /// had is not, and an address in it keeps a unit out of the cache.
    pub library: bool,
    /// The unit reaches it.
    pub referenced: bool,
    /// (device, inode, size, modification time in ns) of its file.
    pub identity: (u64, u64, u64, i128),
    pub base: u64,
    pub ranges: Vec<(u64, u64)>,
}

/// The modules the process has mapped, each with its loaded ranges and
/// its file's identity: the executable, the shared libraries and the vDSO
/// (those ld.so maps at start-up move together between processes; the
/// executable and the libraries loaded later each by their own distance).
pub(crate) fn modules() -> Vec<Module> {
    unsafe extern "C" fn one(
        info: *mut libc::dl_phdr_info,
        _size: libc::size_t,
        data: *mut libc::c_void,
    ) -> libc::c_int {
        // SAFETY: dl_iterate_phdr passes a valid info and our Vec.
        let (info, out) = unsafe { (&*info, &mut *(data as *mut Vec<Module>)) };
        if info.dlpi_name.is_null() {
            return 0;
        }
        // SAFETY: a NUL-terminated path that glibc owns during the call.
        let name = unsafe { std::ffi::CStr::from_ptr(info.dlpi_name) };
        let mut path = name.to_str().unwrap_or("").to_string();
        // The executable has no name here: it is known by its file, as a
        // library is, and moves by a distance of its own (a host's copy of
        // `stdout` lies in it).
        if path.is_empty() && out.is_empty() {
            path = std::fs::read_link("/proc/self/exe")
                .ok()
                .and_then(|p| p.to_str().map(str::to_string))
                .unwrap_or_default();
        }
        // The vDSO moves with the libraries (one mmap base); glibc's
        // `time` and `gettimeofday` resolve into it.
        let vdso = path.starts_with("linux-vdso") || path.starts_with("linux-gate");
        // A library dlopened by a relative path is known by it, and by its
        // file's identity, which another directory would not match. A
        // module without a name is not known.
        let library = !path.is_empty();
        let mut ranges = Vec::new();
        for i in 0..info.dlpi_phnum as usize {
            // SAFETY: dlpi_phdr holds dlpi_phnum headers.
            let ph = unsafe { &*info.dlpi_phdr.add(i) };
            if ph.p_type == libc::PT_LOAD {
                let lo = info.dlpi_addr.wrapping_add(ph.p_vaddr);
                ranges.push((lo, lo.wrapping_add(ph.p_memsz)));
            }
        }
        let identity = if vdso {
            // No file: the kernel's, known by its size.
            (0, 0, ranges.iter().map(|(lo, hi)| hi - lo).sum(), 0)
        } else if library {
            identity(Path::new(&path)).unwrap_or_default()
        } else {
            (0, 0, 0, 0)
        };
        out.push(Module {
            path,
            library,
            referenced: false,
            identity,
            base: info.dlpi_addr,
            ranges,
        });
        0
    }
    let mut out: Vec<Module> = Vec::new();
    // SAFETY: the callback only reads what glibc passes and pushes to `out`.
    unsafe { libc::dl_iterate_phdr(Some(one), (&mut out as *mut Vec<Module>).cast()) };
    out
}

/// (device, inode, size, modification time in ns) of the file at `path`.
pub(crate) fn identity(path: &Path) -> Option<(u64, u64, u64, i128)> {
    let m = std::fs::metadata(path).ok()?;
    let mtime = i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec());
    Some((m.dev(), m.ino(), m.size(), mtime))
}

/// What a cached unit is: everything a load needs to make the unit again
/// from its image, at its base plus the libraries' distance.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    /// The key it was written under (compared whole on reading).
    pub key: Vec<u8>,
    /// The base it was linked at, and its size.
    pub base: u64,
    pub size: u64,
    /// The alignment its base needs (its sections' largest).
    pub align: u64,
    /// Offsets: the text's end, the read-only data, the GOT, the
    /// trampolines, `__dso_handle`, the writable data's end.
    pub text_end: u64,
    pub rodata: (u64, u64),
    pub got: u64,
    pub trampolines: u64,
    pub dso_handle: u64,
    /// The entry point: (address, where it lies).
    pub entry_point: Option<(u64, Lies)>,
    /// Exports: (name, address, where it lies).
    /// (where its name lies in `export_names`, address, where it lies):
    /// one buffer of names, not a string each.
    pub exports: Vec<(std::ops::Range<u32>, u64, Lies)>,
    pub export_names: String,
    /// Constructor and destructor tables: (offset, length, kind, priority).
    pub tables: Vec<(u64, u64, u8, u32)>,
    /// Offsets of the `.eh_frame` copies.
    pub eh_frames: Vec<u64>,
    /// objects, sections, relocations, trampolines, GOT slots,
    /// relaxations, address rewrites, window low, window high.
    pub stats: [u64; 9],
    /// Relocations applied, by type name.
    pub by_type: Vec<(String, u64)>,
    /// (address, target) of each trampoline and (address, value) of each
    /// GOT slot, at `base`.
    pub trampoline_list: Vec<(u64, u64)>,
    pub got_list: Vec<(u64, u64)>,
    /// COMDAT groups the unit provides.
    pub groups: Vec<String>,
    /// The names the unit takes from outside: none of them may be defined
    /// by a Global unit when it is reused.
    pub names: Vec<String>,
    /// (offset, field code, where its value lies) of each word that holds
    /// an address (never a constant).
    pub fixups: Vec<(u64, u8, Lies)>,
    /// (offset, field code, where its target lies) of each PC-relative
    /// field that reaches something outside the unit (a library or a
    /// constant) itself.
    pub pc_fixups: Vec<(u64, u8, Lies)>,
    /// The libraries the process had, with their bases then.
    pub modules: Vec<Module>,
}

/// Little-endian writer of an entry's fields.
struct Out(Vec<u8>);

impl Out {
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn bytes(&mut self, b: &[u8]) {
        self.u64(b.len() as u64);
        self.0.extend_from_slice(b);
    }
    fn str(&mut self, s: &str) {
        self.bytes(s.as_bytes());
    }
}

/// Reader of an entry's fields: `None` at the first thing out of bounds.
struct In<'a>(&'a [u8]);

impl<'a> In<'a> {
    fn u64(&mut self) -> Option<u64> {
        let (head, rest) = self.0.split_first_chunk::<8>()?;
        self.0 = rest;
        Some(u64::from_le_bytes(*head))
    }
    fn len(&mut self, each: usize) -> Option<usize> {
        let n = usize::try_from(self.u64()?).ok()?;
        // No count can ask for more than the bytes left.
        (n.checked_mul(each.max(1))? <= self.0.len()).then_some(n)
    }
    fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = self.len(1)?;
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }
    fn string(&mut self) -> Option<String> {
        String::from_utf8(self.bytes()?.to_vec()).ok()
    }
}

impl Entry {
    /// The entry that says the inputs of `key` make a unit that cannot be
    /// cached (no image): later loads link them without trying again.
    pub fn uncacheable(key: Vec<u8>) -> Entry {
        Entry {
            key,
            ..Entry::default()
        }
    }

    /// The file's bytes up to its image, which follows them (`size` bytes,
    /// from a page boundary): magic, objdl's version, the checksums of the
    /// fields and of `image`, the `seal` (the modification time, in ns,
    /// the writer gives the file), the length of the rest, then the fields.
    pub fn encode(&self, image: &[u8], seal: u64) -> Vec<u8> {
        let mut o = Out(Vec::with_capacity(4096));
        o.bytes(&self.key);
        for v in [
            self.base,
            self.size,
            self.text_end,
            self.rodata.0,
            self.rodata.1,
            self.got,
            self.trampolines,
            self.dso_handle,
            self.align,
        ] {
            o.u64(v);
        }
        match self.entry_point {
            Some((a, lies)) => {
                o.u64(1);
                o.u64(a);
                o.u64(u64::from(lies));
            }
            None => o.u64(0),
        }
        o.u64(self.exports.len() as u64);
        for (n, a, lies) in &self.exports {
            o.str(&self.export_names[n.start as usize..n.end as usize]);
            o.u64(*a);
            o.u64(u64::from(*lies));
        }
        o.u64(self.tables.len() as u64);
        for &(off, len, kind, prio) in &self.tables {
            o.u64(off);
            o.u64(len);
            o.u64(u64::from(kind));
            o.u64(u64::from(prio));
        }
        o.u64(self.eh_frames.len() as u64);
        for &e in &self.eh_frames {
            o.u64(e);
        }
        for s in self.stats {
            o.u64(s);
        }
        o.u64(self.by_type.len() as u64);
        for (n, c) in &self.by_type {
            o.str(n);
            o.u64(*c);
        }
        for list in [&self.trampoline_list, &self.got_list] {
            o.u64(list.len() as u64);
            for &(a, b) in list.iter() {
                o.u64(a);
                o.u64(b);
            }
        }
        for list in [&self.groups, &self.names] {
            o.u64(list.len() as u64);
            for s in list.iter() {
                o.str(s);
            }
        }
        for list in [&self.fixups, &self.pc_fixups] {
            o.u64(list.len() as u64);
            for &(off, code, lies) in list.iter() {
                o.u64(off);
                o.u64(u64::from(code) | u64::from(lies) << 8);
            }
        }
        o.u64(self.modules.len() as u64);
        for m in &self.modules {
            o.str(&m.path);
            o.u64(u64::from(m.library) | u64::from(m.referenced) << 1);
            o.u64(m.identity.0);
            o.u64(m.identity.1);
            o.u64(m.identity.2);
            o.bytes(&m.identity.3.to_le_bytes());
            o.u64(m.base);
            o.u64(m.ranges.len() as u64);
            for &(lo, hi) in &m.ranges {
                o.u64(lo);
                o.u64(hi);
            }
        }
        // The image starts on a page of the file, so that a load maps it.
        let head_len = (MAGIC.len() + 8 + env!("CARGO_PKG_VERSION").len() + 32) as u64;
        let at = head_len + o.0.len() as u64 + 16;
        let pad = at.next_multiple_of(PAGE) - at;
        o.u64(pad);
        o.0.resize(o.0.len() + pad as usize, 0);
        o.u64(image.len() as u64);
        let body = o.0;
        let mut file = Vec::with_capacity(body.len() + 64);
        file.extend_from_slice(MAGIC);
        let mut head = Out(Vec::new());
        head.str(env!("CARGO_PKG_VERSION"));
        head.u64(xxhash_rust::xxh3::xxh3_64(&body));
        head.u64(xxhash_rust::xxh3::xxh3_64(image));
        head.u64(seal);
        head.u64((body.len() + image.len()) as u64);
        file.extend_from_slice(&head.0);
        file.extend_from_slice(&body);
        file
    }

    /// Whether every offset lies where a load will use it: the segments in
    /// order, on pages, inside the image, every table and unwind table
    /// inside it, and every moved word naming a place (a file that passes
    /// its checksum was written by objdl, but this keeps a damaged one
    /// from ever reaching the loader).
    fn plausible(&self) -> bool {
        if self.size == 0 {
            return *self == Entry::uncacheable(self.key.clone());
        }
        let size = self.size;
        let on_page = |v: u64| v % PAGE == 0;
        let inside = |off: u64, len: u64| off.checked_add(len).is_some_and(|end| end <= size);
        on_page(size)
            && self.align.is_power_of_two()
            && on_page(self.text_end)
            && on_page(self.rodata.0)
            && on_page(self.rodata.1)
            && on_page(self.trampolines)
            && self.text_end <= self.rodata.0
            && self.rodata.0 <= self.rodata.1
            && self.rodata.1 <= self.got
            && self.got <= self.trampolines
            && self.trampolines <= size
            && inside(self.dso_handle, 8)
            && self
                .tables
                .iter()
                .all(|&(off, len, _, _)| len.checked_mul(8).is_some_and(|bytes| inside(off, bytes)))
            && self.eh_frames.iter().all(|&off| inside(off, 4))
            // The moved words are checked to lie inside the image as they
            // are moved; here, by group, that each names a place.
            && self
                .fixups
                .chunk_by(|a, b| a.2 == b.2)
                .all(|g| g[0].2 != CONSTANT && self.lies_well(g[0].2))
            && self
                .pc_fixups
                .chunk_by(|a, b| a.2 == b.2)
                .all(|g| g[0].2 != IN_UNIT && self.lies_well(g[0].2))
            && self.exports.iter().all(|e| self.lies_well(e.2))
            && self.entry_point.is_none_or(|e| self.lies_well(e.1))
    }

    /// Whether `lies` names the unit, a constant or one of the modules.
    fn lies_well(&self, lies: Lies) -> bool {
        lies == IN_UNIT || lies == CONSTANT || usize::from(lies) <= self.modules.len()
    }

    /// The entry in `file`, if it is whole, of this objdl, and consistent,
    /// with where its image lies in `file` (not copied); `None` for
    /// anything else (a miss). The checksums of its fields and image are
    /// checked when the file's modification time `mtime` (ns) is not the
    /// seal it was written with: any write to the file since, by any
    /// means, changed its time. Its fields are always checked for sense.
    pub fn decode(file: &[u8], mtime: u64) -> Option<(Entry, std::ops::Range<usize>)> {
        let rest = file.strip_prefix(MAGIC.as_slice())?;
        let mut h = In(rest);
        if h.string()? != env!("CARGO_PKG_VERSION") {
            return None;
        }
        let (fields_sum, image_sum, seal) = (h.u64()?, h.u64()?, h.u64()?);
        let len = usize::try_from(h.u64()?).ok()?;
        if h.0.len() != len {
            return None;
        }
        let mut i = In(h.0);
        let mut e = Entry {
            key: i.bytes()?.to_vec(),
            ..Entry::default()
        };
        let mut f = [0u64; 9];
        for v in f.iter_mut() {
            *v = i.u64()?;
        }
        [
            e.base,
            e.size,
            e.text_end,
            e.rodata.0,
            e.rodata.1,
            e.got,
            e.trampolines,
            e.dso_handle,
            e.align,
        ] = f;
        e.entry_point = match i.u64()? {
            0 => None,
            1 => Some((i.u64()?, Lies::try_from(i.u64()?).ok()?)),
            _ => return None,
        };
        let n = i.len(24)?;
        e.exports.reserve_exact(n);
        for _ in 0..n {
            let name = std::str::from_utf8(i.bytes()?).ok()?;
            let start = u32::try_from(e.export_names.len()).ok()?;
            e.export_names.push_str(name);
            let end = u32::try_from(e.export_names.len()).ok()?;
            e.exports
                .push((start..end, i.u64()?, Lies::try_from(i.u64()?).ok()?));
        }
        for _ in 0..i.len(32)? {
            let (off, len) = (i.u64()?, i.u64()?);
            let kind = u8::try_from(i.u64()?).ok()?;
            let prio = u32::try_from(i.u64()?).ok()?;
            e.tables.push((off, len, kind, prio));
        }
        for _ in 0..i.len(8)? {
            e.eh_frames.push(i.u64()?);
        }
        for s in e.stats.iter_mut() {
            *s = i.u64()?;
        }
        for _ in 0..i.len(16)? {
            e.by_type.push((i.string()?, i.u64()?));
        }
        for list in [&mut e.trampoline_list, &mut e.got_list] {
            let n = i.len(16)?;
            list.reserve_exact(n);
            for _ in 0..n {
                list.push((i.u64()?, i.u64()?));
            }
        }
        for list in [&mut e.groups, &mut e.names] {
            let n = i.len(8)?;
            list.reserve_exact(n);
            for _ in 0..n {
                list.push(i.string()?);
            }
        }
        for list in [&mut e.fixups, &mut e.pc_fixups] {
            // The longest lists: read as one slice of 16-byte records.
            let n = i.len(16)?;
            let (records, rest) = i.0.split_at(n * 16);
            i.0 = rest;
            let word = |b: &[u8]| u64::from_le_bytes(b.try_into().expect("8 bytes"));
            list.extend(records.chunks_exact(16).map(|r| {
                let v = word(&r[8..]);
                (word(&r[..8]), v as u8, (v >> 8) as Lies)
            }));
            // A code or a place too wide for its field.
            if records.chunks_exact(16).any(|r| word(&r[8..]) >> 24 != 0) {
                return None;
            }
        }
        for _ in 0..i.len(48)? {
            let path = i.string()?;
            let flags = i.u64()?;
            let (library, referenced) = (flags & 1 != 0, flags & 2 != 0);
            let identity = (
                i.u64()?,
                i.u64()?,
                i.u64()?,
                i128::from_le_bytes(i.bytes()?.try_into().ok()?),
            );
            let base = i.u64()?;
            let mut ranges = Vec::new();
            for _ in 0..i.len(16)? {
                ranges.push((i.u64()?, i.u64()?));
            }
            e.modules.push(Module {
                path,
                library,
                referenced,
                identity,
                base,
                ranges,
            });
        }
        let pad = i.len(1)?;
        i.0 = &i.0[pad..];
        let fields = &h.0[..h.0.len() - i.0.len() + 8];
        let image = i.bytes()?;
        // A sealed file has not been written since objdl wrote it whole.
        if mtime != seal
            && (xxhash_rust::xxh3::xxh3_64(fields) != fields_sum
                || xxhash_rust::xxh3::xxh3_64(image) != image_sum)
        {
            return None;
        }
        let start = image.as_ptr() as usize - file.as_ptr() as usize;
        (i.0.is_empty() && image.len() as u64 == e.size && e.plausible())
            .then_some((e, start..start + image.len()))
    }
}

/// Checks that `dir` may hold a cache, which is code: made (mode 0700) if
/// missing; else it must be a directory of this user's that no one else
/// may write to ([`Error::Cache`] otherwise, naming it and why).
///
/// ```no_run
/// if let Some(dir) = objdl::default_cache_dir() {
///     if let Err(e) = objdl::check_cache_dir(&dir) {
///         eprintln!("not caching: {e}");
///     }
/// }
/// ```
pub fn check_cache_dir(dir: &Path) -> Result<()> {
    use crate::error::CacheRefusal;
    let refuse = |why: CacheRefusal| Error::Cache {
        dir: dir.to_path_buf(),
        why,
    };
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|error| refuse(CacheRefusal::CannotCreate { error }))?;
    }
    let m = std::fs::symlink_metadata(dir)
        .map_err(|error| refuse(CacheRefusal::Unreadable { error }))?;
    if !m.is_dir() {
        return Err(refuse(CacheRefusal::NotADirectory));
    }
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    if m.uid() != me {
        return Err(refuse(CacheRefusal::OtherOwner { owner: m.uid(), me }));
    }
    if m.permissions().mode() & 0o022 != 0 {
        return Err(refuse(CacheRefusal::WritableByOthers {
            mode: m.permissions().mode() & 0o777,
        }));
    }
    Ok(())
}

/// The file of the entry for `key` in `dir`.
pub(crate) fn entry_path(dir: &Path, key: &[u8]) -> PathBuf {
    dir.join(format!("{:016x}.objdl", xxhash_rust::xxh3::xxh3_64(key)))
}

/// The entry for `key` in `dir`, if there is a good one.
pub(crate) fn read(dir: &Path, key: &[u8]) -> Option<Read> {
    let file = MappedFile::open(&entry_path(dir, key))?;
    let (entry, image) = Entry::decode(file.bytes(), file.mtime)?;
    (entry.key == key).then_some(Read { entry, file, image })
}

/// An entry read back: its fields, and its image still in the file.
pub(crate) struct Read {
    pub entry: Entry,
    file: MappedFile,
    image: std::ops::Range<usize>,
}

impl Read {
    /// Maps the image into `mem` (its size), private to the unit, its
    /// pages shared with the page cache until written.
    pub fn map_image(&self, mem: &Reservation) -> Result<()> {
        use std::os::fd::AsFd;
        mem.map_file(
            0,
            mem.len(),
            self.file.file.as_fd(),
            (self.image.start as u64, false),
        )
    }
}

/// A cache file mapped read-only, away from where the kernel puts new
/// mappings by default (just below the libraries), so that it never takes
/// the place the unit it holds goes back to.
struct MappedFile {
    file: std::fs::File,
    ptr: *mut libc::c_void,
    len: usize,
    /// Its modification time, in ns since the epoch.
    mtime: u64,
}

impl MappedFile {
    fn open(path: &Path) -> Option<MappedFile> {
        use std::os::unix::fs::OpenOptionsExt;
        let f = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(path)
            .ok()?;
        let m = f.metadata().ok()?;
        if !m.is_file() || m.len() == 0 || m.len() > crate::limits::MAX_INPUT_SIZE {
            return None;
        }
        let len = m.len() as usize;
        let mtime = (m.mtime() as u64)
            .wrapping_mul(1_000_000_000)
            .wrapping_add(m.mtime_nsec() as u64);
        // A hint far below the libraries (1 TiB); the kernel takes it when
        // it is free.
        let hint = (1u64 << 40) as *mut libc::c_void;
        // SAFETY: a new private read-only mapping of a regular file; no
        // memory of the process is replaced (no MAP_FIXED).
        let ptr = unsafe {
            libc::mmap(
                hint,
                len,
                libc::PROT_READ,
                libc::MAP_PRIVATE,
                std::os::fd::AsRawFd::as_raw_fd(&f),
                0,
            )
        };
        (ptr != libc::MAP_FAILED).then_some(MappedFile {
            file: f,
            ptr,
            len,
            mtime,
        })
    }

    fn bytes(&self) -> &[u8] {
        // SAFETY: a readable mapping of `len` bytes, ours until dropped. A
        // file truncated meanwhile would fault (SIGBUS), as for inputs;
        // entries are only ever replaced by rename, never truncated.
        unsafe { std::slice::from_raw_parts(self.ptr.cast(), self.len) }
    }
}

impl Drop for MappedFile {
    fn drop(&mut self) {
        // SAFETY: our own mapping.
        unsafe { libc::munmap(self.ptr, self.len) };
    }
}

/// Writes `entry` with `image` into `dir`: a temporary file, sealed with
/// the modification time it is given (so that a load need not checksum
/// the image of a file no one has written since), then a rename; then old entries go while the directory holds more than
/// [`MAX_BYTES`]. Errors are ignored: a cache that cannot be written is
/// only a cache missed.
pub(crate) fn write(dir: &Path, entry: &Entry, image: &[u8]) {
    let path = entry_path(dir, &entry.key);
    let seal = nanos();
    let tmp = dir.join(format!(
        ".tmp-{}-{:x}",
        std::process::id(),
        xxhash_rust::xxh3::xxh3_64(&entry.key) ^ seal
    ));
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .and_then(|mut f| {
            f.write_all(&entry.encode(image, seal))?;
            f.write_all(image)?;
            f.set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_nanos(seal))
        });
    use std::os::unix::fs::OpenOptionsExt as _;
    if written.is_err() || std::fs::rename(&tmp, &path).is_err() {
        let _ = std::fs::remove_file(&tmp);
        return;
    }
    evict(dir, MAX_BYTES);
}

/// Runs `work` in a process of its own, detached from this one: forked
/// twice, so that it is never a child this process (or a program it runs)
/// could `wait` for; in a session of its own, at the lowest priority; its
/// standard streams on `/dev/null` (unless `OBJDL_CACHE_DEBUG` is set) and
/// every other descriptor closed, so that it holds no pipe of its
/// parent's open. This process only waits for the first fork to end.
/// Gives `work` back, not run, when it cannot: when the process has other
/// threads (whose locks a child could find held) or `fork` fails.
pub(crate) fn detached<F: FnOnce()>(work: F) -> Option<F> {
    let single = std::fs::read_dir("/proc/self/task").map_or(0, |d| d.count()) == 1;
    if !single {
        return Some(work);
    }
    let debug = std::env::var_os("OBJDL_CACHE_DEBUG").is_some();
    // SAFETY: the process has one thread, so the child is a whole copy of
    // it, with no lock held by a thread that does not exist there.
    let child = unsafe { libc::fork() };
    match child {
        -1 => Some(work),
        0 => {
            // SAFETY: as above (this child has one thread too).
            let grandchild = unsafe { libc::fork() };
            if grandchild != 0 {
                // SAFETY: the first child ends at once, running none of
                // the parent's exit handlers.
                unsafe { libc::_exit(0) };
            }
            // SAFETY: a session of its own (a Ctrl-C meant for the program
            // does not stop the write) at the lowest priority (it yields
            // the processor to the program it was forked from); then
            // closing descriptors this process owns (a copy of the
            // parent's table), and taking 0, 1 and 2 again on /dev/null,
            // so that nothing written to them lands in a file opened later.
            unsafe {
                libc::setsid();
                libc::nice(19);
                libc::close_range(if debug { 3 } else { 0 }, libc::c_uint::MAX, 0);
                if !debug {
                    for _ in 0..3 {
                        libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
                    }
                }
            }
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work));
            // SAFETY: ends the detached process without running the
            // parent's exit handlers or flushing its buffers.
            unsafe { libc::_exit(0) }
        }
        pid => {
            let mut status = 0;
            // SAFETY: waits for our own child, which ends at once.
            while unsafe { libc::waitpid(pid, &mut status, 0) } == -1
                && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted
            {
            }
            None
        }
    }
}

fn nanos() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// The entries in `dir`: (path, size, modification time), oldest first.
fn entries(dir: &Path) -> Vec<(PathBuf, u64, std::time::SystemTime)> {
    let mut out: Vec<_> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".objdl"))
        .filter_map(|e| {
            let m = e.metadata().ok()?;
            Some((e.path(), m.len(), m.modified().ok()?))
        })
        .collect();
    out.sort_by_key(|e| e.2);
    out
}

/// Removes the oldest entries until `dir` holds at most `max` bytes, and
/// temporary files more than ten minutes old (left by a writer that was
/// killed).
fn evict(dir: &Path, max: u64) {
    let stale = std::time::SystemTime::now() - std::time::Duration::from_secs(600);
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| t < stale);
        if old && e.file_name().to_string_lossy().starts_with(".tmp-") {
            let _ = std::fs::remove_file(e.path());
        }
    }
    let all = entries(dir);
    let mut total: u64 = all.iter().map(|e| e.1).sum();
    for (path, len, _) in all {
        if total <= max {
            break;
        }
        if std::fs::remove_file(&path).is_ok() {
            total -= len;
        }
    }
}

/// What a cache directory holds.
///
/// ```no_run
/// let s = objdl::cache_stats(std::path::Path::new("/home/me/.cache/objdl"));
/// println!("{} entries, {} bytes", s.entries, s.bytes);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Entries (linked units).
    pub entries: u64,
    /// Their bytes.
    pub bytes: u64,
}

/// What the cache directory `dir` holds (nothing if it does not exist).
///
/// ```no_run
/// println!("{:?}", objdl::cache_stats(std::path::Path::new("cache")));
/// ```
pub fn cache_stats(dir: &Path) -> CacheStats {
    let all = entries(dir);
    CacheStats {
        entries: all.len() as u64,
        bytes: all.iter().map(|e| e.1).sum(),
    }
}

/// Removes every entry (and temporary file) from the cache directory
/// `dir`, returning how many entries went.
///
/// ```no_run
/// let n = objdl::cache_clear(std::path::Path::new("cache"))?;
/// println!("{n} entries removed");
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn cache_clear(dir: &Path) -> std::io::Result<u64> {
    let mut n = 0;
    for e in std::fs::read_dir(dir)?.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        if name.ends_with(".objdl") || name.starts_with(".tmp-") {
            std::fs::remove_file(e.path())?;
            n += u64::from(name.ends_with(".objdl"));
        }
    }
    Ok(n)
}

/// The default cache directory: `$XDG_CACHE_HOME/objdl`, else
/// `$HOME/.cache/objdl`.
///
/// ```
/// if let Some(dir) = objdl::default_cache_dir() {
///     assert!(dir.ends_with("objdl"));
/// }
/// ```
pub fn default_cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("objdl"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_and_damage_is_a_miss() {
        let e = Entry {
            key: b"key".to_vec(),
            base: 0x7f00_0000_0000,
            size: 4096,
            align: 16,
            got: 4096,
            trampolines: 4096,
            entry_point: Some((0x7f00_0000_0008, IN_UNIT)),
            exports: vec![(0..1, 0x7f00_0000_0000, IN_UNIT)],
            export_names: "f".into(),
            tables: vec![(8, 1, 1, 65535)],
            names: vec!["puts".into()],
            fixups: vec![(8, 8, 1)],
            pc_fixups: vec![(16, 4, CONSTANT), (24, 4, 1)],
            modules: vec![Module {
                path: "/lib/libc.so.6".into(),
                library: true,
                referenced: true,
                identity: (1, 2, 3, 4),
                base: 0x7f10_0000_0000,
                ranges: vec![(0x7f10_0000_0000, 0x7f10_0010_0000)],
            }],
            ..Entry::default()
        };
        let image = vec![7u8; 4096];
        let seal = 1_700_000_000_123_456_789;
        let mut bytes = e.encode(&image, seal);
        let image_at = bytes.len();
        bytes.extend_from_slice(&image);
        let (back, at) = Entry::decode(&bytes, seal).unwrap();
        assert_eq!(at.start % PAGE as usize, 0, "the image starts on a page");
        assert_eq!(at.start, image_at);
        assert_eq!(&bytes[at.clone()], &image[..]);
        assert_eq!(back, e);
        assert_eq!(Entry::decode(&bytes, seal + 1).unwrap().0, e);
        // Every truncation, and a flipped bit at every byte, is refused
        // (never a panic, never an entry) when the file's time is not its
        // seal. A sealed file (not written since objdl wrote it) is not
        // checksummed: damage there may go unseen, but never panics, and
        // a truncated one is still refused.
        for cut in 0..bytes.len() {
            assert!(
                Entry::decode(&bytes[..cut], seal).is_none(),
                "truncated at {cut}"
            );
        }
        let mut bad = bytes.clone();
        for at in 0..bytes.len() {
            bad[at] ^= 0x10;
            // A damaged seal (the head's fourth word) only has the file
            // checked, and found whole.
            let seal_word = MAGIC.len() + 8 + env!("CARGO_PKG_VERSION").len() + 16;
            if !(seal_word..seal_word + 8).contains(&at) {
                assert!(Entry::decode(&bad, seal + 1).is_none(), "damaged at {at}");
            }
            let _ = Entry::decode(&bad, seal);
            bad[at] ^= 0x10;
        }
    }
}
