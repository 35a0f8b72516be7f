//! W^X audit: a background thread reads `/proc/self/maps` over and over
//! while this thread opens and closes units in every mode that changes
//! protections: [`Placement::Auto`], [`Placement::Far`] (trampolines, an
//! executable tail after the read-only GOT), a unit with an IFUNC (whose
//! read-only page objdl makes writable, never executable, for the moment it
//! takes to store the resolver's answer), no-exec mode, and lazy binding
//! (a stub area made read-write, then executable; its slots stay
//! writable, never executable, and are written at the first call). No mapping of
//! the process may ever be writable and executable at once, and once a unit
//! is closed nothing may remain mapped in its range.
//!
//! One test, so that no other test of this binary maps or unmaps memory
//! while a closed unit's range is checked.

use common::compile;
use objdl_testkit as common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use objdl::{Linker, OpenOptions, Placement, Symbol};

/// Loads per phase.
const LOADS: usize = 300;

/// Calls into libc, data, read-only data, a constructor.
const PLAIN_C: &str = r#"
#include <stdio.h>
#include <string.h>
int counter = 1;
static const char table[] = "read-only data";
__attribute__((constructor)) static void init(void) { counter += 1; }
int work(int n) {
    char buf[32];
    snprintf(buf, sizeof buf, "%s %d", table, n);
    return (int)strlen(buf) + counter;
}
"#;

/// An IFUNC: objdl runs its resolver after protecting the unit, and stores
/// the answer in a read-only slot.
const IFUNC_C: &str = r#"
#include <string.h>
static int add_generic(int x) { return x + 1; }
static int (*pick_add(void))(int) { return add_generic; }
int add(int) __attribute__((ifunc("pick_add")));
int (*add_pointer)(int) = add;
char word[] = "four";
int work(int n) { return add(n) + (int)strlen(word); }
"#;

/// A call to a function that is defined only after the unit opened:
/// bound lazily, at the first call.
const LAZY_C: &str = r#"
int wx_lazy_target(int);
int work(int n) { return wx_lazy_target(n) + 1; }
"#;

extern "C" fn wx_lazy_target(n: i32) -> i32 {
    2 * n
}

/// One line of the maps: `[start, end)` and the permissions (`rw-p`...).
fn parse_line(line: &str) -> Option<(u64, u64, &str)> {
    let mut parts = line.split_whitespace();
    let (a, b) = parts.next()?.split_once('-')?;
    let perms = parts.next()?;
    Some((
        u64::from_str_radix(a, 16).ok()?,
        u64::from_str_radix(b, 16).ok()?,
        perms,
    ))
}

fn is_wx(perms: &str) -> bool {
    perms.contains('w') && perms.contains('x')
}

/// What the sampler saw.
#[derive(Default)]
struct Seen {
    samples: u64,
    /// Mappings that were writable and executable, as maps lines.
    wx: Vec<String>,
    /// Every distinct (phase, start, end, perms) seen, with the phase
    /// that was running.
    mappings: BTreeSet<(usize, u64, u64, String)>,
}

/// The mappings of this process that overlap `[base, base + size)`.
fn mapped_in(base: u64, size: u64) -> Vec<String> {
    std::fs::read_to_string("/proc/self/maps")
        .expect("/proc/self/maps")
        .lines()
        .filter(|l| parse_line(l).is_some_and(|(a, b, _)| a < base + size && b > base))
        .map(str::to_string)
        .collect()
}

/// A loaded unit's range, for the analysis.
struct Loaded {
    phase: usize,
    base: u64,
    size: u64,
}

#[test]
fn no_mapping_is_ever_writable_and_executable() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let plain = compile(dir.path(), "plain", PLAIN_C, &[]);
    let plain_pic = compile(dir.path(), "plain-pic", PLAIN_C, &["-fPIC"]);
    let ifunc = compile(dir.path(), "ifunc", IFUNC_C, &["-fPIC"]);
    let lazy = compile(dir.path(), "lazy", LAZY_C, &[]);

    let seen = Arc::new(Mutex::new(Seen::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let phase_now = Arc::new(AtomicUsize::new(0));
    // The sampler has started (and made its own mappings, such as the
    // signal stack std gives every thread) before the first load.
    let (started_tx, started) = std::sync::mpsc::channel();
    let sampler = {
        let (seen, stop, phase_now) = (seen.clone(), stop.clone(), phase_now.clone());
        std::thread::spawn(move || {
            let mut buf = String::new();
            let mut local = Seen::default();
            while !stop.load(Ordering::Acquire) {
                let phase = phase_now.load(Ordering::Acquire);
                buf.clear();
                std::fs::File::open("/proc/self/maps")
                    .and_then(|mut f| f.read_to_string(&mut buf))
                    .expect("/proc/self/maps");
                if local.samples == 0 {
                    started_tx.send(()).expect("the test waits");
                }
                local.samples += 1;
                for line in buf.lines() {
                    let Some((a, b, perms)) = parse_line(line) else {
                        continue;
                    };
                    if is_wx(perms) {
                        local.wx.push(line.to_string());
                    }
                    let key = (phase, a, b, perms.to_string());
                    if !local.mappings.contains(&key) {
                        local.mappings.insert(key);
                    }
                }
            }
            *seen.lock().expect("lock") = local;
        })
    };

    started.recv().expect("the sampler starts");
    let shared = Linker::new();
    let phases: [(&str, &PathBuf, Placement, bool); 8] = [
        ("auto", &plain, Placement::Auto, false),
        ("far", &plain, Placement::Far, false),
        ("far -fPIC", &plain_pic, Placement::Far, false),
        ("ifunc auto", &ifunc, Placement::Auto, false),
        ("ifunc far", &ifunc, Placement::Far, false),
        ("ifunc no-exec", &ifunc, Placement::Auto, true),
        ("lazy auto", &lazy, Placement::Auto, false),
        ("lazy far", &lazy, Placement::Far, false),
    ];
    let mut loaded = Vec::new();
    let mut left_behind = Vec::new();
    for (n, (phase, obj, place, no_exec)) in phases.into_iter().enumerate() {
        phase_now.store(n, Ordering::Release);
        for i in 0..LOADS {
            // Lazy: a linker of its own, where the name is undefined at open.
            let linker = if obj == &lazy {
                Linker::new()
            } else {
                shared.clone()
            };
            let mut opts = OpenOptions::new();
            opts.placement(place).no_exec(no_exec).lazy(obj == &lazy);
            // SAFETY: the C above; opening runs its constructor (except in
            // no-exec mode) and the IFUNC resolver, which only returns a pointer.
            let unit = unsafe { opts.open(&linker, [obj]) }
                .unwrap_or_else(|e| panic!("{phase} load {i}: {e}"));
            let (base, size) = (unit.stats().base, unit.stats().size);
            if place == Placement::Far {
                assert!(unit.stats().trampolines > 0, "{phase}: {}", unit.stats());
            }
            if obj == &lazy {
                assert_eq!(unit.stats().lazy_stubs, 1, "{phase}");
                linker.define("wx_lazy_target", wx_lazy_target as *const ());
            }
            if !no_exec {
                // SAFETY: `int work(int)` in every C source.
                let work: Symbol<extern "C" fn(i32) -> i32> =
                    unsafe { unit.get("work") }.expect("work");
                let expected = if obj == &ifunc {
                    8
                } else if obj == &lazy {
                    7
                } else {
                    "read-only data 3".len() as i32 + 2
                };
                assert_eq!(work(3), expected, "{phase}");
            }
            unit.close();
            let remains = mapped_in(base, size);
            if !remains.is_empty() {
                left_behind.push(format!(
                    "{phase} load {i}: [{base:#x}, {:#x}) still mapped: {remains:?}",
                    base + size
                ));
            }
            loaded.push(Loaded {
                phase: n,
                base,
                size,
            });
        }
    }
    stop.store(true, Ordering::Release);
    sampler.join().expect("the sampler thread");
    let seen = std::mem::take(&mut *seen.lock().expect("lock"));

    // What the sampler saw of the units while each phase ran: the
    // distinct mappings overlapping a unit of the phase, by permission.
    let mut by_phase: BTreeMap<usize, BTreeSet<&(usize, u64, u64, String)>> = BTreeMap::new();
    for l in &loaded {
        let set = by_phase.entry(l.phase).or_default();
        for m in seen.mappings.range((l.phase, 0, 0, String::new())..) {
            if m.0 != l.phase {
                break;
            }
            if m.1 < l.base + l.size && m.2 > l.base {
                set.insert(m);
            }
        }
    }
    eprintln!(
        "W^X audit: {} loads, {} samples of /proc/self/maps, {} distinct mappings, {} writable+executable",
        loaded.len(),
        seen.samples,
        seen.mappings.len(),
        seen.wx.len()
    );
    for (phase, set) in &by_phase {
        let phase = phases[*phase].0;
        let mut perms: BTreeMap<&str, usize> = BTreeMap::new();
        for (_, _, _, p) in set {
            *perms.entry(p.as_str()).or_default() += 1;
        }
        eprintln!(
            "  {phase:14} distinct mappings seen in its units' ranges, by permission: {perms:?}"
        );
    }
    assert!(seen.samples > 10, "the sampler hardly ran");
    assert!(
        by_phase.values().any(|set| !set.is_empty()),
        "the sampler never saw a unit mapped"
    );
    assert!(
        seen.wx.is_empty(),
        "writable and executable mappings: {:?}",
        seen.wx
    );
    assert!(left_behind.is_empty(), "{}", left_behind.join("\n"));
}
