//! Hot reload ([`Unit::reload`]): the unit linked again, its inputs as
//! before except the one named, read anew. Every stage runs as for a load,
//! with the functions bound to the unit's entries and the data to its old
//! storage (`link::entries`); then, once the new code is protected and
//! registered, each function's entry is repointed with one atomic store
//! (`load::entries`), and only then do initialisers run: those of objects
//! whose variables are all new; kept data is not initialised again. Any error before that changes nothing: the old code runs on.
//! What a reloadable unit keeps, and the report, are in `reloadable.rs`.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use crate::error::{Error, ReloadRefusal, Result};
use crate::link::entries::{self as entries_link, Kept};
use crate::load::unit::{Unit, UnitInner};
use crate::options::Input;

use super::context::Context;
use super::reloadable::{publish, read, Published, ReloadReport, ReloadState, Reloadable};
use super::stage_data::{HotLinked, Linked};
use super::{link, protected, Protected};

impl Unit {
    /// Reloads the unit's input `path` (one of the paths it was opened
    /// from) from its current contents: the unit is linked again, with the
    /// other inputs as they were, and each function's entry is repointed
    /// to its new code, so that every caller (the unit, other units, the
    /// host, function pointers, pointers in data, C++ vtables) reaches it
    /// at its next call. A thread inside old code finishes there; old code
    /// stays mapped until the unit closes. Data that both versions have
    /// (same object, name and size; whole sections when their layout is
    /// unchanged) keeps its storage and values; new variables get their
    /// initial values (and an object whose variables are all new runs its
    /// initialisers: its new C++ objects are constructed); kept data is
    /// never initialised again. The unit must have
    /// been opened with [`OpenOptions::reloadable`](crate::OpenOptions::reloadable).
    ///
    /// A reload that fails (the input does not parse, a name is
    /// unresolved, a site is unreachable...) changes nothing: the old code
    /// runs on. Reloads of one unit run one at a time; other threads may
    /// keep calling into the unit meanwhile.
    ///
    /// ```no_run
    /// use objdl::{Linker, OpenOptions};
    /// let linker = Linker::new();
    /// let unit = unsafe { OpenOptions::new().reloadable(true).open(&linker, ["a.o", "b.o"])? };
    /// // ... b.c edited, b.o rebuilt ...
    /// match unsafe { unit.reload("b.o") } {
    ///     Ok(report) => eprintln!("{report}"),
    ///     Err(e) => eprintln!("b.o not reloaded, the old code runs on: {e}"),
    /// }
    /// # Ok::<(), objdl::Error>(())
    /// ```
    ///
    /// # Safety
    /// The new code runs with the old data: the caller vouches that the
    /// new version of the input works with what the old one left (the
    /// types of kept variables unchanged, ...), as for [`OpenOptions::open`](crate::OpenOptions::open).
    pub unsafe fn reload(&self, path: impl AsRef<Path>) -> Result<ReloadReport> {
        // SAFETY: forwarded.
        unsafe { self.reload_input(Input::path(path.as_ref())) }
    }

    /// [`Unit::reload`] of an input given as a path (one the unit was
    /// opened from), or as bytes with the name of one of its inputs (an
    /// object compiled in memory, named after its source, as `objdl run`
    /// does).
    ///
    /// ```no_run
    /// use objdl::{Input, Linker, OpenOptions};
    /// let linker = Linker::new();
    /// let bytes = std::fs::read("build/a.o")?;
    /// let unit = unsafe { OpenOptions::new().reloadable(true).open(&linker, [Input::bytes("a.c", bytes)])? };
    /// let rebuilt = std::fs::read("build/a.o")?;
    /// unsafe { unit.reload_input(Input::bytes("a.c", rebuilt))? };
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Safety
    /// As for [`Unit::reload`].
    pub unsafe fn reload_input(&self, input: Input) -> Result<ReloadReport> {
        let started = Instant::now();
        let inner = self.inner();
        let (path, bytes) = match input {
            Input::Path(p) => (p, None),
            Input::Bytes { name, bytes } => (name.into(), Some(bytes)),
        };
        let path = path.as_path();
        let Some(hot) = inner
            .reloadable()
            .and_then(|r| r.as_any().downcast_ref::<Reloadable>())
        else {
            return Err(Error::Reload {
                path: path.to_path_buf(),
                why: ReloadRefusal::NotReloadable,
            });
        };
        let mut state = hot.state.lock().unwrap_or_else(|e| e.into_inner());
        let (index, bytes) = input_named(&state, path, bytes)?;
        let inputs: Vec<Input> = state
            .inputs
            .iter()
            .enumerate()
            .map(|(i, (_, name, old))| Input::Bytes {
                name: name.clone(),
                bytes: if i == index {
                    bytes.clone()
                } else {
                    old.clone()
                },
            })
            .collect();
        let namespace = self.namespace();
        let cx = Context {
            host: &hot.host,
            namespace: &namespace,
        };
        let before = hot
            .ctx
            .table
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len();
        let linked = link(&cx, inputs, &hot.opts, false, Some(&hot.ctx))?;
        let link_time = started.elapsed();
        let patching = Instant::now();
        let (generation, hot_linked) = prepare_generation(linked, inner, hot.opts.no_exec)?;
        let mut published = None;
        // SAFETY: relocated and protected; it stays mapped while the unit
        // holds it. The entries are repointed once its unwind tables are
        // registered, then its initialisers run: only those of objects
        // whose data is all new (`link::entries::Bound::initialise`).
        let generation = unsafe {
            Unit::start_with(generation, patching, || {
                published = Some(publish(&hot.ctx, hot_linked));
            })
        };
        let Published {
            functions,
            kept,
            entries,
            entry_bytes,
        } = published.expect("start_with calls `between` once");
        let patch_time = patching.elapsed();
        let changes = changes_between(&state.inputs[index].1, &state.inputs[index].2, &bytes);
        let new_functions = entries - before;
        state.inputs[index].2 = bytes;
        state.generations.push(generation);
        let retained_bytes = std::iter::once(inner)
            .chain(&state.generations)
            .map(|g| g.range().1)
            .sum::<u64>()
            + entry_bytes;
        let Kept {
            kept,
            kept_bytes,
            new,
            reset,
        } = kept;
        Ok(ReloadReport {
            input: state.inputs[index].1.clone(),
            changed: changes.changed,
            added: changes.added,
            removed: changes.removed,
            functions,
            new_functions,
            kept,
            kept_bytes,
            new,
            reset,
            retained_bytes,
            link_time,
            patch_time,
        })
    }
}

/// The index among `state`'s inputs of the input named `path` (its
/// canonical path, or with `bytes`, its name), and its new contents.
fn input_named(
    state: &ReloadState,
    path: &Path,
    bytes: Option<Vec<u8>>,
) -> Result<(usize, Vec<u8>)> {
    let index = match &bytes {
        Some(_) => {
            let name = path.to_string_lossy();
            state.inputs.iter().position(|(_, n, _)| *n == name)
        }
        None => {
            let canonical = std::fs::canonicalize(path).map_err(|source| Error::Io {
                path: path.to_path_buf(),
                source,
            })?;
            state
                .inputs
                .iter()
                .position(|(p, _, _)| p.as_deref() == Some(canonical.as_path()))
        }
    };
    let Some(index) = index else {
        return Err(Error::Reload {
            path: path.to_path_buf(),
            why: ReloadRefusal::NotAnInput,
        });
    };
    let bytes = match bytes {
        Some(b) => b,
        None => read(path)?,
    };
    Ok((index, bytes))
}

/// What the edit from `old` to `new` (two versions of the input `name`)
/// changed, function by function; nothing for archives and what does not
/// parse (the link has taken both already, so this cannot fail).
fn changes_between(name: &str, old: &[u8], new: &[u8]) -> entries_link::Changes {
    let parse = |bytes| crate::input::parse(name, bytes).ok();
    match (parse(old), parse(new)) {
        (Some(a), Some(b)) => entries_link::changes(&a, &b),
        _ => entries_link::Changes::default(),
    }
}

/// Protects a reload's unit (and runs its IFUNC resolvers); it binds to the
/// Global units its predecessor does (not to the unit itself, which holds
/// it).
fn prepare_generation(
    linked: Linked,
    unit: &Arc<UnitInner>,
    no_exec: bool,
) -> Result<(UnitInner, HotLinked)> {
    let Protected {
        mem,
        mut parts,
        hot,
        ..
    } = protected(linked, no_exec)?;
    let hot = hot.expect("a reloadable unit's link has entries");
    parts
        .deps
        .retain(|d| Arc::as_ptr(d).cast::<()>() != Arc::as_ptr(unit).cast::<()>());
    Ok((UnitInner::new(mem, parts), hot))
}
