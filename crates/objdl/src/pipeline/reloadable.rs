//! What a reloadable unit ([`OpenOptions::reloadable`]) keeps: its inputs
//! read into memory, its entries and data as last linked, the code every
//! reload replaced; how the first link sets it up, how a link is published
//! (its entries repointed), and what a reload reports ([`ReloadReport`]).
//! [`Unit::reload`](crate::Unit::reload) itself is in `reload.rs`, which
//! links with the pipeline; this module needs none of it, so that the
//! pipeline's `load` can make a unit reloadable.

use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::error::{Error, Result};
use crate::link::entries::Kept;
use crate::load::entries::{self, HotContext};
use crate::load::unit::{Reloads, UnitInner};
use crate::options::{Input, OpenOptions};
use crate::scope::host::Host;

use super::context::Context;
use super::inputs::FileBytes;
use super::stage_data::HotLinked;

/// What a reload did.
///
/// ```no_run
/// # let unit = unsafe { objdl::OpenOptions::new().reloadable(true).open(&objdl::Linker::new(), ["a.o"])? };
/// let report = unsafe { unit.reload("a.o")? };
/// eprintln!("{report}"); // reloaded a.o: 12 functions repointed, ...
/// assert!(report.reset.is_empty(), "reset: {:?}", report.reset);
/// # Ok::<(), objdl::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ReloadReport {
    /// The input reloaded, as named when the unit was opened.
    pub input: String,
    /// The functions of the input whose code the edit changed (its bytes,
    /// or what it refers to), sorted; empty when the input is an archive.
    pub changed: Vec<String>,
    /// The functions the edit added to the input, and those it removed.
    pub added: Vec<String>,
    /// See [`ReloadReport::added`]; a removed function's old code still
    /// serves the pointers taken before.
    pub removed: Vec<String>,
    /// Functions whose entries now lead to the new code (every function of
    /// the unit, which is linked again whole).
    pub functions: usize,
    /// Of those, the functions the unit did not have before.
    pub new_functions: usize,
    /// Variables that kept their storage and value.
    pub kept: Vec<String>,
    /// Their bytes.
    pub kept_bytes: u64,
    /// Variables new to the unit, with their initial values.
    pub new: Vec<String>,
    /// Variables that existed but start again from their initial values,
    /// each with why (its size changed, ...).
    pub reset: Vec<String>,
    /// Bytes of replaced code and data kept mapped (every generation's),
    /// since a thread may still run old code.
    pub retained_bytes: u64,
    /// Parse, resolve, lay out, place and relocate.
    pub link_time: Duration,
    /// Protect, register and repoint.
    pub patch_time: Duration,
}

impl fmt::Display for ReloadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "reloaded {}: ", self.input)?;
        let mut what = Vec::new();
        for (label, names) in [
            ("changed", &self.changed),
            ("added", &self.added),
            ("removed", &self.removed),
        ] {
            if !names.is_empty() {
                what.push(format!("{label} {}", names.join(", ")));
            }
        }
        if what.is_empty() {
            what.push("no function changed".into());
        }
        write!(
            f,
            "{}; {} functions repointed ({} new), {} variables kept ({} bytes), {} new, {} reset; link {:.2} ms, patch {:.2} ms",
            what.join("; "),
            self.functions,
            self.new_functions,
            self.kept.len(),
            self.kept_bytes,
            self.new.len(),
            self.reset.len(),
            self.link_time.as_secs_f64() * 1e3,
            self.patch_time.as_secs_f64() * 1e3,
        )?;
        if !self.reset.is_empty() {
            write!(f, "; reset: {}", self.reset.join(", "))?;
        }
        Ok(())
    }
}

/// What a reloadable unit ([`OpenOptions::reloadable`]) keeps.
pub(super) struct Reloadable {
    /// Its entries and its data as last linked.
    pub ctx: Arc<HotContext>,
    /// The options it was opened with, placed automatically.
    pub opts: OpenOptions,
    /// The process it links against.
    pub host: Arc<Host>,
    /// Its inputs and its generations; held while a reload runs.
    pub state: Mutex<ReloadState>,
}

/// The inputs of a reloadable unit and the code it replaced.
pub(super) struct ReloadState {
    /// Each input as last linked: its canonical path (when it came from a
    /// path), its name and its contents.
    pub inputs: Vec<(Option<std::path::PathBuf>, String, Vec<u8>)>,
    /// Every reload's unit, oldest first: kept mapped, since a thread may
    /// still run code of any of them, and their unwind tables registered.
    pub generations: Vec<Arc<UnitInner>>,
}

impl Reloads for Reloadable {
    fn address(&self, name: &str) -> Option<u64> {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.generations.last()?.export(name)
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// For a reloadable open: the inputs read into memory (kept, so that a
/// reload re-reads only the input it names), and the options with the
/// unit's entries.
pub(super) fn prepare(inputs: Vec<Input>) -> Result<(Vec<Input>, ReloadState)> {
    let mut kept = Vec::with_capacity(inputs.len());
    let mut linked = Vec::with_capacity(inputs.len());
    for input in inputs {
        let (path, name, bytes) = match input {
            Input::Path(p) => {
                let bytes = read(&p)?;
                let canonical = std::fs::canonicalize(&p).ok();
                (canonical, p.display().to_string(), bytes)
            }
            Input::Bytes { name, bytes } => (None, name, bytes),
        };
        linked.push(Input::Bytes {
            name: name.clone(),
            bytes: bytes.clone(),
        });
        kept.push((path, name, bytes));
    }
    let state = ReloadState {
        inputs: kept,
        generations: Vec::new(),
    };
    Ok((linked, state))
}

/// The contents of input `path`, checked as every input is.
pub(super) fn read(path: &Path) -> Result<Vec<u8>> {
    let bytes = FileBytes::map(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(bytes.to_vec())
}

/// The first link of a reloadable unit is in place: its entries lead to
/// its functions. What the unit keeps to reload.
pub(super) fn first(
    cx: &Context<'_>,
    hot: HotLinked,
    state: ReloadState,
    ctx: Arc<HotContext>,
    opts: &OpenOptions,
) -> Box<dyn Reloads> {
    publish(&ctx, hot);
    // A reload goes where it reaches what it keeps: the old data, the
    // entries and what the unit binds to, wherever the first link went.
    let mut opts = opts.clone();
    opts.placement = crate::link::placement::Placement::Auto;
    Box::new(Reloadable {
        ctx,
        opts,
        host: cx.host.clone(),
        state: Mutex::new(state),
    })
}

/// What [`publish`] did: the functions repointed, the data kept, and the
/// entries there are now and the bytes they take.
pub(super) struct Published {
    pub functions: usize,
    pub kept: Kept,
    pub entries: usize,
    pub entry_bytes: u64,
}

/// Points every linked function's entry at its new code, and keeps the
/// data as linked for the next reload.
pub(super) fn publish(ctx: &HotContext, hot: HotLinked) -> Published {
    entries::sync_cores();
    let table = ctx.table.lock().unwrap_or_else(|e| e.into_inner());
    for &(entry, code) in &hot.slots {
        table.set(entry, code);
    }
    *ctx.data.lock().unwrap_or_else(|e| e.into_inner()) = hot.data;
    Published {
        functions: hot.slots.len(),
        kept: hot.kept,
        entries: table.len(),
        entry_bytes: table.mapped_bytes(),
    }
}
