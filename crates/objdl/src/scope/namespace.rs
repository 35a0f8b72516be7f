//! The global scope: exports of units opened with [`crate::Scope::Global`],
//! hashed by name. A unit that binds to another unit's symbol holds that
//! unit, so closing a handle never leaves a dangling reference: the memory
//! stays until its last user goes.

use std::sync::{Arc, RwLock, Weak};

use rustc_hash::FxHashMap;

use crate::hash::KeyedMap;

/// What keeps a unit's memory alive, as the namespace sees it: opaque. A
/// unit that binds to another's symbol holds the other's `Held`; the
/// namespace itself holds only weak references, so that a unit leaves it
/// when its last user goes.
pub(crate) type Held = Arc<dyn std::any::Any + Send + Sync>;

/// A weak [`Held`].
type Weakly = Weak<dyn std::any::Any + Send + Sync>;

/// A Global unit's part of the scope, given as data when it joins or
/// leaves: its exports, (name, address), and its COMDAT group signatures.
pub(crate) struct Members<'a, E> {
    /// What keeps the unit alive.
    pub unit: &'a Held,
    /// (name, address) for each export.
    pub exports: E,
    /// The signatures of the COMDAT groups whose copy the unit holds.
    pub groups: &'a [String],
}

/// The Global units defining one name: (address, unit), in joining order.
type Definitions = Vec<(u64, Weakly)>;

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
    stand_ins: RwLock<FxHashMap<u64, (u64, Weakly)>>,
    /// COMDAT group signature → the Global unit whose copy is the one.
    groups: RwLock<KeyedMap<String, Weakly>>,
}

impl Namespace {
    /// The address of `name` in a Global unit, and that unit.
    pub fn lookup(&self, name: &str) -> Option<(u64, Held)> {
        let map = self.map.read().unwrap_or_else(|e| e.into_inner());
        map.get(name)?
            .iter()
            .find_map(|(addr, unit)| Some((*addr, unit.upgrade()?)))
    }

    /// Adds `unit`'s exports and groups; a name another Global unit already
    /// defines keeps that definition while that unit is in the scope.
    pub fn insert<'n>(&self, unit: Members<'_, impl Iterator<Item = (&'n str, u64)>>) {
        let mut map = self.map.write().unwrap_or_else(|e| e.into_inner());
        let me = Arc::downgrade(unit.unit);
        for (name, addr) in unit.exports {
            let defs = map.entry(name.to_string()).or_default();
            if !defs.iter().any(|(_, w)| w.ptr_eq(&me)) {
                defs.push((addr, me.clone()));
            }
        }
        drop(map);
        let mut groups = self.groups.write().unwrap_or_else(|e| e.into_inner());
        for sig in unit.groups {
            if groups.get(sig).is_none_or(|w| w.strong_count() == 0) {
                groups.insert(sig.clone(), me.clone());
            }
        }
    }

    /// Whether a live Global unit provides COMDAT group `sig`.
    pub fn has_group(&self, sig: &str) -> bool {
        let groups = self.groups.read().unwrap_or_else(|e| e.into_inner());
        groups.get(sig).is_some_and(|w| w.strong_count() > 0)
    }

    /// The canonical stand-in for host function `target`, and its unit.
    pub fn stand_in(&self, target: u64) -> Option<(u64, Held)> {
        let map = self.stand_ins.read().unwrap_or_else(|e| e.into_inner());
        let (addr, unit) = map.get(&target)?;
        Some((*addr, unit.upgrade()?))
    }

    /// Records `unit`'s stand-ins, (host function, trampoline), where none is yet.
    pub fn add_stand_ins(&self, unit: &Held, list: &[(u64, u64)]) {
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
    pub fn remove<'n>(&self, unit: Members<'_, impl Iterator<Item = (&'n str, u64)>>) {
        let mut map = self.map.write().unwrap_or_else(|e| e.into_inner());
        let me = Arc::downgrade(unit.unit);
        for (name, _) in unit.exports {
            if let Some(defs) = map.get_mut(name) {
                defs.retain(|(_, w)| !w.ptr_eq(&me) && w.strong_count() > 0);
                if defs.is_empty() {
                    map.remove(name);
                }
            }
        }
        drop(map);
        let mut groups = self.groups.write().unwrap_or_else(|e| e.into_inner());
        for sig in unit.groups {
            if groups.get(sig).is_some_and(|w| w.ptr_eq(&me)) {
                groups.remove(sig);
            }
        }
    }
}
