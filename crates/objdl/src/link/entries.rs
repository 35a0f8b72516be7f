//! A reloadable unit at link time ([`crate::OpenOptions::reloadable`]),
//! after resolution: every function is reached through its entry
//! ([`crate::load::entries`]), and on a reload the data that the new
//! objects share with the old ones keeps its storage.
//!
//! [`bind`] gives each function (a `SymbolKind::Function` symbol at the start of
//! code) the entry of its object and name, making one if it is new, and
//! makes the entry's stub the function's target: for calls and address
//! references from every object, exports and the entry point alike. A
//! reference to a `static` function goes through its section's symbol
//! (`.text+0x40`); those that refer to a function's start are rewritten to
//! name the function ([`arch::referenced_offset`]), so that a running loop
//! in old code also calls the new version of a `static` helper. `.eh_frame`
//! and debug sections keep their direct references.
//!
//! Data is kept by section: a writable `.data*`/`.bss*` section whose name,
//! size and named variables (name, offset, size) are those of the same
//! object's section before is not loaded again; every symbol in it,
//! local or global, is bound to the old storage, and its relocations are
//! not applied, so the old values stay. A section that changed is loaded
//! fresh, with its initial values; in it, a global variable of the same
//! name and size as before still keeps its old storage. What was kept, new
//! and reset is reported ([`Kept`]).

use rustc_hash::{FxHashMap, FxHashSet};

use crate::arch;
use crate::error::Result;
use crate::input::{ObjectFile, RelocFields, SectionKind, SymbolDef, SymbolKind};
use crate::link::resolution::{Resolution, Target};
use crate::link::unit_layout::{Layout, NOT_LOADED};
use crate::load::entries::{DataMap, DataSection, EntryTable, KeptTls, ObjectData, TlsSignature};

/// What [`bind`] decided, for after placement.
#[derive(Debug, Default)]
pub(crate) struct Bound {
    /// (entry, the function's own target): the slots to fill.
    pub functions: Vec<(u32, Target)>,
    /// (object, section) kept → the old section's address.
    pub kept_sections: FxHashMap<(u32, u32), u64>,
    /// What was kept, new and reset.
    pub kept: Kept,
    /// The unit's thread-locals as this link has them.
    pub tls_signature: TlsSignature,
    /// The block of the link before, when this link's is the same: its
    /// (module id, static offset) are used again, so the values stay.
    pub kept_tls: Option<(u64, Option<i64>)>,
    /// A reload (not the first link): only the objects in `initialise` run
    /// their initialisers.
    pub reload: bool,
    /// On a reload, the objects whose variables are all new: their
    /// initialisers run (dynamic initialisation of new C++ objects).
    pub initialise: FxHashSet<u32>,
}

/// The data of a reload, compared with what it replaces.
#[derive(Debug, Default, Clone)]
pub(crate) struct Kept {
    /// Variables that kept their storage and value.
    pub kept: Vec<String>,
    /// Their bytes (whole sections, for sections kept whole).
    pub kept_bytes: u64,
    /// Variables that did not exist before: initialised.
    pub new: Vec<String>,
    /// Variables that existed but could not be kept: reset to their
    /// initial values, each with why.
    pub reset: Vec<String>,
}

/// Binds the functions of `objects` to their entries in `table`, and their
/// data to `old` (the same objects' data before a reload, else empty).
pub(crate) fn bind(
    objects: &mut [ObjectFile<'_>],
    res: &mut Resolution<'_>,
    table: &mut EntryTable,
    old: &DataMap,
) -> Result<Bound> {
    let mut bound = Bound {
        tls_signature: tls_signature(objects),
        reload: !old.objects.is_empty(),
        ..Bound::default()
    };
    bound.kept_tls = old
        .tls
        .as_ref()
        .filter(|k| k.signature == bound.tls_signature)
        .map(|k| (k.module_id, k.block));
    // (object, section, offset) of a function's start → its entry's stub.
    let mut stubs: FxHashMap<(u32, u32, u64), u64> = FxHashMap::default();
    // (object, section, offset) of a kept global variable → its old address.
    let mut kept_globals: FxHashMap<(u32, u32, u64), u64> = FxHashMap::default();
    for (oi, obj) in objects.iter_mut().enumerate() {
        let functions = functions_of(obj);
        for ((sec, value), syms) in &functions {
            let names: Vec<String> = syms.iter().map(|&s| obj.symbol_name(s)).collect();
            let existing = names.iter().find_map(|n| table.find(&obj.name, n));
            let entry = match existing {
                Some(e) => e,
                None => table.entry(&obj.name, &names[0])?,
            };
            for n in &names {
                table.alias(&obj.name, n, entry);
            }
            stubs.insert((oi as u32, *sec, *value), table.stub(entry));
            let size = obj.symbols[syms[0] as usize].size;
            bound.functions.push((
                entry,
                Target::Section {
                    obj: oi as u32,
                    sec: *sec,
                    value: *value,
                    size,
                },
            ));
        }
        name_function_starts(obj, &functions);
        let kept_before = (
            bound.kept_sections.len(),
            kept_globals.len(),
            bound.kept.kept.len(),
        );
        let fresh_before = bound.kept.new.len() + bound.kept.reset.len();
        if let Some(before) = old.objects.get(&obj.name) {
            keep_data(obj, oi as u32, before, &mut bound, &mut kept_globals);
        } else if !old.objects.is_empty() {
            // An object new to the unit: all its data is new.
            for (_, name, _) in named_variables(obj) {
                bound.kept.new.push(name);
            }
        }
        // On a reload, an object whose data is all new (none kept) is
        // initialised: its constructors make its new C++ objects. One that
        // kept data, or has no new variable, is not.
        let kept_some = kept_before
            != (
                bound.kept_sections.len(),
                kept_globals.len(),
                bound.kept.kept.len(),
            );
        let fresh = bound.kept.new.len() + bound.kept.reset.len() > fresh_before;
        if !old.objects.is_empty() && fresh && !kept_some {
            bound.initialise.insert(oi as u32);
        }
    }
    redirect_targets(objects, res, &bound, &stubs, &kept_globals);
    for &(oi, si) in bound.kept_sections.keys() {
        objects[oi as usize].sections[si as usize].discarded = true;
    }
    Ok(bound)
}

/// Makes every reference to a function's start its entry's stub, and
/// every reference into kept data the old storage: the targets of every
/// object's symbols, the exports and the entry point.
fn redirect_targets(
    objects: &[ObjectFile<'_>],
    res: &mut Resolution<'_>,
    bound: &Bound,
    stubs: &FxHashMap<(u32, u32, u64), u64>,
    kept_globals: &FxHashMap<(u32, u32, u64), u64>,
) {
    // `named`: the symbol names what lies at its address (a function, a
    // kept global), not a section or a label that happens to share it: a
    // section's symbol (offset 0) must not follow a function or variable
    // at its start.
    let redirect = |t: Target, named: bool| -> Option<Target> {
        let Target::Section {
            obj,
            sec,
            value,
            size,
        } = t
        else {
            return None;
        };
        let kept_global = kept_globals.get(&(obj, sec, value)).filter(|_| named);
        if let Some(&old) = kept_global {
            return Some(Target::Absolute {
                addr: old,
                size,
                code: false,
            });
        }
        if let Some(&old) = bound.kept_sections.get(&(obj, sec)) {
            return Some(Target::Absolute {
                addr: old + value,
                size,
                code: false,
            });
        }
        if !named {
            return None;
        }
        let stub = *stubs.get(&(obj, sec, value))?;
        Some(Target::Absolute {
            addr: stub,
            size,
            code: true,
        })
    };
    for (oi, obj) in objects.iter().enumerate() {
        for (si, sym) in obj.symbols.iter().enumerate() {
            let entry = res.targets.entry(oi, si);
            // A local symbol names a function or variable only as one
            // (not as its section's symbol or a label at its start); a
            // global one's definition is what it names.
            let named =
                entry.is_some() || matches!(sym.kind, SymbolKind::Function | SymbolKind::Data);
            let t = entry.unwrap_or_else(|| res.targets.get(obj, oi, si));
            if let Some(new) = redirect(t, named) {
                res.targets.set_any(oi, si, new);
            }
        }
    }
    for (_, t) in res.exports.iter_mut() {
        *t = redirect(*t, true).unwrap_or(*t);
    }
    for (_, t) in res.versioned_exports.iter_mut() {
        *t = redirect(*t, true).unwrap_or(*t);
    }
    if let Some(t) = res.entry {
        res.entry = Some(redirect(t, true).unwrap_or(t));
    }
}

/// The functions of `obj`: (section, offset) of each start in loaded code
/// → the `SymbolKind::Function` symbols there, with a name.
fn functions_of(obj: &ObjectFile<'_>) -> Vec<((u32, u64), Vec<u32>)> {
    let mut at: FxHashMap<(u32, u64), usize> = FxHashMap::default();
    let mut list: Vec<((u32, u64), Vec<u32>)> = Vec::new();
    for (si, sym) in obj.symbols.iter().enumerate() {
        let SymbolDef::Section { index, value } = sym.def else {
            continue;
        };
        let sec = &obj.sections[index as usize];
        if sym.kind != SymbolKind::Function || sec.kind != SectionKind::Text || sec.discarded {
            continue;
        }
        if obj.symbol_name(si as u32).is_empty() {
            continue;
        }
        let i = *at.entry((index, value)).or_insert_with(|| {
            list.push(((index, value), Vec::new()));
            list.len() - 1
        });
        list[i].1.push(si as u32);
    }
    list
}

/// Rewrites the relocations of `obj`'s code and data that refer to a
/// function's start through its section's symbol to name the function.
fn name_function_starts(obj: &mut ObjectFile<'_>, functions: &[((u32, u64), Vec<u32>)]) {
    if functions.is_empty() {
        return;
    }
    let starts: FxHashMap<(u32, u64), u32> =
        functions.iter().map(|(at, syms)| (*at, syms[0])).collect();
    let sections: FxHashSet<u32> = starts.keys().map(|&(sec, _)| sec).collect();
    // The section symbols of sections with functions: symbol → section.
    let section_symbols: FxHashMap<u32, u32> = obj
        .symbols
        .iter()
        .enumerate()
        .filter_map(|(si, s)| match s.def {
            SymbolDef::Section { index, value: 0 }
                if s.kind == SymbolKind::Section && sections.contains(&index) =>
            {
                Some((si as u32, index))
            }
            _ => None,
        })
        .collect();
    if section_symbols.is_empty() {
        return;
    }
    for sec in obj.sections.iter_mut() {
        if !matches!(
            sec.kind,
            SectionKind::Text | SectionKind::ReadOnly | SectionKind::Data | SectionKind::Table(_)
        ) || sec.discarded
        {
            continue;
        }
        let data = sec.data;
        let rewrite = |r: &crate::input::Reloc| -> Option<(u32, i64)> {
            let &target_sec = section_symbols.get(&r.sym())?;
            let addend = r.addend(data);
            let off = arch::referenced_offset(r.kind(), addend)?;
            let at = u64::try_from(off).ok()?;
            let &f = starts.get(&(target_sec, at))?;
            Some((f, addend - off))
        };
        if !sec.relocs.iter().any(|r| rewrite(r).is_some()) {
            continue;
        }
        for r in sec.relocs.to_mut().iter_mut() {
            if let Some((f, addend)) = rewrite(r) {
                r.retarget(f, addend);
            }
        }
    }
}

/// Whether section `sec` of `obj` holds data a reload may keep: writable,
/// loaded, not empty, and named as the compiler names data (not a section collected
/// by name across objects, whose `__start_`/`__stop_` bounds would move).
fn is_keepable(obj: &ObjectFile<'_>, sec: u32) -> bool {
    let s = &obj.sections[sec as usize];
    matches!(s.kind, SectionKind::Data | SectionKind::Bss)
        && !s.discarded
        && s.size > 0
        && (s.name.starts_with(".data") || s.name.starts_with(".bss"))
}

/// (section, name, offset, size) of the named variables (`Data`,
/// `ThreadLocal` and `Common` symbols) of `obj`, as (section or `u32::MAX`, name,
/// (offset, size)).
fn named_variables(obj: &ObjectFile<'_>) -> Vec<(u32, String, (u64, u64))> {
    obj.symbols
        .iter()
        .enumerate()
        .filter(|(_, s)| {
            matches!(
                s.kind,
                SymbolKind::Data | SymbolKind::ThreadLocal | SymbolKind::Common
            )
        })
        .filter_map(|(si, s)| {
            let name = obj.symbol_name(si as u32);
            if name.is_empty() {
                return None;
            }
            Some(match s.def {
                SymbolDef::Section { index, value } => (index, name, (value, s.size)),
                SymbolDef::Common { .. } => (u32::MAX, name, (0, s.size)),
                _ => return None,
            })
        })
        .collect()
}

/// `vars` ([`named_variables`]) by section, each list sorted.
fn variables_by_section(
    vars: &[(u32, String, (u64, u64))],
) -> FxHashMap<u32, Vec<(String, u64, u64)>> {
    let mut by_section: FxHashMap<u32, Vec<(String, u64, u64)>> = FxHashMap::default();
    for (sec, name, (value, size)) in vars {
        by_section
            .entry(*sec)
            .or_default()
            .push((name.clone(), *value, *size));
    }
    for list in by_section.values_mut() {
        list.sort();
    }
    by_section
}

/// Decides which of `obj`'s data keeps `before`'s storage: sections kept
/// whole, else global variables of the same name and size.
fn keep_data(
    obj: &ObjectFile<'_>,
    oi: u32,
    before: &ObjectData,
    bound: &mut Bound,
    kept_globals: &mut FxHashMap<(u32, u32, u64), u64>,
) {
    let vars = named_variables(obj);
    let mut by_section = variables_by_section(&vars);
    // (name, section, offset) of each global definition.
    let globals: FxHashSet<(&str, u32, u64)> = obj
        .symbols
        .iter()
        .filter(|s| !s.is_local() && !s.name.is_empty())
        .filter_map(|s| match s.def {
            SymbolDef::Section { index, value } => Some((s.name, index, value)),
            _ => None,
        })
        .collect();
    // The old sections of each name, in order; each is matched once.
    let mut old_by_name: FxHashMap<&str, std::collections::VecDeque<&DataSection>> =
        FxHashMap::default();
    for old in &before.sections {
        old_by_name.entry(&old.name).or_default().push_back(old);
    }
    let kept = &mut bound.kept;
    for (si, sec) in obj.sections.iter().enumerate() {
        let si = si as u32;
        if !is_keepable(obj, si) {
            continue;
        }
        let symbols = by_section.remove(&si).unwrap_or_default();
        let candidate = old_by_name.get_mut(sec.name).and_then(|q| q.pop_front());
        let same = candidate.filter(|old| old.size == sec.size && old.symbols == symbols);
        if let Some(old) = same {
            bound.kept_sections.insert((oi, si), old.addr);
            // Its globals that live in older storage stay there.
            for &(value, addr) in &old.moved {
                kept_globals.insert((oi, si, value), addr);
            }
            kept.kept_bytes += sec.size;
            kept.kept.extend(symbols.into_iter().map(|(n, _, _)| n));
            continue;
        }
        for (name, value, size) in symbols {
            let sym_is_global = globals.contains(&(name.as_str(), si, value));
            match before.globals.get(&name) {
                Some(&(addr, old_size)) if sym_is_global && old_size == size => {
                    kept_globals.insert((oi, si, value), addr);
                    kept.kept_bytes += size;
                    kept.kept.push(name);
                }
                Some(&(_, old_size)) if old_size != size => kept
                    .reset
                    .push(format!("{name} (size {old_size} -> {size})")),
                _ if before.names.contains(&name) => kept.reset.push(format!(
                    "{name} (a static in a section whose layout changed)"
                )),
                _ => kept.new.push(name),
            }
        }
    }
    let tls_kept = bound.kept_tls.is_some();
    for (sec, name, (_, size)) in &vars {
        if *sec == u32::MAX || !is_keepable(obj, *sec) {
            let why = match obj.sections.get(*sec as usize).map(|s| s.kind) {
                Some(SectionKind::Tls { .. }) if tls_kept => {
                    kept.kept.push(name.clone());
                    kept.kept_bytes += size;
                    continue;
                }
                Some(SectionKind::Tls { .. }) => {
                    "thread-local: the unit's thread-locals changed layout"
                }
                Some(SectionKind::ReadOnly | SectionKind::Text) => continue,
                _ => "COMMON or a section objdl does not keep",
            };
            if before.names.contains(name) {
                kept.reset.push(format!("{name} ({why})"));
            } else {
                kept.new.push(name.clone());
            }
        }
    }
}

/// The thread-locals of `objects`: per object, its TLS sections in order,
/// with their named variables. Two links with the same signature lay out
/// the same block.
fn tls_signature(objects: &[ObjectFile<'_>]) -> TlsSignature {
    let mut signature = Vec::new();
    for obj in objects {
        let has_tls = obj
            .sections
            .iter()
            .any(|s| matches!(s.kind, SectionKind::Tls { .. }) && !s.discarded);
        if !has_tls {
            continue;
        }
        let mut by_section = variables_by_section(&named_variables(obj));
        let sections = obj
            .sections
            .iter()
            .enumerate()
            .filter(|(_, s)| matches!(s.kind, SectionKind::Tls { .. }) && !s.discarded)
            .map(|(si, s)| {
                let vars = by_section.remove(&(si as u32)).unwrap_or_default();
                (s.name.to_string(), s.size, s.align, vars)
            })
            .collect();
        signature.push((obj.name.clone(), sections));
    }
    signature
}

/// What a link's data became, for the next reload to compare with: per
/// object, its keepable sections and global variables, at their addresses
/// in the unit at `base` (or the old ones, where kept), and its thread-local
/// block (`tls`: module id and static offset, none without thread-locals).
pub(crate) fn record(
    objects: &[ObjectFile<'_>],
    res: &Resolution<'_>,
    layout: &Layout,
    (base, tls): (u64, (u64, Option<i64>)),
    bound: &Bound,
) -> DataMap {
    let mut map = DataMap {
        tls: (layout.tls.size > 0).then(|| KeptTls {
            signature: bound.tls_signature.clone(),
            module_id: tls.0,
            block: tls.1,
        }),
        ..DataMap::default()
    };
    for (oi, obj) in objects.iter().enumerate() {
        let oi32 = oi as u32;
        let vars = named_variables(obj);
        let mut by_section = variables_by_section(&vars);
        let mut data = ObjectData::default();
        // Section index → its place in `data.sections`.
        let mut section_at: FxHashMap<u32, usize> = FxHashMap::default();
        for (si, sec) in obj.sections.iter().enumerate() {
            let si = si as u32;
            let kept = bound.kept_sections.get(&(oi32, si)).copied();
            let offset = layout.sec_offsets[oi][si as usize];
            let addr = match kept {
                Some(addr) => addr,
                None if is_keepable(obj, si) && offset != NOT_LOADED => base + offset,
                None => continue,
            };
            let symbols = by_section.remove(&si).unwrap_or_default();
            data.sections.push(DataSection {
                name: sec.name.to_string(),
                addr,
                size: sec.size,
                symbols,
                moved: Vec::new(),
            });
            section_at.insert(si, data.sections.len() - 1);
        }
        for (si, sym) in obj.symbols.iter().enumerate() {
            if sym.is_local() || sym.kind != SymbolKind::Data || sym.name.is_empty() {
                continue;
            }
            let SymbolDef::Section { index, value } = sym.def else {
                continue;
            };
            let Some(&at) = section_at.get(&index) else {
                continue;
            };
            let t = res.targets.get(obj, oi, si);
            let addr = layout.address(t, res, base);
            if addr == 0 {
                continue;
            }
            data.globals.insert(sym.name.to_string(), (addr, sym.size));
            let section = &mut data.sections[at];
            if section.addr.checked_add(value) != Some(addr) {
                section.moved.push((value, addr));
            }
        }
        data.names = vars.into_iter().map(|(_, n, _)| n).collect();
        map.objects.insert(obj.name.clone(), data);
    }
    map
}

/// What an edit changed in an object: the functions whose code (bytes and
/// what their relocations refer to) differs, and those added and removed,
/// each list sorted. References through a section symbol are described
/// by what they reach (a function's name, a string's text), so that code
/// moving elsewhere in its section is not taken for a change.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Changes {
    pub changed: Vec<String>,
    pub added: Vec<String>,
    pub removed: Vec<String>,
}

/// [`Changes`] from `old` to `new`, two versions of one object.
pub(crate) fn changes(old: &ObjectFile<'_>, new: &ObjectFile<'_>) -> Changes {
    let before = fingerprints(old);
    let after = fingerprints(new);
    let mut c = Changes::default();
    for (name, print) in &after {
        match before.get(name) {
            None => c.added.push(name.clone()),
            Some(p) if p != print => c.changed.push(name.clone()),
            Some(_) => {}
        }
    }
    c.removed = before
        .keys()
        .filter(|n| !after.contains_key(*n))
        .cloned()
        .collect();
    for list in [&mut c.changed, &mut c.added, &mut c.removed] {
        list.sort();
    }
    c
}

/// Each named function of `obj` → a hash of its bytes and of what its
/// relocations refer to.
fn fingerprints(obj: &ObjectFile<'_>) -> FxHashMap<String, u64> {
    use std::hash::{Hash, Hasher};
    let functions = functions_of(obj);
    // Per section, its functions' ranges by start: (start, end, index).
    let mut ranges: FxHashMap<u32, Vec<(u64, u64, usize)>> = FxHashMap::default();
    let mut hashers: Vec<rustc_hash::FxHasher> = Vec::with_capacity(functions.len());
    let starts: FxHashMap<(u32, u64), u32> =
        functions.iter().map(|(at, syms)| (*at, syms[0])).collect();
    // Per section (by index), its named variables: (offset, size, symbol),
    // sorted.
    let mut objects_at: Vec<VariablesAt> = vec![Vec::new(); obj.sections.len()];
    for (si, sym) in obj.symbols.iter().enumerate() {
        if let (SymbolKind::Data, SymbolDef::Section { index, value }) = (sym.kind, sym.def) {
            objects_at[index as usize].push((value, sym.size, si as u32));
        }
    }
    for list in objects_at.iter_mut() {
        list.sort_unstable();
    }
    for (i, ((sec, value), syms)) in functions.iter().enumerate() {
        let size = obj.symbols[syms[0] as usize].size;
        let data = obj.sections[*sec as usize].data;
        let mut h = rustc_hash::FxHasher::default();
        let lo = (*value as usize).min(data.len());
        let hi = (value.saturating_add(size) as usize).min(data.len());
        data[lo..hi].hash(&mut h);
        hashers.push(h);
        ranges
            .entry(*sec)
            .or_default()
            .push((*value, value.saturating_add(size), i));
    }
    for (sec, list) in ranges.iter_mut() {
        list.sort_unstable();
        for r in obj.sections[*sec as usize].relocs.iter() {
            let off = r.offset();
            let at = list.partition_point(|&(start, _, _)| start <= off);
            let Some(&(start, end, i)) = at.checked_sub(1).map(|k| &list[k]) else {
                continue;
            };
            if off >= end {
                continue;
            }
            let h = &mut hashers[i];
            (off - start).hash(h);
            r.kind().0.hash(h);
            let data = obj.sections[*sec as usize].data;
            hash_reference(obj, (r, data), (&starts, &objects_at), h);
        }
    }
    functions
        .iter()
        .zip(hashers)
        .map(|((_, syms), h)| (obj.symbol_name(syms[0]), h.finish()))
        .collect()
}

/// A section's named variables: (offset, size, symbol), sorted.
type VariablesAt = Vec<(u64, u64, u32)>;

/// The name of symbol `sym` of `obj`, as bytes, without allocating (the
/// string table's, for a local symbol).
fn raw_name<'d>(obj: &ObjectFile<'d>, sym: u32) -> &'d [u8] {
    let s = &obj.symbols[sym as usize];
    if !s.name.is_empty() {
        return s.name.as_bytes();
    }
    let rest = obj.strtab.get(s.name_offset as usize..).unwrap_or(&[]);
    rest.split(|&b| b == 0).next().unwrap_or(&[])
}

/// Hashes what relocation `r` of `obj` (in a section holding `data`) refers to, in words that do not
/// depend on where things lie in their sections: a symbol's name and the
/// addend, or, through a section's symbol or a local label, the function
/// that starts there, the string there, the variable there, the constant
/// there, else the section's name and the offset. Allocates nothing: it
/// runs for every relocation of the input, twice per reload.
fn hash_reference(
    obj: &ObjectFile<'_>,
    (r, data): (&crate::input::Reloc, &[u8]),
    (starts, objects_at): (&FxHashMap<(u32, u64), u32>, &[VariablesAt]),
    h: &mut rustc_hash::FxHasher,
) {
    use std::hash::Hash;
    let addend = r.addend(data);
    let Some(sym) = obj.symbols.get(r.sym() as usize) else {
        return addend.hash(h);
    };
    let name = raw_name(obj, r.sym());
    let SymbolDef::Section { index, value } = sym.def else {
        return (name, addend).hash(h);
    };
    // A section's symbol, or an assembler's local label (`.LC0`, kept for
    // mergeable strings): described by what lies there.
    if sym.kind != SymbolKind::Section && !(sym.is_local() && name.starts_with(b".L")) {
        return (name, addend).hash(h);
    }
    let section = &obj.sections[index as usize];
    let bias = arch::referenced_offset(r.kind(), addend).map_or(0, |o| o - addend);
    let at = addend.saturating_add(bias).saturating_add_unsigned(value);
    (-bias).hash(h);
    let Ok(at) = u64::try_from(at) else {
        return (section.name, at).hash(h);
    };
    if section.kind == SectionKind::Text {
        if let Some(&f) = starts.get(&(index, at)) {
            return (0u8, raw_name(obj, f)).hash(h);
        }
    }
    if section.name.starts_with(".rodata.str") {
        let rest = section.data.get(at as usize..).unwrap_or(&[]);
        return (1u8, rest.split(|&b| b == 0).next().unwrap_or(&[])).hash(h);
    }
    // A variable (a `static` reached through its section): its name.
    if let Some(list) = objects_at.get(index as usize).filter(|l| !l.is_empty()) {
        let k = list.partition_point(|&(start, _, _)| start <= at);
        if let Some(&(start, size, var)) = k.checked_sub(1).map(|k| &list[k]) {
            if at < start + size.max(1) {
                return (2u8, raw_name(obj, var), at - start).hash(h);
            }
        }
    }
    // Merged constants (`.rodata.cst8`...): their bytes.
    if let Some(width) = section
        .name
        .strip_prefix(".rodata.cst")
        .and_then(|w| w.parse::<usize>().ok())
    {
        let bytes = section.data.get(at as usize..).unwrap_or(&[]);
        return (3u8, &bytes[..width.min(bytes.len())]).hash(h);
    }
    // Elsewhere, the place itself: a move reads as a change, never the
    // other way round.
    (4u8, section.name, at).hash(h)
}
