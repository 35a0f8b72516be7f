//! Stage 2, resolve: give every symbol of every object a [`Target`], once.
//!
//! Order: the unit's own definitions (strong over weak over COMMON), then the
//! exports of Global units, then the host's [`crate::Linker::define`]s, then what objdl supplies per unit (as
//! crt files and libc_nonshared.a do for a linked program), then `dlsym`.
//! Undefined weak symbols resolve to 0. Every unresolved symbol is reported
//! in one error. Local symbols are only ever seen by their own object.
//! What it makes, the [`Resolution`] and its parts, is defined in
//! `resolution.rs`.

use rustc_hash::{FxHashMap, FxHashSet};

use crate::arch::{self, ExternalFact};
use crate::hash::{KeyedMap, KeyedSet};

use crate::error::{Error, Result, Unresolved};
use crate::input::{
    Binding, ObjectFile, RelocFields, SectionKind, SymbolDef, SymbolKind, Visibility,
};
use crate::link::resolution::{
    local_target, Common, CopyCandidate, Resolution, Synthetic, SyntheticKey, Target, Targets,
    COPYABLE,
};
use crate::scope::host::{self, Host};
use crate::scope::namespace::{Held, Namespace};
use std::sync::Arc;

/// The id of a local symbol, which has no global name.
const NO_ID: u32 = u32::MAX;

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Strength {
    Common,
    Weak,
    Strong,
}

#[derive(Clone, Copy)]
struct Definition {
    obj: u32,
    sym: u32,
    strength: Strength,
    exported: bool,
}

/// Resolves every symbol of `objects`.
/// `entry` names the unit's entry point, found whatever its visibility
/// (see [`Resolution::entry`]). With `lazy`, names nothing defines are
/// listed in [`Resolution::lazy`] instead of being an error.
///
/// In order: groups another unit provides give way; one pass over every
/// symbol names the globals; the unit's own definitions (strong, weak,
/// COMMON) win first, then versioned aliases; what is left comes from
/// outside ([`external_targets`]); finally every global symbol gets its
/// target, and the unit its exports.
pub(crate) fn resolve<'d>(
    objects: &mut [ObjectFile<'d>],
    host: &Host,
    namespace: &Namespace,
    entry: Option<&str>,
    lazy: bool,
) -> Result<Resolution<'d>> {
    let section_redirects = discard_duplicate_groups(objects);
    let objects = &*objects;
    let (superseded, groups) = superseded_groups(objects, namespace);
    let (names, mut targets) = name_symbols(objects);
    let (mut defs, common_sizes) = own_definitions(objects, &names, &superseded, namespace)?;
    let versioned_exports = versioned_aliases(&names, &mut defs);
    let (commons, own) = storage_for_commons(objects, &names, &defs, &common_sizes);
    let external = external_targets(objects, &names, &defs, host, namespace);

    // The targets of global symbols (local ones have theirs).
    let unresolved = global_targets(
        objects,
        &names,
        &mut targets,
        &defs,
        &external.targets,
        &own,
    );
    // Lazy: every symbol of those names, for stubs (a pass of its own, so
    // that the loop above stays as it is without lazy binding).
    let mut lazy_refs = Vec::new();
    if !unresolved.is_empty() {
        if !lazy {
            return Err(Error::Unresolved(unresolved));
        }
        lazy_refs = lazy_symbols(objects, &names.globals, |id| {
            defs[id as usize].is_none() && external.targets[id as usize].is_none()
        });
    }

    // Their sizes are checked only if a copy is made (dladdr1 scans a
    // library's whole symbol table).
    let mut copyable: Vec<CopyCandidate> = Vec::new();
    for &name in COPYABLE {
        let ext = names
            .ids
            .get(name)
            .and_then(|&id| external.targets[id as usize]);
        if let Some(Target::Absolute { addr, .. }) = ext {
            copyable.push(CopyCandidate { addr });
        }
    }

    let exports: Vec<(&'d str, Target)> = defs
        .iter()
        .enumerate()
        .filter_map(|(id, d)| {
            let d = d.as_ref().filter(|d| d.exported)?;
            Some((names.names[id], own.target(d, id as u32)))
        })
        .collect();
    // The entry point, as ld finds `-e SYMBOL` (crt1.o's reference to
    // `main`): any global definition of the unit, hidden ones too.
    let entry = entry
        .and_then(|name| names.ids.get(name))
        .and_then(|&id| Some(own.target(defs[id as usize].as_ref()?, id)));
    let versioned_exports = versioned_exports
        .into_iter()
        .map(|(alias, id)| {
            let d = defs[id as usize].as_ref().expect("a definition");
            (alias, own.target(d, id))
        })
        .collect();

    Ok(Resolution {
        targets,
        commons,
        exports,
        versioned_exports,
        synthetics_used: external.synthetics_used,
        section_redirects,
        deps: external.deps,
        copyable,
        groups,
        ifuncs: names.ifuncs,
        bounds: external.bounds.names,
        initial_exec_names: Vec::new(),
        initial_exec: FxHashMap::default(),
        dynamic_tls: Vec::new(),
        entry,
        lazy: lazy_refs,
    })
}

/// Groups a Global unit already provides: this unit keeps its copies
/// (its own .eh_frame refers to them) but their global definitions give
/// way, so inline functions, vtables and typeinfo are one across units.
/// Returns the superseded (object, section)s, and the signatures of the
/// groups this unit provides.
fn superseded_groups(
    objects: &[ObjectFile<'_>],
    namespace: &Namespace,
) -> (FxHashSet<(u32, u32)>, Vec<String>) {
    let mut superseded: FxHashSet<(u32, u32)> = FxHashSet::default();
    let mut groups = Vec::new();
    for (oi, obj) in objects.iter().enumerate() {
        for (sig, members) in &obj.groups {
            if members.iter().any(|&m| obj.sections[m as usize].discarded) {
                continue;
            }
            if namespace.has_group(sig) {
                superseded.extend(members.iter().map(|&m| (oi as u32, m)));
            } else {
                groups.push(sig.to_string());
            }
        }
    }
    (superseded, groups)
}

/// The unit's global names, from one pass over every symbol.
struct Names<'d> {
    /// Each global name's id.
    ids: KeyedMap<&'d str, u32>,
    /// Each id's name.
    names: Vec<&'d str>,
    /// (object, symbol, name id) of every global symbol.
    globals: Vec<(u32, u32, u32)>,
    /// (name, version, object, symbol) of each `name@@VER` definition.
    default_versions: Vec<(&'d str, &'d str, u32, u32)>,
    /// The names that undefined thread-local symbols refer to.
    thread_local_names: FxHashSet<u32>,
    /// The names with a version (`name@VER`).
    versioned_names: FxHashSet<u32>,
    /// The IFUNC definitions' resolvers, and each one's index by
    /// (object, symbol).
    ifuncs: Vec<Target>,
    ifunc_index: FxHashMap<(u32, u32), u32>,
}

/// One pass over every symbol: local symbols get their target now; global
/// names get an id each (from here on, symbols refer to names by id);
/// IFUNC definitions, local or global, get a stub and a slot. Returns the
/// names, and the symbols' targets (local ones' already; global ones' to
/// be filled).
fn name_symbols<'d>(objects: &[ObjectFile<'d>]) -> (Names<'d>, Targets) {
    let mut n = Names {
        ids: KeyedMap::default(),
        names: Vec::new(),
        globals: Vec::new(),
        default_versions: Vec::new(),
        thread_local_names: FxHashSet::default(),
        versioned_names: FxHashSet::default(),
        ifuncs: Vec::new(),
        ifunc_index: FxHashMap::default(),
    };
    let mut targets = Targets::with_capacity(objects.len());
    for (oi, obj) in objects.iter().enumerate() {
        let special = &obj.special;
        n.ids.reserve(special.len());
        n.globals.reserve(special.len());
        targets.push_object(oi as u32, obj);
        for &si in special {
            let sym = &obj.symbols[si as usize];
            let oi = oi as u32;
            if sym.kind == SymbolKind::Indirect && matches!(sym.def, SymbolDef::Section { .. }) {
                n.ifunc_index.insert((oi, si), n.ifuncs.len() as u32);
                *targets
                    .entry_mut(oi as usize, si as usize)
                    .expect("an entry") = Target::Ifunc(n.ifuncs.len() as u32);
                n.ifuncs.push(local_target(oi, sym.def, sym.size));
            }
            if !sym.is_local() && !sym.name.is_empty() {
                // A definition of a default version, `name@@VER`, is a
                // definition of `name` (and, below, of `name@VER`), as
                // ld makes of it; every other name is taken whole.
                let version = if sym.versioned {
                    host::split_version(sym.name)
                } else {
                    None
                };
                let name = match version {
                    Some((base, version, true)) if sym.def != SymbolDef::Undefined => {
                        n.default_versions.push((base, version, oi, si));
                        base
                    }
                    _ => sym.name,
                };
                let names = &mut n.names;
                let id = *n.ids.entry(name).or_insert_with(|| {
                    names.push(name);
                    names.len() as u32 - 1
                });
                if sym.kind == SymbolKind::ThreadLocal && sym.def == SymbolDef::Undefined {
                    n.thread_local_names.insert(id);
                }
                // (A `name@@VER` definition defines `name`, without one.)
                if version.is_some() && name.len() == sym.name.len() {
                    n.versioned_names.insert(id);
                }
                n.globals.push((oi, si, id));
            }
        }
    }
    (n, targets)
}

/// The unit's own global definitions: per name id, the one that wins
/// (strong over weak over COMMON, the first of equals; two strong ones
/// are an error), and the largest size and alignment of its COMMON
/// symbols.
#[allow(clippy::type_complexity)]
fn own_definitions(
    objects: &[ObjectFile<'_>],
    names: &Names<'_>,
    superseded: &FxHashSet<(u32, u32)>,
    namespace: &Namespace,
) -> Result<(Vec<Option<Definition>>, Vec<(u64, u64)>)> {
    let mut defs: Vec<Option<Definition>> = (0..names.names.len()).map(|_| None).collect();
    let mut common_sizes: Vec<(u64, u64)> = vec![(0, 1); names.names.len()];
    for &(oi, si, id) in &names.globals {
        let (oi, si) = (oi as usize, si as usize);
        let obj = &objects[oi];
        let sym = &obj.symbols[si];
        if sym.def == SymbolDef::Undefined {
            continue;
        }
        let exported = matches!(sym.visibility, Visibility::Default | Visibility::Protected);
        if let SymbolDef::Section { index, .. } = sym.def {
            // A hidden member of a superseded group (such as
            // `DW.ref.__gxx_personality_v0`, which .eh_frame reaches
            // PC-relatively) is not exported by the Global unit: the
            // unit keeps its own, as each shared object does.
            if obj.sections[index as usize].discarded
                || (superseded.contains(&(oi as u32, index)) && exported)
            {
                continue; // the kept group's copy defines it
            }
        }
        if sym.bind == Binding::Unique && namespace.lookup(sym.name).is_some() {
            continue; // one definition per process: the first unit's
        }
        let strength = match (sym.def, sym.is_weak()) {
            (SymbolDef::Common { align }, _) => {
                let e = &mut common_sizes[id as usize];
                e.0 = e.0.max(sym.size);
                e.1 = e.1.max(align);
                Strength::Common
            }
            (_, true) => Strength::Weak,
            _ => Strength::Strong,
        };
        let new = Definition {
            obj: oi as u32,
            sym: si as u32,
            strength,
            exported,
        };
        match &mut defs[id as usize] {
            None => defs[id as usize] = Some(new),
            Some(old) => {
                if old.strength == Strength::Strong && strength == Strength::Strong {
                    return Err(Error::DuplicateSymbol {
                        symbol: sym.name.to_string(),
                        first: objects[old.obj as usize].name.clone(),
                        second: obj.name.clone(),
                    });
                }
                if strength > old.strength {
                    *old = new;
                }
            }
        }
    }
    Ok((defs, common_sizes))
}

/// `name@VER` names what a `name@@VER` definition defines, when that
/// definition is the one `name` resolves to (references to it may be in
/// the unit, and later units may ask for it). Returns the aliases that
/// nothing in the unit refers to, to export: (alias, name id).
fn versioned_aliases(names: &Names<'_>, defs: &mut [Option<Definition>]) -> Vec<(String, u32)> {
    let mut versioned_exports: Vec<(String, u32)> = Vec::new();
    for &(base, version, oi, si) in &names.default_versions {
        let base_id = names.ids[base];
        let chosen = defs[base_id as usize]
            .as_ref()
            .is_some_and(|d| (d.obj, d.sym) == (oi, si));
        if !chosen {
            continue;
        }
        let def = defs[base_id as usize].expect("chosen");
        if def.strength == Strength::Common {
            continue; // COMMON storage has no versions
        }
        let alias = format!("{base}@{version}");
        match names.ids.get(alias.as_str()) {
            // Referred to by that name: it is defined (and exported) as such.
            Some(&id) if defs[id as usize].is_none() => defs[id as usize] = Some(def),
            Some(_) => {}
            None if def.exported => versioned_exports.push((alias, base_id)),
            None => {}
        }
    }
    versioned_exports
}

/// COMMON symbols that no stronger definition replaced get storage: the
/// storage, and how to find each definition's target.
fn storage_for_commons<'a>(
    objects: &'a [ObjectFile<'_>],
    names: &'a Names<'_>,
    defs: &[Option<Definition>],
    common_sizes: &[(u64, u64)],
) -> (Vec<Common>, OwnTargets<'a>) {
    let mut commons = Vec::new();
    let mut common_index: Vec<u32> = vec![NO_ID; names.names.len()];
    for (id, def) in defs.iter().enumerate() {
        if def.as_ref().is_some_and(|d| d.strength == Strength::Common) {
            let (size, align) = common_sizes[id];
            common_index[id] = commons.len() as u32;
            commons.push(Common { size, align });
        }
    }
    let own = OwnTargets {
        objects,
        ifunc_index: &names.ifunc_index,
        common_index,
    };
    (commons, own)
}

/// The targets of the unit's own definitions.
struct OwnTargets<'a> {
    objects: &'a [ObjectFile<'a>],
    ifunc_index: &'a FxHashMap<(u32, u32), u32>,
    /// Per name id, its COMMON storage (or [`NO_ID`]).
    common_index: Vec<u32>,
}

impl OwnTargets<'_> {
    /// The target of definition `def` of name `id`.
    fn target(&self, def: &Definition, id: u32) -> Target {
        if def.strength == Strength::Common {
            return Target::Common(self.common_index[id as usize]);
        }
        let ifunc = if self.ifunc_index.is_empty() {
            None
        } else {
            self.ifunc_index.get(&(def.obj, def.sym))
        };
        match ifunc {
            Some(&i) => Target::Ifunc(i),
            None => {
                let sym = &self.objects[def.obj as usize].symbols[def.sym as usize];
                local_target(def.obj, sym.def, sym.size)
            }
        }
    }
}

/// What names the unit does not define resolve to.
struct External<'d> {
    /// Per name id: its target outside the unit, if found.
    targets: Vec<Option<Target>>,
    bounds: SectionBounds<'d>,
    synthetics_used: FxHashSet<SyntheticKey>,
    /// The Global units bound to, once each.
    deps: Vec<Held>,
}

/// Names without a definition here (undefined, or defined by a copy that
/// gave way to another unit's: a superseded group, an existing GNU_UNIQUE
/// symbol): the Global units, the host, then objdl's own, then dlsym (all
/// at once), then the executable's symbols.
fn external_targets<'d>(
    objects: &[ObjectFile<'d>],
    names: &Names<'d>,
    defs: &[Option<Definition>],
    host: &Host,
    namespace: &Namespace,
) -> External<'d> {
    let mut external = External {
        targets: vec![None; names.names.len()],
        bounds: SectionBounds::default(),
        synthetics_used: FxHashSet::default(),
        deps: Vec::new(),
    };
    let mut from_dlsym = Vec::new();
    let mut dep_set: FxHashSet<*const ()> = FxHashSet::default();
    for (id, &name) in names.names.iter().enumerate() {
        if defs[id].is_some() {
            continue;
        }
        external.targets[id] = if let Some((addr, unit)) = namespace.lookup(name) {
            if dep_set.insert(Arc::as_ptr(&unit).cast::<()>()) {
                external.deps.push(unit);
            }
            Some(Target::absolute(addr))
        } else if let Some(addr) = host.defined(name) {
            Some(Target::absolute(addr))
        } else if let Some(addr) =
            crate::load::tls::entry(name).or_else(|| crate::load::thread_exit::entry(name))
        {
            // objdl's `__tls_get_addr` (the unit's own TLS blocks, glibc's
            // for every other module), and the thread-exit registrations
            // that must not outlive the unit.
            Some(Target::absolute(addr))
        } else if let Some(t) = section_bound(objects, name, &mut external.bounds) {
            Some(t)
        } else if let Some(s) = Synthetic::by_name(name) {
            external.synthetics_used.insert(s as u8);
            Some(Target::Synthetic(s))
        } else if names.thread_local_names.contains(&(id as u32)) {
            Some(Target::DeferredTls)
        } else if names.versioned_names.contains(&(id as u32)) {
            // dlvsym, one at a time: versioned names are few.
            host.dlsym(name).map(Target::absolute)
        } else {
            from_dlsym.push(id as u32);
            None
        };
    }
    let mut asked = from_dlsym.iter();
    let targets = &mut external.targets;
    host.dlsym_many(
        from_dlsym.iter().map(|&id| names.names[id as usize]),
        |name, addr| {
            let id = *asked.next().expect("one answer per name");
            if let Some(addr) = addr.or_else(|| host.exe_symbol(name)) {
                targets[id as usize] = Some(Target::absolute(addr));
            }
        },
    );
    external
}

/// Gives every global symbol its target: its name's definition in the
/// unit, else outside it, else 0 for a weak reference. Returns the names
/// unresolved, each once, for the first input using it.
fn global_targets(
    objects: &[ObjectFile<'_>],
    names: &Names<'_>,
    targets: &mut Targets,
    defs: &[Option<Definition>],
    external: &[Option<Target>],
    own: &OwnTargets<'_>,
) -> Vec<Unresolved> {
    let mut unresolved = Vec::new();
    let mut reported = vec![false; names.names.len()];
    for &(oi, si, id) in &names.globals {
        let obj = &objects[oi as usize];
        let sym = &obj.symbols[si as usize];
        *targets
            .entry_mut(oi as usize, si as usize)
            .expect("an entry") = if let Some(def) = &defs[id as usize] {
            own.target(def, id)
        } else if let Some(ext) = external[id as usize] {
            ext
        } else if sym.is_weak() {
            Target::absolute(0)
        } else {
            if !std::mem::replace(&mut reported[id as usize], true) {
                unresolved.push(Unresolved {
                    symbol: sym.name.to_string(),
                    file: obj.name.clone(),
                });
            }
            Target::absolute(0)
        };
    }
    unresolved
}

/// The (object, symbol, name id) of `globals` whose name `undefined`
/// says nothing defines, weak ones aside: what lazy binding gives stubs.
/// Out of line: only a lazy open with such names gets here.
#[cold]
#[inline(never)]
fn lazy_symbols(
    objects: &[ObjectFile<'_>],
    globals: &[(u32, u32, u32)],
    undefined: impl Fn(u32) -> bool,
) -> Vec<(u32, u32, u32)> {
    globals
        .iter()
        .filter(|&&(oi, si, id)| {
            undefined(id) && !objects[oi as usize].symbols[si as usize].is_weak()
        })
        .copied()
        .collect()
}

/// The section names whose `__start_`/`__stop_` symbols the unit uses.
#[derive(Default)]
struct SectionBounds<'d> {
    /// The names of the sections the unit loads, found at the first
    /// `__start_`/`__stop_` name.
    loaded: Option<KeyedSet<&'d str>>,
    /// Each section name in `names`, and its index there.
    index: KeyedMap<&'d str, u32>,
    /// What [`Resolution::bounds`] becomes.
    names: Vec<String>,
}

/// `__start_NAME` / `__stop_NAME`, when the unit loads sections called NAME
/// and NAME is a C identifier (as GNU ld defines them).
fn section_bound<'d>(
    objects: &[ObjectFile<'d>],
    name: &'d str,
    bounds: &mut SectionBounds<'d>,
) -> Option<Target> {
    let (section, stop) = match (name.strip_prefix("__start_"), name.strip_prefix("__stop_")) {
        (Some(s), _) => (s, false),
        (_, Some(s)) => (s, true),
        _ => return None,
    };
    let c_identifier = section
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && section
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !c_identifier {
        return None;
    }
    let loaded = bounds.loaded.get_or_insert_with(|| {
        objects
            .iter()
            .flat_map(|o| &o.sections)
            .filter(|s| s.kind != SectionKind::Skip)
            .map(|s| s.name)
            .collect()
    });
    if !loaded.contains(section) {
        return None;
    }
    let names = &mut bounds.names;
    let index = *bounds.index.entry(section).or_insert_with(|| {
        names.push(section.to_string());
        names.len() as u32 - 1
    });
    Some(Target::Bound { index, stop })
}

/// Whether something outside the unit defines `name` for it: a Global
/// unit, the host, objdl, or the process (resolution's order after the
/// unit's own definitions; `__start_`/`__stop_` names are the unit's).
pub(crate) fn defined_outside(name: &str, host: &Host, namespace: &Namespace) -> bool {
    namespace.lookup(name).is_some()
        || host.defined(name).is_some()
        || crate::load::tls::entry(name).is_some()
        || crate::load::thread_exit::entry(name).is_some()
        || Synthetic::by_name(name).is_some()
        || name.starts_with("__start_")
        || name.starts_with("__stop_")
        || host.dlsym(name).is_some()
        || host.exe_symbol(name).is_some()
}

/// Whether `target` lies in a section discarded as a duplicate COMDAT member.
pub(crate) fn in_discarded_section(objects: &[ObjectFile<'_>], target: Target) -> bool {
    match target {
        Target::Section { obj, sec, .. } => objects[obj as usize].sections[sec as usize].discarded,
        _ => false,
    }
}

/// COMDAT: the first group with a signature wins; later groups' sections are
/// discarded. References into a discarded section are redirected to the kept
/// section with the same name (what `.eh_frame` and debug info expect).
fn discard_duplicate_groups(objects: &mut [ObjectFile<'_>]) -> FxHashMap<(u32, u32), (u32, u32)> {
    // The kept group of each signature: its object, and its members sorted
    // by name (stable: the first of a name comes first), to find twins.
    let mut kept: KeyedMap<&str, (u32, Vec<u32>)> = KeyedMap::default();
    let mut redirects = FxHashMap::default();
    for oi in 0..objects.len() {
        let groups = std::mem::take(&mut objects[oi].groups);
        for (sig, members) in &groups {
            match kept.get(sig) {
                None => {
                    let mut by_name = members.clone();
                    by_name.sort_by_key(|&m| objects[oi].sections[m as usize].name);
                    kept.insert(sig, (oi as u32, by_name));
                }
                Some((kobj, kmembers)) => {
                    for &m in members {
                        let name = objects[oi].sections[m as usize].name;
                        let kept_sections = &objects[*kobj as usize].sections;
                        let first =
                            kmembers.partition_point(|&k| kept_sections[k as usize].name < name);
                        let twin = kmembers
                            .get(first)
                            .filter(|&&k| kept_sections[k as usize].name == name);
                        if let Some(&k) = twin {
                            redirects.insert((oi as u32, m), (*kobj, k));
                        }
                        objects[oi].sections[m as usize].discarded = true;
                    }
                }
            }
        }
        objects[oi].groups = groups;
    }
    redirects
}

/// Adds what some relocations need to know of an external symbol (an
/// [`ExternalFact`]), found in one pass over the relocations (checked, with
/// the types in `kinds`, one bit set per object) and only where asked,
/// since dladdr1 and reading the maps are not free: its size for a size
/// relocation; whether it is code for a 32-bit absolute (an executable
/// mapping: dlsym returns an IFUNC's chosen implementation, which often has
/// no symbol of its own); and for a thread-local of another module reached
/// with the general-dynamic forms (a `tls_index` pair, a TLS descriptor, a
/// module id or offset), the module whose TLS block holds the address
/// dlsym gave for this thread, which is the pair glibc understands. Only
/// the planner needs these; a unit relocated without planning has none of
/// those types but the size relocations, whose size the relocation pass
/// looks up itself.
pub(crate) fn external_facts<'d>(
    objects: &[ObjectFile<'d>],
    res: &mut Resolution<'d>,
    kinds: &[u64],
) {
    let mut code_ranges: Option<Vec<(u64, u64)>> = None;
    let mut ie_ids: KeyedMap<&'d str, u32> = KeyedMap::default();
    // `kinds` has bit `i % 64` for the kind of dense index `i`.
    let fact_mask = (0..arch::KINDS)
        .map(arch::kind_of_index)
        .filter(|&kind| arch::external_fact(kind).is_some())
        .fold(0u64, |m, kind| m | 1 << (arch::count_index(kind) % 64));
    for ((oi, obj), &obj_kinds) in objects.iter().enumerate().zip(kinds) {
        if obj_kinds & fact_mask == 0 {
            continue;
        }
        for r in obj.sections.iter().flat_map(|s| s.relocs.iter()) {
            let Some(fact) = arch::external_fact(r.kind()) else {
                continue;
            };
            if obj.symbols[r.sym() as usize].is_local() {
                continue;
            }
            let Some(t) = res.targets.entry_mut(oi, r.sym() as usize) else {
                continue;
            };
            // Initial-exec: `ld.so` gives the offset, by name (see
            // `crate::load::shim`); the target stays as it is.
            let initial_exec = fact == ExternalFact::InitialExecTls;
            let thread_local = match *t {
                Target::ExternalTls { .. } | Target::DeferredTls => true,
                // dlsym gives this thread's copy of a thread-local variable.
                Target::Absolute { addr, .. } => addr != 0 && host::tls_module_of(addr).is_some(),
                _ => false,
            };
            if initial_exec && thread_local {
                let name = obj.symbols[r.sym() as usize].name;
                let next = res.initial_exec_names.len() as u32;
                let index = *ie_ids.entry(name).or_insert(next);
                if index == next {
                    res.initial_exec_names.push(name);
                }
                res.initial_exec.insert((oi as u32, r.sym()), index);
                continue;
            }
            if *t == Target::DeferredTls {
                res.dynamic_tls.push((oi as u32, r.sym()));
                continue;
            }
            let Target::Absolute { addr, size, code } = *t else {
                continue;
            };
            if addr == 0 {
                continue;
            }
            *t = match fact {
                ExternalFact::Size if size == 0 => {
                    let size = host::host_symbol(addr).map_or(0, |(s, _)| s);
                    Target::Absolute { addr, size, code }
                }
                ExternalFact::LowAbsolute => {
                    let ranges = code_ranges.get_or_insert_with(host::executable_ranges);
                    let code = ranges.iter().any(|&(lo, hi)| (lo..hi).contains(&addr));
                    Target::Absolute { addr, size, code }
                }
                ExternalFact::Size => continue,
                ExternalFact::InitialExecTls | ExternalFact::DynamicTls => {
                    match host::tls_module_of(addr) {
                        Some((module, offset)) => Target::ExternalTls { module, offset },
                        None => continue,
                    }
                }
            };
        }
    }
}

/// Looks up the thread-local variables of other modules that the unit
/// reaches with the general- or local-dynamic forms (see
/// [`Target::DeferredTls`]): once the modules that initial-exec code needs
/// in static TLS are there, `dlsym` gives this thread's copy, whose module
/// and offset the GOT pairs hold. Every one that no module defines is
/// reported (weak ones are 0).
pub(crate) fn dynamic_thread_locals(
    objects: &[ObjectFile<'_>],
    res: &mut Resolution<'_>,
    host: &Host,
) -> Result<()> {
    let mut unresolved: Vec<Unresolved> = Vec::new();
    // Each name once, without a scan of those reported so far.
    let mut reported: KeyedSet<&str> = KeyedSet::default();
    for &(oi, si) in &res.dynamic_tls {
        let obj = &objects[oi as usize];
        let sym = &obj.symbols[si as usize];
        let Some(t) = res.targets.entry_mut(oi as usize, si as usize) else {
            continue;
        };
        if *t != Target::DeferredTls {
            continue;
        }
        *t = match host.dlsym(sym.name).and_then(host::tls_module_of) {
            Some((module, offset)) => Target::ExternalTls { module, offset },
            None if sym.is_weak() => Target::absolute(0),
            None => {
                if reported.insert(sym.name) {
                    unresolved.push(Unresolved {
                        symbol: sym.name.to_string(),
                        file: obj.name.clone(),
                    });
                }
                continue;
            }
        };
    }
    if unresolved.is_empty() {
        Ok(())
    } else {
        Err(Error::Unresolved(unresolved))
    }
}
