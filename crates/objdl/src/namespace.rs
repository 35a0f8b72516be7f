//! The global scope: exports of units opened with [`crate::Scope::Global`],
//! hashed by name. A unit that binds to another unit's symbol holds that
//! unit, so closing a handle never leaves a dangling reference: the memory
//! stays until its last user goes.

use std::sync::{Arc, RwLock, Weak};

use rustc_hash::FxHashMap;

use crate::unit::UnitInner;

/// Exports of the Global units, first definition wins.
#[derive(Default)]
pub(crate) struct Namespace {
    map: RwLock<FxHashMap<String, (u64, Weak<UnitInner>)>>,
    /// Host function → the low trampoline that stands in for it where
    /// -fno-pic code takes its address as a 32-bit absolute. The first one
    /// made is canonical for every unit, as a non-PIE executable's PLT entry
    /// is for a whole process.
    stand_ins: RwLock<FxHashMap<u64, (u64, Weak<UnitInner>)>>,
}

impl Namespace {
    /// The address of `name` in a Global unit, and that unit.
    pub fn lookup(&self, name: &str) -> Option<(u64, Arc<UnitInner>)> {
        let map = self.map.read().unwrap_or_else(|e| e.into_inner());
        let (addr, unit) = map.get(name)?;
        Some((*addr, unit.upgrade()?))
    }

    /// Adds `unit`'s exports; names already defined by another unit keep that definition.
    pub fn insert(&self, unit: &Arc<UnitInner>) {
        let mut map = self.map.write().unwrap_or_else(|e| e.into_inner());
        for (name, addr) in unit.exports() {
            map.entry(name.to_string())
                .or_insert_with(|| (addr, Arc::downgrade(unit)));
        }
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
            if map.get(name).is_some_and(|(_, w)| w.ptr_eq(&me)) {
                map.remove(name);
            }
        }
    }
}
