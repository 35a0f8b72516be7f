//! The cache in the pipeline ([`crate::OpenOptions::cache`], the file in
//! `load::cache`): a load first looks for its inputs' entry ([`reuse`]);
//! a miss links as always, and a unit that may be cached is written out
//! ([`store`]) once protected and before any of its code runs.

use std::path::Path;
use std::time::Instant;

use rustc_hash::FxHashSet;

use crate::arch::{self, Field, Formula};
use crate::error::Result;
use crate::input::{ObjectFile, RelocFields, SectionKind, SymbolDef};
use crate::link::lifecycle;
use crate::link::placement::Placement;
use crate::link::relocate::{PcWrite, Tail};
use crate::link::resolution::{Resolution, Target};
use crate::link::unit_layout::{Layout, Table, NOT_LOADED};
use crate::load::cache::{self, Entry, Lies, Module, CONSTANT, IN_UNIT};
use crate::load::memory::{Memory, Reservation};
use crate::load::runtime;
use crate::load::unit::{Exports, LoadStats, RelocationSummary, Unit, UnitInner, UnitParts};
use crate::options::{Input, OpenOptions};

use super::context::Context;
use super::protect::protect;

/// What linking tells the cache, beyond the unit's parts: where the
/// addresses may be, and whether the unit may be cached at all.
#[derive(Debug, Default)]
pub(crate) struct Capture {
    /// What ties the unit to this process (then it is not cached).
    pub refused: Option<&'static str>,
    /// (offset, field) of each absolute field the relocations wrote.
    pub abs_sites: Vec<(u64, Field)>,
    /// Offsets of the words objdl filled with addresses (its stubs' slots).
    pub words: Vec<u64>,
    /// Every address outside the unit the unit was bound to.
    pub external: Vec<u64>,
    /// The names the unit took from outside.
    pub names: Vec<String>,
    /// The constructor and destructor tables, the `.eh_frame` copies.
    pub tables: Vec<(u64, u64, u8, u32)>,
    pub eh_frames: Vec<u64>,
    /// The PC-relative fields that reach their targets themselves.
    pub pc_writes: Vec<PcWrite>,
    /// The alignment the unit's base needs (its sections' largest).
    pub align: u64,
}

/// What the cache needs of a link, found while its stages' results are
/// at hand (see [`Capture`]).
pub(super) fn capture(
    objects: &[ObjectFile<'_>],
    res: &Resolution<'_>,
    layout: &Layout,
    (opts, copies, stand_ins): (&OpenOptions, usize, bool),
    pc_writes: Vec<PcWrite>,
) -> Capture {
    // What ties the unit to this process, if anything.
    let refused = [
        (!res.ifuncs.is_empty(), "IFUNCs"),
        (layout.tls.size != 0, "thread-locals"),
        (
            !res.initial_exec_names.is_empty(),
            "other modules' thread-locals",
        ),
        (!res.dynamic_tls.is_empty(), "other modules' thread-locals"),
        (!res.deps.is_empty(), "a Global unit's definitions"),
        (!res.lazy.is_empty(), "lazy bindings"),
        (copies != 0, "copies of host variables"),
        (stand_ins, "stand-ins"),
        (opts.reloadable, "reloadable"),
        (opts.exec_stack, "an executable stack"),
        (
            opts.placement != Placement::Auto,
            "a placement other than auto",
        ),
    ]
    .into_iter()
    .find_map(|(yes, what)| yes.then_some(what));
    let mut c = Capture {
        refused,
        ..Capture::default()
    };
    if refused.is_some() {
        return c;
    }
    let mut names: FxHashSet<&str> = FxHashSet::default();
    for (oi, obj) in objects.iter().enumerate() {
        for (si, sec) in obj.sections.iter().enumerate() {
            let off = layout.sec_offsets[oi][si];
            if off == NOT_LOADED || matches!(sec.kind, SectionKind::Tls { .. }) {
                continue;
            }
            c.align = c.align.max(sec.align);
            for r in sec.relocs.iter() {
                if let Some(Formula::Abs(field)) = arch::formula(r.kind()) {
                    c.abs_sites.push((off + r.offset(), field));
                }
            }
        }
        for (si, sym) in obj.symbols.iter().enumerate() {
            if let Some(Target::Absolute { addr, .. }) = res.targets.entry(oi, si) {
                if addr != 0 {
                    c.external.push(addr);
                }
                if sym.def == SymbolDef::Undefined && !sym.name.is_empty() {
                    names.insert(sym.name);
                }
            }
        }
    }
    c.external.sort_unstable();
    c.external.dedup();
    c.names = names.into_iter().map(str::to_string).collect();
    c.words = layout.synthetic.stub_slots.to_vec();
    c.tables = layout
        .tables
        .iter()
        .map(|t| (t.offset, t.len, table_kind_code(t.kind), t.priority))
        .collect();
    c.eh_frames = layout.eh_frames.clone();
    c.pc_writes = pc_writes;
    c
}

fn table_kind_code(k: crate::input::TableKind) -> u8 {
    use crate::input::TableKind::*;
    match k {
        PreinitArray => 0,
        InitArray => 1,
        FiniArray => 2,
        Ctors => 3,
        Dtors => 4,
    }
}

fn table_kind(code: u8) -> Option<crate::input::TableKind> {
    use crate::input::TableKind::*;
    Some(match code {
        0 => PreinitArray,
        1 => InitArray,
        2 => FiniArray,
        3 => Ctors,
        4 => Dtors,
        _ => return None,
    })
}

/// The key of `inputs` opened with `opts`: objdl's version, the options,
/// and each input's file identity (device, inode, size, modification and
/// change times, in order). `None` when the inputs cannot
/// be cached (bytes, not paths) or the host has definitions of its own.
pub(super) fn key(cx: &Context<'_>, inputs: &[Input], opts: &OpenOptions) -> Option<Vec<u8>> {
    use std::os::unix::fs::MetadataExt;
    if cx.host.has_defines() {
        return None;
    }
    // The options, but not where or how the entry is kept.
    let mut linking = opts.clone();
    (linking.cache, linking.cache_in_background) = (None, false);
    let mut key = format!("objdl {}\n{linking:?}\n", env!("CARGO_PKG_VERSION")).into_bytes();
    for input in inputs {
        let Input::Path(p) = input else {
            return None;
        };
        // The file, by its identity: no path (resolving one costs a
        // system call per component), since another path to the same
        // file is the same input.
        let m = std::fs::metadata(p).ok()?;
        key.extend_from_slice(
            format!(
                "{} {} {} {}.{} {}.{}\n",
                m.dev(),
                m.ino(),
                m.size(),
                m.mtime(),
                m.mtime_nsec(),
                m.ctime(),
                m.ctime_nsec()
            )
            .as_bytes(),
        );
    }
    Some(key)
}

/// Says on stderr what the cache did and why, when `OBJDL_CACHE_DEBUG` is
/// set: `objdl cache: {what}: {why}`.
fn debug(what: &str, why: &str) {
    if std::env::var_os("OBJDL_CACHE_DEBUG").is_some() {
        eprintln!("objdl cache: {what}: {why}");
    }
}

/// What the cache gave a load.
enum Reused {
    /// The unit, from its entry.
    Unit(Unit),
    /// No entry for the key (or a damaged one), or one made with other
    /// libraries: a link, whose entry is worth writing.
    Miss,
    /// An entry this process cannot use (the libraries moved apart, the
    /// place taken, a unit that cannot be cached...), or a load that wants
    /// the objects: a link, whose entry would be no better.
    Unusable,
}

/// The unit the entry of `key` makes in this process, if everything it
/// was made of is here as it was: the same libraries (paths and files),
/// all moved by one distance; no Global unit defining a name it takes from
/// outside; its place (its base plus that distance) free; every absolute
/// address that moves still fitting its field.
///
/// # Safety
/// The unit's initialisers run (see `OpenOptions::open`).
unsafe fn reuse(cx: &Context<'_>, dir: &Path, key: &[u8], opts: &OpenOptions) -> Result<Reused> {
    let started = Instant::now();
    let miss = |why: &str| {
        debug("miss", why);
        Ok(Reused::Miss)
    };
    let unusable = |why: &str| {
        debug("miss", why);
        Ok(Reused::Unusable)
    };
    // A debugger or profiler wants the unit's objects, which a cached unit
    // does not have: link it.
    if opts
        .debugger
        .unwrap_or_else(crate::load::debug::debugger_wanted)
        || opts
            .perf_map
            .unwrap_or_else(crate::load::debug::perf_map_wanted)
    {
        return unusable("a debugger or the perf map wants the objects");
    }
    let Some(read) = cache::read(dir, key) else {
        return miss("no entry");
    };
    let entry = &read.entry;
    if entry.size == 0 {
        return unusable("the unit cannot be cached");
    }
    let now = cache::modules();
    let Some(distances) = distances(&entry.modules, &now) else {
        return miss("the libraries differ");
    };
    if entry.names.iter().any(|n| cx.namespace.lookup(n).is_some()) {
        return unusable("a Global unit defines a name");
    }
    let Some((mut mem, moved)) = place(entry, distances) else {
        return unusable("no place for it");
    };
    if entry.size % crate::load::memory::PAGE != 0 || read.map_image(&mem).is_err() {
        return unusable("its image cannot be mapped");
    }
    {
        // SAFETY: the reservation is mapped read-write (a private file
        // mapping now), ours alone.
        let bytes = unsafe { mem.bytes_mut() };
        if !move_addresses(bytes, &entry.fixups, &moved, false)
            || !move_addresses(bytes, &entry.pc_fixups, &moved, true)
        {
            return unusable("an address does not fit");
        }
    }
    let tail = Tail {
        got: entry.got,
        trampolines: entry.trampolines,
    };
    let mem = protect(mem, tail, entry.size, entry.text_end, entry.rodata)?;
    let parts = parts(cx, entry, &mem, &moved, opts, started)?;
    drop(read);
    let inner = UnitInner::new(mem, parts);
    // SAFETY: the unit is mapped with final protections, as after a link.
    let inner = unsafe { Unit::start(inner, started) };
    Ok(Reused::Unit(Unit::new(inner, cx.namespace.clone())))
}

/// How far each thing a cached unit holds an address of moved since the
/// entry was written: each library, and the unit itself.
struct Moved {
    /// By library, in the entry's order.
    libraries: Vec<u64>,
    /// The unit (see [`place`]).
    unit: u64,
}

/// The unit's reservation, and how far everything moved: the unit goes
/// at the distance most of its PC-relative references to libraries need
/// (those to the others are moved one by one), else at another library's
/// distance, in the order of how many reach it (the libraries ld.so maps
/// at start-up keep their distances to each other, but one of 2 MiB or
/// more is aligned to 2 MiB, and a hole between them moves), else where
/// the kernel likes, if that keeps the unit's alignment (then every
/// PC-relative reference out of it moves, and must still fit).
fn place(entry: &Entry, libraries: Vec<u64>) -> Option<(Reservation, Moved)> {
    // The fields are grouped by library (see `try_store`).
    let mut votes: Vec<(u64, usize)> = Vec::new();
    let mut vote = |d: u64, n: usize| match votes.iter_mut().find(|v| v.0 == d) {
        Some(v) => v.1 += n,
        None => votes.push((d, n)),
    };
    for group in entry.pc_fixups.chunk_by(|a, b| a.2 == b.2) {
        let lib = usize::from(group[0].2).checked_sub(1);
        if let Some(&d) = lib.and_then(|i| libraries.get(i)) {
            vote(d, group.len());
        }
    }
    for (m, &d) in entry.modules.iter().zip(&libraries) {
        if m.referenced {
            vote(d, 0);
        }
    }
    votes.sort_by_key(|&(d, n)| (std::cmp::Reverse(n), d));
    let at = |d: u64| Reservation::reserve(Some(entry.base.wrapping_add(d)), entry.size).ok();
    let (mem, unit) = votes
        .iter()
        .find_map(|&(d, _)| Some((at(d)?, d)))
        .or_else(|| {
            let mem = Reservation::reserve(None, entry.size).ok()?;
            let d = mem.base().wrapping_sub(entry.base);
            (mem.base() % entry.align.max(1) == 0).then_some((mem, d))
        })?;
    Some((mem, Moved { libraries, unit }))
}

impl Moved {
    /// How far what lies at `lies` moved.
    fn by(&self, lies: Lies) -> u64 {
        match lies {
            IN_UNIT => self.unit,
            CONSTANT => 0,
            i => self.libraries[usize::from(i) - 1],
        }
    }
}

/// How far each library of `then` moved to be where it is in `now`, if
/// the process has the same libraries (same paths, same files) and no
/// others.
fn distances(then: &[Module], now: &[Module]) -> Option<Vec<u64>> {
    let now: Vec<&Module> = now.iter().filter(|m| m.library).collect();
    if then.len() != now.len() {
        return None;
    }
    then.iter()
        .map(|m| {
            let here = now.iter().find(|n| n.path == m.path)?;
            (here.identity == m.identity && m.identity != (0, 0, 0, 0))
                .then(|| here.base.wrapping_sub(m.base))
        })
        .collect()
}

/// Moves each word of `fixups` by how far what it holds the address of
/// moved; a PC-relative field (`relative`) by that less how far the unit
/// moved. `false` if one no longer fits its field.
fn move_addresses(
    bytes: &mut [u8],
    fixups: &[(u64, u8, Lies)],
    moved: &Moved,
    relative: bool,
) -> bool {
    // By group of one target (the lists are grouped so): a group that did
    // not move is not touched, and its pages stay shared.
    fixups.chunk_by(|a, b| a.2 == b.2).all(|group| {
        let mut delta = moved.by(group[0].2);
        if relative {
            delta = delta.wrapping_sub(moved.unit);
        }
        delta == 0 || move_by(bytes, group, delta)
    })
}

/// Moves each word of `fixups` by `delta`: `false` if one no longer fits
/// its field.
fn move_by(bytes: &mut [u8], fixups: &[(u64, u8, Lies)], delta: u64) -> bool {
    for &(off, code, _) in fixups {
        if code == 8 {
            // A 64-bit word: it always fits.
            let at = usize::try_from(off).ok();
            let Some(word) = at.and_then(|o| bytes.get_mut(o..o.checked_add(8)?)) else {
                return false;
            };
            let old = u64::from_le_bytes(word.try_into().expect("8 bytes"));
            word.copy_from_slice(&old.wrapping_add(delta).to_le_bytes());
            continue;
        }
        // A 32-bit field: it must still fit.
        let Some((field, old)) = field_of(code).and_then(|f| Some((f, read_field(bytes, off, f)?)))
        else {
            return false;
        };
        let new = i128::from(old as i64) + i128::from(delta as i64);
        if !field.fits(new) {
            return false;
        }
        field.write(&mut bytes[off as usize..], new);
    }
    true
}

/// The value of `field` at `off` in `bytes`, if it lies inside them: a
/// signed field's sign-extended to 64 bits.
fn read_field(bytes: &[u8], off: u64, field: Field) -> Option<u64> {
    let at = usize::try_from(off).ok()?;
    let b = bytes.get(at..at.checked_add(field.width())?)?;
    let mut word = [0u8; 8];
    word[..b.len()].copy_from_slice(b);
    let v = u64::from_le_bytes(word);
    Some(match field {
        Field::S32 => v as u32 as i32 as i64 as u64,
        _ => v,
    })
}

fn field_code(f: Field) -> Option<u8> {
    match f {
        Field::W64 => Some(8),
        Field::S32 => Some(4),
        Field::U32 => Some(3),
        _ => None,
    }
}

fn field_of(code: u8) -> Option<Field> {
    match code {
        8 => Some(Field::W64),
        4 => Some(Field::S32),
        3 => Some(Field::U32),
        _ => None,
    }
}

/// The unit's parts, from `entry` moved by `delta`.
fn parts(
    cx: &Context<'_>,
    entry: &Entry,
    mem: &Reservation,
    distances: &Moved,
    opts: &OpenOptions,
    started: Instant,
) -> Result<UnitParts> {
    let base = mem.base();
    let moved = |a: u64, lies: Lies| a.wrapping_add(distances.by(lies));
    let names = &entry.export_names;
    let mut exports = Exports::with_capacity(entry.exports.len(), names.len());
    for (n, a, m) in &entry.exports {
        exports.insert_unique(&names[n.start as usize..n.end as usize], moved(*a, *m));
    }
    let tables: Vec<Table> = entry
        .tables
        .iter()
        .filter_map(|&(offset, len, kind, priority)| {
            Some(Table {
                obj: 0,
                sec: 0,
                kind: table_kind(kind)?,
                priority,
                offset,
                len,
            })
        })
        .collect();
    // Every page of the unit is readable after `protect`.
    let lifecycle = lifecycle::lifecycle(mem.bytes(), base, &tables, &entry.eh_frames);
    let s = entry.stats;
    let stats = LoadStats {
        objects: s[0] as usize,
        sections: s[1] as usize,
        relocations: s[2],
        trampolines: s[3] as usize,
        got_slots: s[4] as usize,
        relaxations: s[5],
        address_rewrites: s[6],
        copies: 0,
        lazy_stubs: 0,
        base,
        size: entry.size,
        window: (s[7], s[8]),
        load_time: started.elapsed(),
        cached: true,
    };
    let image = mem.bytes();
    let word = |off: u64| {
        usize::try_from(off)
            .ok()
            .and_then(|o| image.get(o..o + 8))
            .map_or(0, |b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
    };
    let summary = RelocationSummary {
        by_type: entry.by_type.clone(),
        trampolines: entry
            .trampoline_list
            .iter()
            .map(|&(a, _)| {
                let off = a.wrapping_sub(entry.base);
                (base + off, word(off + arch::TRAMPOLINE_TARGET_AT as u64))
            })
            .collect(),
        got_slots: entry
            .got_list
            .iter()
            .map(|&(a, _)| {
                let off = a.wrapping_sub(entry.base);
                (base + off, word(off))
            })
            .collect(),
    };
    Ok(UnitParts {
        exports,
        stats,
        entry: runtime::Entry::lookup(cx.host),
        dso_handle: base + entry.dso_handle,
        lifecycle,
        no_exec: opts.no_exec,
        deps: Vec::new(),
        lazy: None,
        summary,
        groups: entry.groups.clone(),
        tls: Default::default(),
        gdb: Vec::new(),
        perf: None,
        entry_point: entry.entry_point.map(|(a, m)| moved(a, m)),
        data: (base + entry.rodata.1, base + entry.got),
        reloadable: None,
    })
}

/// Where `image` (the unit at `base`) holds addresses, each with where
/// it lies (`lies`; `None` refuses the unit): the absolute fields the
/// relocations wrote, the GOT slots, the trampolines' targets, objdl's own
/// slots and `__dso_handle`; then the PC-relative fields that reach outside
/// the unit; and the addresses outside the unit among their values. `None`
/// if one lies in the executable, or in a field objdl cannot move.
fn address_words(
    capture: &Capture,
    parts: &UnitParts,
    image: &[u8],
    base: u64,
    lies: &dyn Fn(u64) -> Option<Lies>,
) -> Option<AddressWords> {
    let size = image.len() as u64;
    let mut found = AddressWords::default();
    let mut add = |off: u64, field: Field| -> Option<()> {
        let v = read_field(image, off, field)?;
        let at = lies(v)?;
        if at != CONSTANT {
            found.fixups.push((off, field_code(field)?, at));
            if at != IN_UNIT {
                found.reached.push(v);
            }
        }
        Some(())
    };
    for &(off, field) in &capture.abs_sites {
        add(off, field)?;
    }
    for &(addr, _) in &parts.summary.got_slots {
        add(addr - base, Field::W64)?;
    }
    for &(addr, _) in &parts.summary.trampolines {
        add(addr - base + arch::TRAMPOLINE_TARGET_AT as u64, Field::W64)?;
    }
    for &off in capture.words.iter().chain([&(parts.dso_handle - base)]) {
        if off != 0 {
            add(off, Field::W64)?;
        }
    }
    for w in &capture.pc_writes {
        if w.target.wrapping_sub(base) < size {
            continue;
        }
        let at = lies(w.target)?;
        found
            .pc_fixups
            .push((w.at.wrapping_sub(base), field_code(w.field)?, at));
        if at != CONSTANT {
            found.reached.push(w.target);
        }
    }
    Some(found)
}

/// What [`address_words`] found.
#[derive(Default)]
struct AddressWords {
    /// (offset, field code, where its value lies) of each word to move.
    fixups: Vec<(u64, u8, Lies)>,
    /// The same, of each PC-relative field that reaches outside the unit.
    pc_fixups: Vec<(u64, u8, Lies)>,
    /// The addresses outside the unit among their values.
    reached: Vec<u64>,
}

/// What the cache makes of a load.
pub(super) enum Lookup {
    /// The unit, from its entry.
    Hit(Unit),
    /// A link, and no entry to write.
    Link,
    /// A link, whose entry is to be written under this key.
    Miss(Vec<u8>),
}

/// Looks `inputs` up in the cache of `opts`, if it has one.
///
/// # Safety
/// The unit's initialisers run on a hit (see `OpenOptions::open`).
pub(super) unsafe fn look_up(
    cx: &Context<'_>,
    inputs: &[crate::Input],
    opts: &OpenOptions,
) -> Result<Lookup> {
    let Some(dir) = opts.cache.as_deref().filter(|_| !opts.reloadable) else {
        return Ok(Lookup::Link);
    };
    cache::check_cache_dir(dir)?;
    let Some(key) = key(cx, inputs, opts) else {
        return Ok(Lookup::Link);
    };
    // SAFETY: forwarded from the caller.
    match unsafe { reuse(cx, dir, &key, opts)? } {
        Reused::Unit(unit) => return Ok(Lookup::Hit(unit)),
        Reused::Unusable => return Ok(Lookup::Link),
        Reused::Miss => {}
    }
    Ok(Lookup::Miss(key))
}

/// Writes the entry of a unit just linked, or, if it cannot be cached, an
/// entry that says so: later loads of its inputs then link without trying
/// again (nor forking to fill it).
pub(super) fn store(
    dir: &Path,
    key: Vec<u8>,
    capture: &Capture,
    mem: &Reservation,
    parts: &UnitParts,
    shape: (Tail, u64, u64, (u64, u64)),
) {
    if !try_store(dir, key.clone(), capture, mem, parts, shape) {
        cache::write(dir, &Entry::uncacheable(key), &[]);
    }
}

/// Writes the entry of a unit just linked, protected and not yet started,
/// if nothing ties it to this process but the shared libraries: every
/// address it holds lies in the unit, in a library, or in nothing mapped
/// (a constant), and none in the executable or the heap. Whether it was
/// (written, or given to be written).
fn try_store(
    dir: &Path,
    key: Vec<u8>,
    capture: &Capture,
    mem: &Reservation,
    parts: &UnitParts,
    (tail, size, text_end, rodata): (Tail, u64, u64, (u64, u64)),
) -> bool {
    let why = |w: &str| {
        debug("not stored", w);
        false
    };
    if let Some(what) = capture.refused {
        return why(what);
    }
    if !parts.gdb.is_empty() || parts.perf.is_some() {
        return why("a debugger or the perf map wants the objects");
    }
    let base = mem.base();
    let all = cache::modules();
    let mut modules: Vec<Module> = all.iter().filter(|m| m.library).cloned().collect();
    let holds = |m: &Module, a: u64| m.ranges.iter().any(|&(lo, hi)| (lo..hi).contains(&a));
    // Where an address lies: in the unit, in a library; one in the
    // executable or the vDSO ties the unit to this process (`None`); one
    // in nothing mapped is a constant. (Heap addresses come only from
    // definitions, Global units, stand-ins and copies, which keep a unit
    // out.)
    let lies = |a: u64| -> Option<Lies> {
        if a.wrapping_sub(base) < size {
            return Some(IN_UNIT);
        }
        if let Some(i) = modules.iter().position(|m| holds(m, a)) {
            return Lies::try_from(i + 1).ok().filter(|&l| l != CONSTANT);
        }
        match all.iter().any(|m| holds(m, a)) {
            true => None,
            false => Some(CONSTANT),
        }
    };
    if let Some(a) = capture
        .external
        .iter()
        .find(|&&a| matches!(lies(a), None | Some(CONSTANT)))
    {
        let m = all.iter().find(|m| holds(m, *a));
        return why(&format!("external {a:#x} in {:?}", m.map(|m| &m.path)));
    }
    // Every page of the unit is readable after `protect`, and no code of
    // it has run yet.
    let image = &mem.bytes()[..size as usize];
    let Some(AddressWords {
        mut fixups,
        mut pc_fixups,
        reached,
    }) = address_words(capture, parts, image, base, &lies)
    else {
        return why("an address field objdl cannot move");
    };
    let referenced: Vec<bool> = modules
        .iter()
        .map(|m| {
            capture
                .external
                .iter()
                .chain(&reached)
                .any(|&a| holds(m, a))
        })
        .collect();
    // Grouped by where their targets lie, so that a hit moves a group by
    // one distance, or leaves it alone.
    fixups.sort_unstable_by_key(|&(off, code, lies)| (lies, off, code));
    fixups.dedup();
    pc_fixups.sort_unstable_by_key(|&(off, code, lies)| (lies, off, code));
    pc_fixups.dedup();
    let s = &parts.stats;
    let mut export_names = String::new();
    let mut exports = Vec::new();
    for (n, a) in parts.exports.iter() {
        let start = export_names.len() as u32;
        export_names.push_str(n);
        let end = export_names.len() as u32;
        exports.push((start..end, a, lies(a).unwrap_or(CONSTANT)));
    }
    let entry_point = parts.entry_point.map(|a| (a, lies(a).unwrap_or(CONSTANT)));
    for (m, r) in modules.iter_mut().zip(referenced) {
        m.referenced = r;
    }
    let entry = Entry {
        key,
        base,
        size,
        align: capture.align.max(1),
        text_end,
        rodata,
        got: tail.got,
        trampolines: tail.trampolines,
        dso_handle: parts.dso_handle - base,
        entry_point,
        exports,
        export_names,
        tables: capture.tables.clone(),
        eh_frames: capture.eh_frames.clone(),
        stats: [
            s.objects as u64,
            s.sections as u64,
            s.relocations,
            s.trampolines as u64,
            s.got_slots as u64,
            s.relaxations,
            s.address_rewrites,
            s.window.0,
            s.window.1,
        ],
        by_type: parts.summary.by_type.clone(),
        trampoline_list: parts.summary.trampolines.clone(),
        got_list: parts.summary.got_slots.clone(),
        groups: parts.groups.clone(),
        names: capture.names.clone(),
        fixups,
        pc_fixups,
        modules,
    };
    cache::write(dir, &entry, image);
    true
}
