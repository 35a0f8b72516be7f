//! The global scope: exports of units opened with [`crate::Scope::Global`],
//! hashed by name. A unit that binds to another unit's symbol holds that
//! unit, so closing a handle never leaves a dangling reference: the memory
//! stays until its last user goes.

use std::sync::{Arc, RwLock, Weak};

use rustc_hash::FxHashMap;

use crate::hash::KeyedMap;

use crate::unit::UnitInner;

/// The Global units defining one name: (address, unit), in joining order.
type Definitions = Vec<(u64, Weak<UnitInner>)>;

/// Exports of the Global units: per name, every Global unit defining it in
/// the order they joined; the first live one is the definition, and when
/// it leaves the next one takes over.
#[derive(Default)]
pub(crate) struct Namespace {
    map: RwLock<KeyedMap<String, Definitions>>,
    /// Host function → the low trampoline that stands in for it where
    /// -fno-pic code takes its address as a 32-bit absolute. The first one
    /// made is canonical for every unit, as a non-PIE executable's PLT entry
    /// is for a whole process.
    stand_ins: RwLock<FxHashMap<u64, (u64, Weak<UnitInner>)>>,
    /// COMDAT group signature → the Global unit whose copy is the one.
    groups: RwLock<KeyedMap<String, Weak<UnitInner>>>,
}

impl Namespace {
    /// The address of `name` in a Global unit, and that unit.
    pub fn lookup(&self, name: &str) -> Option<(u64, Arc<UnitInner>)> {
        let map = self.map.read().unwrap_or_else(|e| e.into_inner());
        map.get(name)?
            .iter()
            .find_map(|(addr, unit)| Some((*addr, unit.upgrade()?)))
    }

    /// Adds `unit`'s exports and groups; a name another Global unit already
    /// defines keeps that definition while that unit is in the scope.
    pub fn insert(&self, unit: &Arc<UnitInner>) {
        let mut map = self.map.write().unwrap_or_else(|e| e.into_inner());
        let me = Arc::downgrade(unit);
        for (name, addr) in unit.exports() {
            let defs = map.entry(name.to_string()).or_default();
            if !defs.iter().any(|(_, w)| w.ptr_eq(&me)) {
                defs.push((addr, me.clone()));
            }
        }
        drop(map);
        let mut groups = self.groups.write().unwrap_or_else(|e| e.into_inner());
        for sig in unit.groups() {
            if groups.get(sig).is_none_or(|w| w.strong_count() == 0) {
                groups.insert(sig.clone(), Arc::downgrade(unit));
            }
        }
    }

    /// Whether a live Global unit provides COMDAT group `sig`.
    pub fn has_group(&self, sig: &str) -> bool {
        let groups = self.groups.read().unwrap_or_else(|e| e.into_inner());
        groups.get(sig).is_some_and(|w| w.strong_count() > 0)
    }

    /// The canonical stand-in for host function `target`, and its unit.
    pub fn stand_in(&self, target: u64) -> Option<(u64, Arc<UnitInner>)> {
        let map = self.stand_ins.read().unwrap_or_else(|e| e.into_inner());
        let (addr, unit) = map.get(&target)?;
        Some((*addr, unit.upgrade()?))
    }

    /// Records `unit`'s stand-ins, (host function, trampoline), where none is yet.
    pub fn add_stand_ins(&self, unit: &Arc<UnitInner>, list: &[(u64, u64)]) {
        if list.is_empty() {
            return;
        }
        let mut map = self.stand_ins.write().unwrap_or_else(|e| e.into_inner());
        map.retain(|_, (_, w)| w.strong_count() > 0);
        for &(target, addr) in list {
            map.entry(target)
                .or_insert_with(|| (addr, Arc::downgrade(unit)));
        }
    }

    /// Removes `unit`'s exports (its handle was closed).
    pub fn remove(&self, unit: &Arc<UnitInner>) {
        let mut map = self.map.write().unwrap_or_else(|e| e.into_inner());
        let me = Arc::downgrade(unit);
        for (name, _) in unit.exports() {
            if let Some(defs) = map.get_mut(name) {
                defs.retain(|(_, w)| !w.ptr_eq(&me) && w.strong_count() > 0);
                if defs.is_empty() {
                    map.remove(name);
                }
            }
        }
        drop(map);
        let mut groups = self.groups.write().unwrap_or_else(|e| e.into_inner());
        for sig in unit.groups() {
            if groups.get(sig).is_some_and(|w| w.ptr_eq(&me)) {
                groups.remove(sig);
            }
        }
    }
}

/// Units opened from paths, so that opening the same paths again returns
/// the same unit. A first open in progress makes other threads wait for it.
#[derive(Default)]
pub(crate) struct Opened {
    map: std::sync::Mutex<FxHashMap<Vec<std::path::PathBuf>, Slot>>,
    done: std::sync::Condvar,
}

enum Slot {
    Loading(std::thread::ThreadId),
    Loaded(Weak<UnitInner>),
}

/// What [`Opened::claim`] found.
pub(crate) enum Claim<'a> {
    /// A live unit for these paths.
    Existing(Arc<UnitInner>),
    /// Nothing: the caller loads it and must [`Ticket::finish`].
    Load(Ticket<'a>),
}

/// The right to load a set of paths; dropped unfinished, it withdraws.
pub(crate) struct Ticket<'a> {
    opened: &'a Opened,
    key: Vec<std::path::PathBuf>,
    finished: bool,
}

impl Opened {
    /// Finds the live unit for `key`, or claims the right to load it.
    /// `None` when this thread is already loading `key` (an initialiser
    /// opening its own unit).
    pub fn claim(&self, key: Vec<std::path::PathBuf>) -> Option<Claim<'_>> {
        let me = std::thread::current().id();
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            match map.get(&key) {
                Some(Slot::Loaded(w)) => {
                    if let Some(unit) = w.upgrade() {
                        return Some(Claim::Existing(unit));
                    }
                }
                Some(Slot::Loading(who)) if *who == me => return None,
                Some(Slot::Loading(_)) => {
                    map = self.done.wait(map).unwrap_or_else(|e| e.into_inner());
                    continue;
                }
                None => {}
            }
            map.insert(key.clone(), Slot::Loading(me));
            return Some(Claim::Load(Ticket {
                opened: self,
                key,
                finished: false,
            }));
        }
    }
}

impl Ticket<'_> {
    /// Records the loaded unit for later opens.
    pub fn finish(mut self, unit: &Arc<UnitInner>) {
        let mut map = self.opened.map.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|_, s| !matches!(s, Slot::Loaded(w) if w.strong_count() == 0));
        map.insert(
            std::mem::take(&mut self.key),
            Slot::Loaded(Arc::downgrade(unit)),
        );
        self.finished = true;
        self.opened.done.notify_all();
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        if !self.finished {
            let mut map = self.opened.map.lock().unwrap_or_else(|e| e.into_inner());
            map.remove(&self.key);
            self.opened.done.notify_all();
        }
    }
}
