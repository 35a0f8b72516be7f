//! Units opened from paths, so that opening the same paths again returns the
//! same unit (as `dlopen` does for a file it has loaded).

use std::sync::{Arc, Weak};

use rustc_hash::FxHashMap;

use crate::load::unit::UnitInner;

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
