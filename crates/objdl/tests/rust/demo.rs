//! A Rust staticlib with std (`rustc --crate-type staticlib`), driven from
//! C (`main.c`): formatting, allocation, threads, `thread_local!` and
//! `catch_unwind` inside a unit that objdl loads.
use std::any::Any;
use std::cell::{Cell, RefCell};
use std::ffi::c_char;
use std::sync::atomic::{AtomicU32, Ordering};

thread_local! {
    /// `.tbss`: starts at zero in every thread.
    static COUNT: Cell<u32> = const { Cell::new(0) };
    /// `.tdata` holding a pointer: a relocated TLS initialiser.
    static NAME: Cell<&'static str> = const { Cell::new("initial") };
    /// Lazily initialised, with a destructor that runs at thread exit.
    static LOG: RefCell<Vec<String>> = RefCell::new(vec![String::from("start")]);
}

/// Counts its drops: a `thread_local!` destructor that must run at thread exit.
struct Noisy;

impl Drop for Noisy {
    fn drop(&mut self) {
        DROPS.fetch_add(1, Ordering::Relaxed);
    }
}

static DROPS: AtomicU32 = AtomicU32::new(0);

thread_local! {
    static NOISY: Noisy = const { Noisy };
}

/// Makes the calling thread's `NOISY` live, so that it drops at thread exit.
#[no_mangle]
pub extern "C" fn demo_touch() {
    NOISY.with(|_| {});
}

/// How many `NOISY`s have dropped.
#[no_mangle]
pub extern "C" fn demo_drops() -> u32 {
    DROPS.load(Ordering::Relaxed)
}

/// Copies `s` into `buf` (`cap` bytes), NUL-terminated; returns its length.
fn out(s: &str, buf: *mut c_char, cap: usize) -> usize {
    if cap > 0 {
        let n = s.len().min(cap - 1);
        // SAFETY: the caller passes a buffer of `cap` bytes.
        unsafe {
            std::ptr::copy_nonoverlapping(s.as_ptr(), buf.cast::<u8>(), n);
            *buf.add(n) = 0;
        }
    }
    s.len()
}

#[no_mangle]
pub extern "C" fn demo_format(x: u32, y: f64, buf: *mut c_char, cap: usize) -> usize {
    let s = format!(
        "x={x:08} y={y:.3} hex={x:#x} {:?} {:>6}|",
        ("tuple", [1, 2, 3]),
        "right"
    );
    out(&s, buf, cap)
}

#[no_mangle]
pub extern "C" fn demo_collect(n: u32, buf: *mut c_char, cap: usize) -> usize {
    let squares: Vec<u64> = (1..=u64::from(n)).map(|i| i * i).collect();
    let mut words: Vec<String> = squares.iter().map(|v| v.to_string()).collect();
    words.sort_by_key(|w| std::cmp::Reverse(w.len()));
    let mut m = std::collections::BTreeMap::new();
    for w in &words {
        *m.entry(w.len()).or_insert(0u32) += 1;
    }
    let s = format!(
        "sum={} words={} by_len={m:?}",
        squares.iter().sum::<u64>(),
        words.join(",")
    );
    out(&s, buf, cap)
}

#[no_mangle]
pub extern "C" fn demo_bump() -> u32 {
    COUNT.with(|c| {
        c.set(c.get() + 1);
        c.get()
    })
}

#[no_mangle]
pub extern "C" fn demo_name(buf: *mut c_char, cap: usize) -> usize {
    out(NAME.with(Cell::get), buf, cap)
}

#[no_mangle]
pub extern "C" fn demo_rename() {
    NAME.with(|n| n.set("renamed"));
    LOG.with(|l| l.borrow_mut().push("renamed".into()));
}

/// Four named threads, each with its own COUNT, NAME and LOG; joined.
#[no_mangle]
pub extern "C" fn demo_threads(buf: *mut c_char, cap: usize) -> usize {
    let handles: Vec<_> = (0..4)
        .map(|i| {
            std::thread::Builder::new()
                .name(format!("worker-{i}"))
                .spawn(move || {
                    let first = demo_bump();
                    for _ in 0..i {
                        demo_bump();
                    }
                    let name = NAME.with(Cell::get);
                    NAME.with(|n| n.set("worker"));
                    LOG.with(|l| l.borrow_mut().push(format!("w{i}")));
                    let log = LOG.with(|l| l.borrow().join("+"));
                    let me = std::thread::current();
                    format!(
                        "{}:{first}..{} {name} [{log}]",
                        me.name().unwrap_or("?"),
                        demo_bump()
                    )
                })
                .expect("spawn")
        })
        .collect();
    let results: Vec<String> = handles
        .into_iter()
        .map(|h| h.join().expect("join"))
        .collect();
    out(&results.join("; "), buf, cap)
}

fn payload(e: &(dyn Any + Send)) -> String {
    match (e.downcast_ref::<String>(), e.downcast_ref::<&str>()) {
        (Some(s), _) => s.clone(),
        (_, Some(s)) => (*s).to_string(),
        _ => String::from("?"),
    }
}

/// A panic caught inside the unit: 1 and its message in `buf`, or 0.
#[no_mangle]
pub extern "C" fn demo_catch(buf: *mut c_char, cap: usize) -> i32 {
    match std::panic::catch_unwind(|| -> u32 { panic!("boom {}", 6 * 7) }) {
        Err(e) => {
            out(&payload(&*e), buf, cap);
            1
        }
        Ok(_) => 0,
    }
}

/// A panic in a spawned thread, seen by `join`: 1 and its message, or 0.
#[no_mangle]
pub extern "C" fn demo_thread_panic(buf: *mut c_char, cap: usize) -> i32 {
    match std::thread::spawn(|| -> u32 { panic!("thread boom") }).join() {
        Err(e) => {
            out(&payload(&*e), buf, cap);
            1
        }
        Ok(_) => 0,
    }
}

/// The calling thread's name, as the unit's std knows it (`thread::current`
/// registers std's thread cleanup, a pthread key destructor in the unit).
#[no_mangle]
pub extern "C" fn demo_thread_name(buf: *mut c_char, cap: usize) -> usize {
    out(
        std::thread::current().name().unwrap_or("<unnamed>"),
        buf,
        cap,
    )
}

/// Replaces the unit's panic hook with one that prints nothing.
#[no_mangle]
pub extern "C" fn demo_quiet_panics() {
    std::panic::set_hook(Box::new(|_| {}));
}

/// Writes through Rust's own stdout and stderr.
#[no_mangle]
pub extern "C" fn demo_print(n: u32) {
    use std::io::Write;
    println!("rust println {n}: {:?}", (0..n).collect::<Vec<_>>());
    std::io::stdout().flush().expect("flush");
    eprintln!("rust eprintln {n}");
}
