//! Threads: units called from several threads while other units open and
//! close, and a unit shared across threads that closes only when the last
//! thread lets go of it.
//!
//! The rule the API enforces: a [`Symbol`] borrows its [`Unit`], so a unit
//! cannot be closed (dropped) while a symbol taken from it exists; a unit
//! used by several threads is shared as an `Arc<Unit>`, which closes when
//! the last clone drops. objdl cannot see raw function pointers copied out
//! of a `Symbol`: whoever copies one must keep the unit open.
//!
//! The two tests take a lock, so that no other unit opens or closes in this
//! process while the second one reads `/proc/self/maps`.

use objdl_testkit as common;
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use objdl::{Linker, OpenOptions, Placement, Scope, Symbol, Unit};

/// One test at a time (see the module's documentation).
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// The unit the callers use all along: an IFUNC, a thread-local counter
/// (objdl's TLS module: each thread has its own) and calls into libc.
/// Opened Global, so that the churned units bind to it.
const STABLE_C: &str = r#"
#include <stdio.h>
#include <string.h>

__thread int stable_hits;

static int add_generic(int a, int b) { return a + b; }
static int (*pick_add(void))(int, int) { return add_generic; }
int stable_add(int, int) __attribute__((ifunc("pick_add")));

/* ++ this thread's counter: 1, 2, 3... in every thread. */
int stable_hit(void) { return ++stable_hits; }

/* The number of digits of n, through snprintf and strlen. */
int stable_digits(long n) {
    char buf[32];
    snprintf(buf, sizeof buf, "%ld", n);
    return (int)strlen(buf);
}
"#;

/// The units another thread opens and closes: a constructor that registers
/// an `atexit` handler, a destructor, a thread-local variable, an IFUNC,
/// calls into libc and into the stable unit.
const CHURN_C: &str = r#"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void churn_note(int what);          /* the host's: counts events */
int stable_add(int, int);           /* the stable unit's */

__thread int churn_tls = 100;

static int add7(int x) { return x + 7; }
static int (*pick(void))(int) { return add7; }
int churn_ifunc(int) __attribute__((ifunc("pick")));

static void bye(void) { churn_note(2); }
__attribute__((constructor)) static void init(void) { churn_note(1); atexit(bye); }
__attribute__((destructor)) static void fini(void) { churn_note(3); }

/* churn_tls += n, then digits(churn_tls) + (n + 7) + (n + 1) + churn_tls. */
int churn_work(int n) {
    char buf[32];
    churn_tls += n;
    snprintf(buf, sizeof buf, "%d", churn_tls);
    return (int)strlen(buf) + churn_ifunc(n) + stable_add(n, 1) + churn_tls;
}
"#;

/// Constructor, `atexit` handler and destructor runs of the churned units.
static CHURN_EVENTS: [AtomicUsize; 4] = [const { AtomicUsize::new(0) }; 4];

extern "C" fn churn_note(what: i32) {
    CHURN_EVENTS[what as usize].fetch_add(1, Ordering::Relaxed);
}

/// Open/close cycles of each churning thread.
const CYCLES: usize = 300;

/// The number of decimal digits of `n >= 0`.
fn digits(n: i64) -> i32 {
    n.to_string().len() as i32
}

#[test]
fn callers_see_consistent_results_while_other_units_open_and_close() {
    let _serial = serial();
    let dir = tempfile::tempdir().expect("temporary directory");
    let stable_o = common::compile(dir.path(), "stable", STABLE_C, &["-fPIC"]);
    // Two copies: opening the same path again would return the same unit.
    let churn_far = common::compile(dir.path(), "churn_far", CHURN_C, &["-fPIC"]);
    let churn_auto = common::compile(dir.path(), "churn_auto", CHURN_C, &["-fPIC"]);

    let linker = Linker::new();
    linker.define("churn_note", churn_note as *const ());
    let mut far_global = OpenOptions::new();
    far_global.placement(Placement::Far).scope(Scope::Global);
    // SAFETY: the C above; its only initialiser is the IFUNC resolver.
    let stable = unsafe { far_global.open(&linker, [&stable_o]) }.expect("open the stable unit");
    assert!(stable.stats().trampolines > 0, "{}", stable.stats());

    let callers = 2;
    let churners = [(churn_far, Placement::Far), (churn_auto, Placement::Auto)];
    let start = Barrier::new(callers + churners.len());
    let churning = AtomicUsize::new(churners.len());
    let calls = AtomicUsize::new(0);
    let started = Instant::now();
    std::thread::scope(|s| {
        for t in 0..callers {
            let (stable, start, churning, calls) = (&stable, &start, &churning, &calls);
            s.spawn(move || {
                // SAFETY: the types of the C above.
                let add: Symbol<extern "C" fn(i32, i32) -> i32> =
                    unsafe { stable.get("stable_add") }.expect("stable_add");
                // SAFETY: as above.
                let hit: Symbol<extern "C" fn() -> i32> =
                    unsafe { stable.get("stable_hit") }.expect("stable_hit");
                // SAFETY: as above.
                let digits_of: Symbol<extern "C" fn(i64) -> i32> =
                    unsafe { stable.get("stable_digits") }.expect("stable_digits");
                start.wait();
                let mut n: i32 = 0;
                // Until both churners are done, and at least a few rounds.
                while churning.load(Ordering::Acquire) > 0 || n < 100 {
                    n += 1;
                    let x = n.wrapping_mul(7919) ^ t as i32;
                    assert_eq!(add(x, 3), x.wrapping_add(3), "caller {t}, call {n}");
                    // This thread's own counter, untouched by the others.
                    assert_eq!(hit(), n, "caller {t}: thread-local counter");
                    let v = i64::from(n) * 1_000_003;
                    assert_eq!(digits_of(v), digits(v), "caller {t}, call {n}");
                }
                calls.fetch_add(n as usize, Ordering::Relaxed);
            });
        }
        for (path, placement) in &churners {
            let (linker, start, churning) = (&linker, &start, &churning);
            s.spawn(move || {
                let mut opts = OpenOptions::new();
                opts.placement(*placement);
                start.wait();
                for i in 0..CYCLES {
                    // SAFETY: the C above: its constructor calls
                    // `churn_note`, defined by this test, and `atexit`.
                    let unit = unsafe { opts.open(linker, [path]) }
                        .unwrap_or_else(|e| panic!("{placement:?} cycle {i}: {e}"));
                    // SAFETY: `int churn_work(int)` in the C above.
                    let work: Symbol<extern "C" fn(i32) -> i32> =
                        unsafe { unit.get("churn_work") }.expect("churn_work");
                    // A fresh unit: its TLS block starts from the image (100).
                    assert_eq!(work(5), 3 + 12 + 6 + 105, "{placement:?} cycle {i}");
                    assert_eq!(work(1), 3 + 8 + 2 + 106, "{placement:?} cycle {i}");
                    if *placement == Placement::Far {
                        assert!(unit.stats().trampolines > 0, "{}", unit.stats());
                    }
                    unit.close();
                }
                churning.fetch_sub(1, Ordering::AcqRel);
            });
        }
    });
    let total = churners.len() * CYCLES;
    let events: Vec<usize> = CHURN_EVENTS
        .iter()
        .map(|e| e.load(Ordering::Relaxed))
        .collect();
    eprintln!(
        "concurrency: {total} opens and closes and {} calls from {callers} threads in {:.2?}",
        calls.load(Ordering::Relaxed),
        started.elapsed()
    );
    // Every open ran the constructor, and every close the atexit handler
    // and the destructor.
    assert_eq!(&events[1..], &[total; 3]);
    // The stable unit still works, and so does this thread's TLS block.
    // SAFETY: as above.
    let hit: Symbol<extern "C" fn() -> i32> = unsafe { stable.get("stable_hit") }.expect("hit");
    assert_eq!(hit(), 1);
    stable.close();
}

/// The unit shared across threads: `long_call` runs in the unit's own code
/// until the host sets its flag.
const SHARED_C: &str = r#"
void shared_note(int what);

__attribute__((destructor)) static void fini(void) { shared_note(1); }

/* Tells `entered` it is running, spins here until *release is set, and
   returns 42. */
int long_call(int *entered, int *release) {
    __atomic_fetch_add(entered, 1, __ATOMIC_ACQ_REL);
    while (!__atomic_load_n(release, __ATOMIC_ACQUIRE))
        __builtin_ia32_pause();
    return 42;
}
"#;

/// Runs of the shared unit's destructor.
static SHARED_CLOSED: AtomicUsize = AtomicUsize::new(0);

extern "C" fn shared_note(_what: i32) {
    SHARED_CLOSED.fetch_add(1, Ordering::AcqRel);
}

/// Whether any mapping of the process overlaps `[base, base + size)`.
fn mapped(base: u64, size: u64) -> bool {
    let maps = std::fs::read_to_string("/proc/self/maps").expect("/proc/self/maps");
    maps.lines().any(|l| {
        let range = l.split_whitespace().next().expect("a range");
        let (lo, hi) = range.split_once('-').expect("lo-hi");
        let lo = u64::from_str_radix(lo, 16).expect("hex");
        let hi = u64::from_str_radix(hi, 16).expect("hex");
        lo < base + size && base < hi
    })
}

/// Waits until `cond` holds (or fails after 30 s).
fn wait_for(what: &str, cond: impl Fn() -> bool) {
    let started = Instant::now();
    while !cond() {
        assert!(started.elapsed() < Duration::from_secs(30), "{what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

type LongCall = extern "C" fn(*const AtomicI32, *const AtomicI32) -> i32;

#[test]
fn a_shared_unit_closes_only_after_the_last_thread_lets_go() {
    let _serial = serial();
    let dir = tempfile::tempdir().expect("temporary directory");
    let obj = common::compile(dir.path(), "shared", SHARED_C, &["-fPIC"]);
    let linker = Linker::new();
    linker.define("shared_note", shared_note as *const ());
    let mut opts = OpenOptions::new();
    opts.placement(Placement::Far);
    // SAFETY: the C above: a destructor that calls `shared_note`.
    let unit: Arc<Unit> = Arc::new(unsafe { opts.open(&linker, [&obj]) }.expect("open"));
    let (base, size) = (unit.stats().base, unit.stats().size);
    assert!(mapped(base, size), "the open unit is mapped");

    // Each thread holds its own clone of the Arc, takes the symbol from it
    // (the Symbol borrows that clone) and calls into the unit, which spins
    // until that thread's flag is set.
    let threads = 3;
    let entered = Arc::new(AtomicI32::new(0));
    let releases: Vec<Arc<AtomicI32>> = (0..threads).map(|_| Arc::new(AtomicI32::new(0))).collect();
    let handles: Vec<_> = releases
        .iter()
        .map(|release| {
            let (unit, entered, release) = (Arc::clone(&unit), entered.clone(), release.clone());
            std::thread::spawn(move || {
                let r = {
                    // SAFETY: `int long_call(int *, int *)` in the C above;
                    // AtomicI32 has the layout of an int.
                    let long_call: Symbol<LongCall> =
                        unsafe { unit.get("long_call") }.expect("long_call");
                    // The Symbol borrows this thread's clone: the clone
                    // cannot be dropped while the Symbol may still be used.
                    long_call(&*entered, &*release)
                };
                // This thread lets go; the unit closes with the last clone.
                drop(unit);
                r
            })
        })
        .collect();
    wait_for("every thread is inside the unit", || {
        entered.load(Ordering::Acquire) == threads
    });
    assert_eq!(Arc::strong_count(&unit), 1 + threads as usize);

    // The main thread lets go of its handle: the threads still hold theirs.
    drop(unit);
    assert!(mapped(base, size), "unmapped while threads run in it");
    assert_eq!(SHARED_CLOSED.load(Ordering::Acquire), 0);

    // Release the threads one by one: the unit stays until the last.
    for (i, (release, handle)) in releases.iter().zip(handles).enumerate() {
        release.store(1, Ordering::Release);
        assert_eq!(handle.join().expect("the thread"), 42);
        let last = i + 1 == threads as usize;
        if !last {
            assert!(
                mapped(base, size),
                "unmapped after {} of {threads} threads",
                i + 1
            );
            assert_eq!(SHARED_CLOSED.load(Ordering::Acquire), 0);
        }
    }
    // The last thread's drop closed it: the destructor ran, the memory is gone.
    assert_eq!(SHARED_CLOSED.load(Ordering::Acquire), 1);
    assert!(
        !mapped(base, size),
        "the unit is still mapped after the last Arc dropped"
    );
}
