//! Soak: open and close one unit many times in one process and check that
//! nothing accumulates: resident memory, mappings, file descriptors.
//!
//! The unit has what costs something to set up and tear down: a constructor
//! that registers `atexit` handlers, a destructor, `.eh_frame` (registered
//! with libgcc), a thread-local variable (compiled with -fPIC: objdl's TLS
//! module, with a block in each thread that touches it), and calls to libc
//! through trampolines ([`Placement::Far`]). The variable is used from this
//! thread and from a helper thread that stays alive across all the cycles.
//!
//! 10,000 cycles after a warm-up of 100, in debug builds too (about 5 s;
//! 0.6 s in release); `OBJDL_SOAK_CYCLES` overrides the count. Under
//! valgrind (`scripts/valgrind-soak.sh`) resident memory and mappings are
//! not compared: valgrind's leak check stands in for them.

use objdl_testkit as common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

use objdl::{Linker, OpenOptions, Placement, Symbol};

/// Open/close cycles after the warm-up.
const CYCLES: usize = 10_000;

/// Cycles before the baseline is taken: caches fill, the allocator settles.
const WARM_UP: usize = 100;

/// How much resident memory may grow over the soak.
const RSS_SLACK: u64 = 1 << 20;

const UNIT_C: &str = r#"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void soak_note(int what);            /* the host's: counts events */
__thread int tls_counter = 5;        /* objdl's TLS module (TLSGD) */
static __thread char tls_scratch[128];

static void first_exit(void) { soak_note(2); }
static void second_exit(void) { soak_note(3); }

__attribute__((constructor)) static void init(void) {
    soak_note(1);
    atexit(first_exit);
    atexit(second_exit);
}

__attribute__((destructor)) static void fini(void) { soak_note(4); }

/* Thread-local: a fresh block in every thread, every cycle. */
int bump(int by) {
    tls_scratch[by & 127] += 1;
    tls_counter += by;
    return tls_counter + tls_scratch[0];
}

/* Calls into libc: through trampolines under Placement::Far. */
int format(int n) {
    char buf[32];
    snprintf(buf, sizeof buf, "<%d>", n);
    char *copy = strdup(buf);
    int len = (int)strlen(copy);
    free(copy);
    return len;
}
"#;

/// Events the unit reports: constructor, each atexit handler, destructor.
static EVENTS: [AtomicUsize; 5] = [const { AtomicUsize::new(0) }; 5];

extern "C" fn soak_note(what: i32) {
    EVENTS[what as usize].fetch_add(1, Ordering::Relaxed);
}

/// Resident memory, from `/proc/self/statm` (pages × page size).
fn rss() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("the resident field");
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as u64;
    pages * page
}

fn maps() -> String {
    std::fs::read_to_string("/proc/self/maps").expect("/proc/self/maps")
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .count()
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Figures {
    rss: u64,
    /// Lines of `/proc/self/maps`.
    maps: usize,
    fds: usize,
    /// The maps themselves, to show what changed.
    maps_text: String,
}

fn figures() -> Figures {
    let maps_text = maps();
    Figures {
        rss: rss(),
        maps: maps_text.lines().count(),
        fds: open_fds(),
        maps_text,
    }
}

/// The lines of `b` that `a` does not have, and the other way round.
fn maps_diff(a: &str, b: &str) -> String {
    let gone = a.lines().filter(|l| !b.lines().any(|m| m == *l));
    let new = b.lines().filter(|l| !a.lines().any(|m| m == *l));
    gone.map(|l| format!("- {l}"))
        .chain(new.map(|l| format!("+ {l}")))
        .collect::<Vec<_>>()
        .join("\n")
}

type Bump = extern "C" fn(i32) -> i32;

/// What the helper thread is asked to do.
enum Job {
    /// Call `bump` (an address in the open unit) and report the result.
    Bump(usize),
    Stop,
}

#[test]
fn ten_thousand_open_close_cycles_leak_nothing() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let obj = common::compile(dir.path(), "soak", UNIT_C, &["-fPIC"]);
    let cycles = std::env::var("OBJDL_SOAK_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(CYCLES);

    let linker = Linker::new();
    linker.define("soak_note", soak_note as *const ());
    let mut opts = OpenOptions::new();
    opts.placement(Placement::Far);

    // The helper thread lives across every cycle and touches the unit's
    // thread-local variable in each.
    let (jobs, job_rx) = mpsc::channel::<Job>();
    let (done_tx, done) = mpsc::channel::<i32>();
    let helper = std::thread::spawn(move || {
        while let Ok(Job::Bump(addr)) = job_rx.recv() {
            // SAFETY: `addr` is `int bump(int)` of a unit the main thread
            // keeps open until it has our answer.
            let bump = unsafe { std::mem::transmute::<usize, Bump>(addr) };
            done_tx.send(bump(10)).expect("the main thread waits");
        }
    });

    let cycle = |i: usize| {
        // SAFETY: the unit is the C above: its constructor registers
        // atexit handlers and calls `soak_note`, defined by this test.
        let unit = unsafe { opts.open(&linker, [&obj]) }.expect("open");
        assert!(
            unit.stats().trampolines > 0,
            "no trampolines: {}",
            unit.stats()
        );
        // SAFETY: `int bump(int)` and `int format(int)` in the C above.
        let bump: Symbol<Bump> = unsafe { unit.get("bump") }.expect("bump");
        // SAFETY: `int format(int)` in the C above.
        let format: Symbol<extern "C" fn(i32) -> i32> =
            unsafe { unit.get("format") }.expect("format");
        // Each cycle is a fresh module: its blocks start from the image.
        assert_eq!(bump(1), 6, "cycle {i}");
        assert_eq!(bump(1), 7, "cycle {i}");
        assert_eq!(format(1234), 6, "cycle {i}");
        jobs.send(Job::Bump(*bump as usize))
            .expect("the helper runs");
        assert_eq!(done.recv().expect("the helper answers"), 15, "cycle {i}");
        unit.close();
    };

    for i in 0..WARM_UP {
        cycle(i);
    }
    let before = figures();
    let started = std::time::Instant::now();
    for i in 0..cycles {
        cycle(WARM_UP + i);
    }
    let took = started.elapsed();
    let after = figures();
    jobs.send(Job::Stop).expect("the helper runs");
    helper.join().expect("the helper thread");

    let total = WARM_UP + cycles;
    let events: Vec<usize> = EVENTS.iter().map(|e| e.load(Ordering::Relaxed)).collect();
    eprintln!(
        "soak: {cycles} cycles after {WARM_UP} warm-up in {took:.2?} ({:.0} us/cycle)",
        took.as_secs_f64() * 1e6 / cycles as f64
    );
    eprintln!(
        "soak: RSS {} KiB -> {} KiB ({:+} KiB), maps {} -> {}, fds {} -> {}",
        before.rss / 1024,
        after.rss / 1024,
        (after.rss as i64 - before.rss as i64) / 1024,
        before.maps,
        after.maps,
        before.fds,
        after.fds
    );
    eprintln!(
        "soak: constructors {}, atexit handlers {} + {}, destructors {}",
        events[1], events[2], events[3], events[4]
    );
    // Every cycle ran the constructor, both atexit handlers and the
    // destructor: at close, not at process exit.
    assert_eq!(&events[1..], &[total; 4]);
    if before.maps_text.contains("vgpreload") {
        // Under valgrind (scripts/valgrind-soak.sh), the translations and
        // valgrind's own mappings grow with the code run: the leak check is
        // valgrind's then.
        eprintln!("soak: under valgrind: resident memory and mappings not checked");
        assert_eq!(after.fds, before.fds, "file descriptors accumulate");
        return;
    }
    assert!(
        after.rss <= before.rss + RSS_SLACK,
        "RSS grew by {} KiB over {cycles} cycles",
        (after.rss - before.rss) / 1024
    );
    assert_eq!(
        after.maps,
        before.maps,
        "mappings accumulate:\n{}",
        maps_diff(&before.maps_text, &after.maps_text)
    );
    assert_eq!(after.fds, before.fds, "file descriptors accumulate");
}
