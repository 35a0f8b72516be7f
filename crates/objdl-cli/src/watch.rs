//! `objdl run --watch`: the program's inputs are watched while it runs;
//! when one changes, a source is compiled again and the unit reloads it
//! ([`objdl::Unit::reload_input`]), and one line on stderr says what
//! changed and how long the compile, link and patch took. A compile or
//! link error is printed too, and the program runs on with the old code.
//!
//! Watching is by polling each input's modification time and size every
//! 100 ms (no inotify: nothing to set up, and an editor that replaces the
//! file by renaming is seen like one that writes in place); a change is
//! acted on once the file has stayed the same for one more poll, so that a
//! compiler still writing an object is not read half-way.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use objdl::{Input, Unit};

use crate::compile::{self, Caller, CompileFlags, Language};
use crate::input::Scratch;

/// How often the inputs are looked at.
const POLL: Duration = Duration::from_millis(100);

/// What identifies a version of a file: its modification time and size.
type Stamp = Option<(SystemTime, u64)>;

fn stamp(path: &PathBuf) -> Stamp {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

/// Watches the inputs of each unit (a unit and the paths it was opened
/// from), on a thread of its own for as long as the process runs.
pub(crate) fn start(units: Vec<(Arc<Unit>, Vec<PathBuf>)>, flags: &CompileFlags) {
    // (index of the unit in `units`, path, what it was, what it changed to).
    let mut watched: Vec<(usize, PathBuf, Stamp, Option<Stamp>)> = Vec::new();
    for (i, (_, paths)) in units.iter().enumerate() {
        for p in paths {
            watched.push((i, p.clone(), stamp(p), None));
        }
    }
    let flags = flags.clone();
    std::thread::Builder::new()
        .name("objdl-watch".into())
        .spawn(move || loop {
            std::thread::sleep(POLL);
            for (unit, path, seen, pending) in watched.iter_mut() {
                let unit = &units[*unit].0;
                let now = stamp(path);
                if now == *seen {
                    *pending = None;
                    continue;
                }
                // Changed: act when it is the same at two polls in a row.
                if *pending != Some(now) {
                    *pending = Some(now);
                    continue;
                }
                *seen = now;
                *pending = None;
                if now.is_some() {
                    reload(unit, path, &flags);
                }
            }
        })
        .expect("a thread for --watch");
}

/// Compiles (a source) and reloads `path`; prints one line either way.
fn reload(unit: &Unit, path: &PathBuf, flags: &CompileFlags) {
    let started = Instant::now();
    let input = if Language::of(path).is_some() {
        let mut scratch = Scratch::default();
        match compile::prepare(std::slice::from_ref(path), flags, Caller::Run, &mut scratch) {
            Ok(mut prepared) => prepared.inputs.remove(0),
            Err(e) => {
                eprintln!(
                    "objdl: {}: not reloaded, the old code runs on: {}",
                    path.display(),
                    crate::one_line(&e)
                );
                return;
            }
        }
    } else {
        Input::path(path)
    };
    let compiled = started.elapsed();
    // SAFETY: the user changed the program's own input and asked for it to
    // be reloaded; the new code works with the old data as they vouch.
    match unsafe { unit.reload_input(input) } {
        Ok(report) => {
            let compile = if Language::of(path).is_some() {
                format!(" (compiled in {:.0} ms)", compiled.as_secs_f64() * 1e3)
            } else {
                String::new()
            };
            eprintln!("objdl: {report}{compile}");
        }
        Err(e) => eprintln!(
            "objdl: {}: not reloaded, the old code runs on: {}",
            path.display(),
            crate::one_line(&e.to_string())
        ),
    }
}
