//! What stage 2, resolution (`resolve.rs`), produces and every later
//! stage reads: the [`Resolution`] of a unit, with each symbol's [`Target`]
//! (kept in [`Targets`]), and the COMMON storage, synthetics, IFUNCs, copies
//! and exports the targets refer to. Plain data and its accessors; the logic
//! that fills it stays in `resolve.rs`.

use rustc_hash::{FxHashMap, FxHashSet};

use crate::input::{ObjectFile, SymbolDef};
use crate::scope::host;
use crate::scope::namespace::Held;

/// What objdl supplies to each unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Synthetic {
    /// `__dso_handle`: the unit's own handle for `__cxa_atexit`.
    DsoHandle,
    /// `atexit(f)`: `__cxa_atexit(f, NULL, &__dso_handle)`.
    Atexit,
    /// `at_quick_exit(f)`: `__cxa_at_quick_exit(f, &__dso_handle)`.
    AtQuickExit,
    /// `pthread_atfork(a, b, c)`: `__register_atfork(a, b, c, &__dso_handle)`.
    PthreadAtfork,
    /// `on_exit(f, arg)`: registered under `&__dso_handle` (see
    /// `runtime.rs`), so that it runs when the unit closes, not after.
    OnExit,
    /// `_GLOBAL_OFFSET_TABLE_`: the base of the unit's GOT.
    GlobalOffsetTable,
    /// `_TLS_MODULE_BASE_`: the start of the unit's TLS block, which
    /// local-dynamic code reaches through a TLS descriptor (`-mtls-dialect=gnu2`).
    TlsModuleBase,
}

impl Synthetic {
    /// The synthetic that `name` stands for, if objdl supplies it.
    pub(super) fn by_name(name: &str) -> Option<Synthetic> {
        Some(match name {
            "__dso_handle" => Synthetic::DsoHandle,
            "atexit" => Synthetic::Atexit,
            "at_quick_exit" => Synthetic::AtQuickExit,
            "pthread_atfork" | "__pthread_atfork" => Synthetic::PthreadAtfork,
            "on_exit" => Synthetic::OnExit,
            "_GLOBAL_OFFSET_TABLE_" => Synthetic::GlobalOffsetTable,
            "_TLS_MODULE_BASE_" => Synthetic::TlsModuleBase,
            _ => return None,
        })
    }
}

/// Where a symbol points, before the unit has an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    /// Inside the unit: a section of one of its objects.
    Section {
        obj: u32,
        sec: u32,
        value: u64,
        size: u64,
    },
    /// Inside the unit: an allocated COMMON symbol.
    Common(u32),
    /// Inside the unit: something objdl supplies.
    Synthetic(Synthetic),
    /// Inside the unit: the stub `jmp *slot(%rip)` standing for an
    /// indirect (IFUNC) symbol (index into `Resolution::ifuncs`). It is the
    /// symbol's canonical address; the slot gets the resolver's answer.
    Ifunc(u32),
    /// A thread-local variable of another module (a shared library): its
    /// glibc module id and its offset in that module's block.
    ExternalTls { module: u64, offset: u64 },
    /// A thread-local variable of another module, found by name only once
    /// the relocations say how the unit reaches it: looking it up with
    /// `dlsym` makes glibc serve its module's block dynamically from then
    /// on, which initial-exec code cannot use (see `resolve::external_facts`
    /// and `resolve::dynamic_thread_locals`).
    DeferredTls,
    /// Inside the unit: `__start_NAME` or `__stop_NAME` of the sections
    /// called NAME (index into `Resolution::bounds`).
    Bound { index: u32, stop: bool },
    /// Outside the unit (host, library) or absolute: a fixed address.
    /// `code` is known (from the host's symbol table) only where a 32-bit
    /// absolute relocation asks, and means the target is a function.
    Absolute { addr: u64, size: u64, code: bool },
}

impl Target {
    /// A fixed address outside the unit, of unknown size and kind.
    pub fn absolute(addr: u64) -> Target {
        Target::Absolute {
            addr,
            size: 0,
            code: false,
        }
    }

    pub fn is_internal(self) -> bool {
        !matches!(
            self,
            Target::Absolute { .. } | Target::ExternalTls { .. } | Target::DeferredTls
        )
    }
}

/// A COMMON symbol to allocate in the unit's bss.
#[derive(Debug, Clone)]
pub(crate) struct Common {
    pub size: u64,
    pub align: u64,
}

/// Where each symbol points. Most symbols are local, and a local symbol's
/// target follows from the symbol itself: only global symbols and IFUNCs
/// have an entry, which resolution fills.
pub(crate) struct Targets {
    /// Per object, per symbol: the index of its entry in `entries`, or [`LOCAL`].
    slots: Vec<Vec<u32>>,
    /// Per object: the targets of its global and IFUNC symbols.
    entries: Vec<Vec<Target>>,
}

/// In [`Targets::slots`]: the symbol's target follows from the symbol.
const LOCAL: u32 = u32::MAX;

impl Targets {
    /// No objects yet, with room for `objects` of them.
    pub(super) fn with_capacity(objects: usize) -> Targets {
        Targets {
            slots: Vec::with_capacity(objects),
            entries: Vec::with_capacity(objects),
        }
    }

    /// Adds object `obj`, `object`: each of its `special` symbols (global or
    /// IFUNC) gets an entry, which starts as the symbol's own target
    /// ([`local_target`]); every other symbol is local.
    pub(super) fn push_object(&mut self, obj: u32, object: &ObjectFile<'_>) {
        let special = &object.special;
        let mut slots = vec![LOCAL; object.symbols.len()];
        let mut entries = Vec::with_capacity(special.len());
        for &si in special {
            let sym = &object.symbols[si as usize];
            slots[si as usize] = entries.len() as u32;
            entries.push(local_target(obj, sym.def, sym.size));
        }
        self.slots.push(slots);
        self.entries.push(entries);
    }

    /// The target of symbol `sym` of object `obj`, which is `object`.
    #[inline]
    pub fn get(&self, object: &ObjectFile<'_>, obj: usize, sym: usize) -> Target {
        match self.entry(obj, sym) {
            Some(t) => t,
            None => {
                let s = &object.symbols[sym];
                local_target(obj as u32, s.def, s.size)
            }
        }
    }

    /// The entry of symbol `sym` of object `obj`: `None` for a local
    /// symbol, whose target [`Targets::get`] makes from the symbol.
    #[inline]
    pub fn entry(&self, obj: usize, sym: usize) -> Option<Target> {
        match self.slots[obj][sym] {
            LOCAL => None,
            slot => Some(self.entries[obj][slot as usize]),
        }
    }

    /// Sets the target of global symbol `sym` of object `obj` (no-op for a local one).
    pub fn set(&mut self, obj: usize, sym: usize, target: Target) {
        if let Some(t) = self.entry_mut(obj, sym) {
            *t = target;
        }
    }

    /// Sets the target of symbol `sym` of object `obj`, local or global: a
    /// local symbol gets an entry of its own.
    pub fn set_any(&mut self, obj: usize, sym: usize, target: Target) {
        match self.slots[obj][sym] {
            LOCAL => {
                self.slots[obj][sym] = self.entries[obj].len() as u32;
                self.entries[obj].push(target);
            }
            slot => self.entries[obj][slot as usize] = target,
        }
    }

    /// The entry of symbol `sym` of object `obj`, to fill: `None` for a local symbol.
    pub(super) fn entry_mut(&mut self, obj: usize, sym: usize) -> Option<&mut Target> {
        match self.slots[obj][sym] {
            LOCAL => None,
            slot => Some(&mut self.entries[obj][slot as usize]),
        }
    }

    /// Object `obj`'s symbols' entry indices ([`Targets::entries`]), `u32::MAX` for a local symbol.
    pub fn slots(&self, obj: usize) -> &[u32] {
        &self.slots[obj]
    }

    /// Object `obj`'s entries, by the indices [`Targets::slots`] gives.
    pub fn entries(&self, obj: usize) -> &[Target] {
        &self.entries[obj]
    }

    /// How many objects.
    pub fn len(&self) -> usize {
        self.slots.len()
    }
}

/// The result of resolution.
pub(crate) struct Resolution<'d> {
    /// Every symbol's target.
    pub targets: Targets,
    /// COMMON storage to allocate.
    pub commons: Vec<Common>,
    /// The unit's exported symbols (global or weak, default or protected visibility).
    pub exports: Vec<(&'d str, Target)>,
    /// `name@VER` for each exported `name@@VER` definition that no
    /// symbol of the unit names so (those are in `exports`).
    pub versioned_exports: Vec<(String, Target)>,
    /// The synthetic definitions some object asked for.
    pub synthetics_used: FxHashSet<SyntheticKey>,
    /// `(obj, sec)` of discarded COMDAT members → the kept section with the same name.
    pub section_redirects: FxHashMap<(u32, u32), (u32, u32)>,
    /// Global units this unit binds to; it keeps them loaded.
    pub deps: Vec<Held>,
    /// Host variables the unit may read from a copy (see [`COPYABLE`]).
    pub copyable: Vec<CopyCandidate>,
    /// The COMDAT group signatures this unit provides.
    pub groups: Vec<String>,
    /// The resolvers of the unit's indirect (IFUNC) symbols.
    pub ifuncs: Vec<Target>,
    /// Section names with `__start_`/`__stop_` references.
    pub bounds: Vec<String>,
    /// Thread-local symbols of other modules that the unit reaches with
    /// initial-exec (GOTTPOFF, TPOFF32/64), each name once.
    pub initial_exec_names: Vec<&'d str>,
    /// (object, symbol) of each such reference → its index in
    /// `initial_exec_names`.
    pub initial_exec: FxHashMap<(u32, u32), u32>,
    /// (object, symbol) of the [`Target::DeferredTls`] symbols that other
    /// relocations reach (general- and local-dynamic forms), to be looked up
    /// by `resolve::dynamic_thread_locals`.
    pub dynamic_tls: Vec<(u32, u32)>,
    /// The unit's definition of the entry point asked for, if any.
    pub entry: Option<Target>,
    /// (object, symbol, name id) of each global symbol left unresolved
    /// when resolution was asked to be lazy: `link::lazy::prepare`
    /// gives them stubs (or refuses them).
    pub lazy: Vec<(u32, u32, u32)>,
}

/// libc variables that are set before `main` and that libc never changes
/// afterwards. A unit that cannot reach one of them with a RIP-relative load
/// (PIE or -fno-pic code far from libc) may read a copy instead: what a
/// copy relocation gives a non-PIE executable, minus libc seeing the copy.
pub(crate) const COPYABLE: &[&str] = &[
    "stdin",
    "stdout",
    "stderr",
    "program_invocation_name",
    "program_invocation_short_name",
];

/// A host variable the unit may read from a copy.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CopyCandidate {
    /// The variable's address in the host.
    pub addr: u64,
}

impl CopyCandidate {
    /// The variable's size, if its ELF symbol says it is a variable of at
    /// most 8 bytes (the room the unit keeps for a copy).
    pub fn size(self) -> Option<u64> {
        match host::host_symbol(self.addr) {
            Some((size @ 1..=8, false)) => Some(size),
            _ => None,
        }
    }
}

/// A hashable [`Synthetic`].
pub(crate) type SyntheticKey = u8;

/// The target that a symbol of object `obj` has from its own definition
/// (`def`, `size`): a local symbol's, always; a global one's before
/// resolution fills it.
pub(super) fn local_target(obj: u32, def: SymbolDef, size: u64) -> Target {
    match def {
        SymbolDef::Section { index, value } => Target::Section {
            obj,
            sec: index,
            value,
            size,
        },
        SymbolDef::Absolute(addr) => Target::Absolute {
            addr,
            size,
            code: false,
        },
        // A local COMMON or undefined local symbol has nothing to point at.
        SymbolDef::Common { .. } | SymbolDef::Undefined => Target::absolute(0),
    }
}
