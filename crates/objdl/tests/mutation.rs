//! Hostile inputs, in process: thousands of damaged copies of real objects
//! go through [`Linker::check`] at a fixed address ([`Placement::At`]), so
//! nothing is mapped and no code of theirs runs. None may panic, crash or
//! hang: each must link, or fail with a one-line error that names its input.
//!
//! The mutations are deterministic (a fixed xorshift seed): 1 to 8 bytes
//! changed anywhere (headers, the section table, the symbol table,
//! relocations, contents), truncations, and structured changes that set one
//! field of the file header, a section header, a symbol or a relocation to
//! 0, all ones, a value near a boundary, or a random value.

use common::Rng;
use objdl_testkit as common;
use std::mem::{offset_of, size_of};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use objdl::{Input, Linker, OpenOptions, Placement};
use object::elf::{self, FileHeader64, Rela64, SectionHeader64, Sym64};
use object::read::elf::{FileHeader as _, SectionHeader as _};
use object::LittleEndian as LE;

/// Where every check pretends the unit lies: below 2 GiB, so that 32-bit
/// absolute references to the unit itself fit too.
const AT: u64 = 0x1000_0000;

/// How many damaged inputs the test checks (`OBJDL_MUTANTS` overrides it,
/// and `OBJDL_MUTATION_SEED` the seed, for longer hunts).
const MUTANTS: usize = 20_000;

/// The seed of the mutations.
const SEED: u64 = 0x0bd1_5eed;

/// A number from the environment, or `default`.
fn env_or(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v} is not a number")),
        Err(_) => default,
    }
}

/// How long one check may take before the test calls it a hang.
const HANG: Duration = Duration::from_secs(30);

/// The main object: constructors and destructors (`.init_array`,
/// `.fini_array`), `.eh_frame`, `atexit`, a thread-local variable (TLSGD,
/// TLSLD and DTPOFF in every flavour thanks to the global-dynamic model), a
/// COMDAT group, an IFUNC, COMMON, weak definitions and references, pointers
/// in data (R_X86_64_64), calls and data references to libc, and a table
/// made in assembly for the rarer types: SIZE32/64, 8, 16, PC64, 32.
const MAIN_C: &str = r#"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef NO_TLS
#define TLS __attribute__((tls_model("global-dynamic")))
TLS __thread int tls_counter = 5;
static TLS __thread char tls_scratch[64];
#endif

int counter = 3;
int common_var;
static int zeroes[64];
const char *names[] = {"alpha", "beta", "gamma"};
static int twice(int x) { return 2 * x; }
static int thrice(int x) { return 3 * x; }
int (*ops[])(int) = {twice, thrice};
extern int small_value;
extern int maybe_there(void) __attribute__((weak));
__attribute__((weak)) int weak_fn(void) { return 1; }

static int add_generic(int x) { return x + 1; }
static int (*pick_add(void))(int) { return add_generic; }
int add(int) __attribute__((ifunc("pick_add")));

int shared_fn(void);
__asm__(".pushsection .text.shared_fn,\"axG\",@progbits,shared_fn,comdat\n"
        ".globl shared_fn\n.type shared_fn,@function\n"
        "shared_fn:\n movl $42, %eax\n ret\n.size shared_fn, .-shared_fn\n"
        ".popsection\n");

__asm__(".pushsection .data.misc,\"aw\",@progbits\n"
        ".globl misc_table\nmisc_table:\n"
        ".long counter@SIZE\n"
        ".quad names@SIZE\n"
#ifndef NO_ABS32
        ".byte small_value\n"
        ".word small_value\n"
#endif
        ".quad counter - .\n"
#ifndef NO_ABS32
        ".long counter\n"
#endif
        ".long counter - .\n"
        ".popsection\n");

static void bye(void) { counter = 0; }
__attribute__((constructor)) static void init(void) { counter += 1; atexit(bye); }
__attribute__((destructor)) static void fini(void) { counter -= 1; }

int helper(int x) { return x + counter + zeroes[x & 63] + common_var; }

int run(int n) {
    char buf[32];
    snprintf(buf, sizeof buf, "%d", n);
#ifndef NO_TLS
    tls_scratch[n & 63] = (char)n;
    tls_counter += tls_scratch[0];
#else
    int tls_counter = 0;
#endif
    fprintf(stderr, "%s\n", names[n % 3]);
    return (int)strlen(buf) + helper(n) + ops[n & 1](n) + weak_fn() + add(n)
        + (maybe_there ? maybe_there() : 0) + shared_fn() + tls_counter + small_value;
}
"#;

/// A second object with the same COMDAT group and references to the main one.
const PARTNER_C: &str = r#"
int shared_fn(void);
__asm__(".pushsection .text.shared_fn,\"axG\",@progbits,shared_fn,comdat\n"
        ".globl shared_fn\n.type shared_fn,@function\n"
        "shared_fn:\n movl $42, %eax\n ret\n.size shared_fn, .-shared_fn\n"
        ".popsection\n");
extern int counter;
int helper(int);
int partner(int x) { return helper(x) + counter + shared_fn(); }
"#;

/// The flavours of code the mutants start from.
const FLAVOURS: &[(&str, &[&str])] = &[
    ("pie", &["-fPIE"]),
    ("pic", &["-fPIC"]),
    ("large", &["-mcmodel=large"]),
    ("large-pic", &["-mcmodel=large", "-fPIC"]),
    ("nopic", &["-fno-pic", "-Wa,-mrelax-relocations=no"]),
    ("pic-gnu2", &["-fPIC", "-mtls-dialect=gnu2"]),
];

/// Compiles C `src` with `flags` into `dir/name.o` and returns its bytes.
fn compile(dir: &Path, name: &str, src: &str, flags: &[&str]) -> Vec<u8> {
    let object = common::compile(dir, name, src, &[&["-fcommon"], flags].concat());
    std::fs::read(object).expect("read the object")
}

/// A field of the file that structured mutations set: `width` bytes at
/// `at`, little-endian.
struct Field {
    at: usize,
    width: usize,
    what: String,
}

/// A byte range of the file worth damaging, with a name.
struct Region {
    range: std::ops::Range<usize>,
    what: String,
}

/// One object's patchable fields and interesting regions, found with `object`.
struct Anatomy {
    fields: Vec<Field>,
    regions: Vec<Region>,
}

type Elf = FileHeader64<LE>;

/// The fields of `T` (a `Pod` ELF structure) at `base`, given as (name,
/// offset, width) triples.
fn push_fields(out: &mut Vec<Field>, base: usize, prefix: &str, list: &[(&str, usize, usize)]) {
    for &(name, off, width) in list {
        out.push(Field {
            at: base + off,
            width,
            what: format!("{prefix}.{name}"),
        });
    }
}

fn anatomy(b: &[u8]) -> Anatomy {
    let h = Elf::parse(b).expect("an ELF64 object");
    let table = h.sections(LE, b).expect("a section table");
    let mut fields = Vec::new();
    let mut regions = vec![Region {
        range: 0..size_of::<Elf>(),
        what: "the ELF header".into(),
    }];
    type H = FileHeader64<LE>;
    push_fields(
        &mut fields,
        0,
        "ehdr",
        &[
            ("e_type", offset_of!(H, e_type), 2),
            ("e_machine", offset_of!(H, e_machine), 2),
            ("e_shoff", offset_of!(H, e_shoff), 8),
            ("e_ehsize", offset_of!(H, e_ehsize), 2),
            ("e_shentsize", offset_of!(H, e_shentsize), 2),
            ("e_shnum", offset_of!(H, e_shnum), 2),
            ("e_shstrndx", offset_of!(H, e_shstrndx), 2),
        ],
    );
    let shoff = h.e_shoff(LE) as usize;
    let shsize = size_of::<SectionHeader64<LE>>();
    regions.push(Region {
        range: shoff..shoff + table.len() * shsize,
        what: "the section table".into(),
    });
    type S = SectionHeader64<LE>;
    for (i, sh) in table.iter().enumerate() {
        let name = String::from_utf8_lossy(table.section_name(LE, sh).unwrap_or(b"?")).into_owned();
        push_fields(
            &mut fields,
            shoff + i * shsize,
            &format!("shdr[{i} {name}]"),
            &[
                ("sh_name", offset_of!(S, sh_name), 4),
                ("sh_type", offset_of!(S, sh_type), 4),
                ("sh_flags", offset_of!(S, sh_flags), 8),
                ("sh_offset", offset_of!(S, sh_offset), 8),
                ("sh_size", offset_of!(S, sh_size), 8),
                ("sh_link", offset_of!(S, sh_link), 4),
                ("sh_info", offset_of!(S, sh_info), 4),
                ("sh_addralign", offset_of!(S, sh_addralign), 8),
                ("sh_entsize", offset_of!(S, sh_entsize), 8),
            ],
        );
        if sh.sh_type(LE) == elf::SHT_NOBITS {
            continue;
        }
        let (off, size) = (sh.sh_offset(LE) as usize, sh.sh_size(LE) as usize);
        if size > 0 {
            regions.push(Region {
                range: off..off + size,
                what: format!("section {name}"),
            });
        }
        let base = off;
        match sh.sh_type(LE) {
            elf::SHT_SYMTAB => {
                type Y = Sym64<LE>;
                for k in 0..size / size_of::<Y>() {
                    push_fields(
                        &mut fields,
                        base + k * size_of::<Y>(),
                        &format!("sym[{k}]"),
                        &[
                            ("st_name", offset_of!(Y, st_name), 4),
                            ("st_info", offset_of!(Y, st_info), 1),
                            ("st_other", offset_of!(Y, st_other), 1),
                            ("st_shndx", offset_of!(Y, st_shndx), 2),
                            ("st_value", offset_of!(Y, st_value), 8),
                            ("st_size", offset_of!(Y, st_size), 8),
                        ],
                    );
                }
            }
            elf::SHT_RELA => {
                type R = Rela64<LE>;
                let info = offset_of!(R, r_info);
                for k in 0..size / size_of::<R>() {
                    // r_info is (symbol << 32) | type, little-endian.
                    push_fields(
                        &mut fields,
                        base + k * size_of::<R>(),
                        &format!("{name}[{k}]"),
                        &[
                            ("r_offset", offset_of!(R, r_offset), 8),
                            ("r_info.type", info, 4),
                            ("r_info.sym", info + 4, 4),
                            ("r_addend", offset_of!(R, r_addend), 8),
                        ],
                    );
                }
            }
            elf::SHT_GROUP => {
                for k in 0..size / 4 {
                    push_fields(
                        &mut fields,
                        base + 4 * k,
                        &format!("{name}[{k}]"),
                        &[("word", 0, 4)],
                    );
                }
            }
            _ => {}
        }
    }
    Anatomy { fields, regions }
}

/// Reads the `width`-byte little-endian value at `at`.
fn read_le(b: &[u8], at: usize, width: usize) -> u64 {
    let mut v = [0u8; 8];
    v[..width].copy_from_slice(&b[at..at + width]);
    u64::from_le_bytes(v)
}

/// Writes the low `width` bytes of `v` at `at`, little-endian.
fn write_le(b: &mut [u8], at: usize, width: usize, v: u64) {
    b[at..at + width].copy_from_slice(&v.to_le_bytes()[..width]);
}

/// Damages a copy of `original` in one of several ways; returns it and
/// what was done.
fn mutate(rng: &mut Rng, original: &[u8], anatomy: &Anatomy) -> (Vec<u8>, String) {
    let mut b = original.to_vec();
    let len = b.len();
    match rng.below(20) {
        // Truncation: anywhere, or just around a region's start or end.
        0..=1 => {
            let at = if rng.below(2) == 0 {
                rng.below(len as u64) as usize
            } else {
                let r = &rng.pick(&anatomy.regions).range;
                let edge = if rng.below(2) == 0 { r.start } else { r.end };
                (edge + rng.below(9) as usize)
                    .saturating_sub(4)
                    .min(len - 1)
            };
            b.truncate(at);
            (b, format!("truncated to {at} bytes"))
        }
        // 1 to 8 bytes, anywhere in the file or in one region.
        2..=9 => {
            let n = 1 + rng.below(8) as usize;
            let region = if rng.below(4) == 0 {
                None
            } else {
                Some(rng.pick(&anatomy.regions))
            };
            let mut what = Vec::new();
            for _ in 0..n {
                let at = match region {
                    Some(r) => r.range.start + rng.below(r.range.len() as u64) as usize,
                    None => rng.below(len as u64) as usize,
                };
                let v = match rng.below(4) {
                    0 => b[at] ^ (1 << rng.below(8)),
                    1 => *rng.pick(&[0u8, 0xff, 0x7f, 0x80]),
                    _ => rng.next() as u8,
                };
                b[at] = v;
                what.push(format!("[{at:#x}]={v:#04x}"));
            }
            let place = region.map_or("the file", |r| r.what.as_str());
            (b, format!("{n} byte(s) in {place}: {}", what.join(" ")))
        }
        // One field of a header, a symbol, a relocation or a group.
        _ => {
            let f = rng.pick(&anatomy.fields);
            let old = read_le(&b, f.at, f.width);
            let ones = if f.width == 8 {
                u64::MAX
            } else {
                (1u64 << (8 * f.width)) - 1
            };
            let v = match rng.below(11) {
                0 => 0,
                1 => ones,
                2 => old.wrapping_add(1),
                3 => old.wrapping_sub(1),
                4 => ones >> 1,
                5 => (ones >> 1) + 1,
                6 => len as u64 + rng.below(64) - 32,
                7 => old ^ (1 << rng.below(8 * f.width as u64)),
                8 => rng.below(64),
                9 => 1 << rng.below(64),
                _ => rng.next(),
            } & ones;
            write_le(&mut b, f.at, f.width, v);
            (b, format!("{} {old:#x} -> {v:#x}", f.what))
        }
    }
}

/// What one mutant did.
#[derive(Default)]
struct Tally {
    ok: usize,
    err: usize,
    panics: Vec<String>,
    bad_messages: Vec<String>,
    slowest: (Duration, String),
    /// Error kinds seen (the text after the file name, up to the first colon), with counts.
    kinds: std::collections::BTreeMap<String, usize>,
}

/// The kind of an error, for the summary: its variant and the first words
/// of its message, without input, section and symbol names or numbers.
fn kind(e: &objdl::Error, names: &[String]) -> String {
    let debug = format!("{e:?}");
    let variant: String = debug
        .chars()
        .take_while(char::is_ascii_alphanumeric)
        .collect();
    let mut msg = e.to_string();
    for n in names {
        msg = msg.replace(n.as_str(), "");
    }
    let mut words: Vec<&str> = Vec::new();
    let mut after_noun = false;
    for w in msg.split_whitespace() {
        let blur = after_noun
            || w.starts_with('.')
            || w.starts_with('`')
            || w.starts_with(':')
            || w.starts_with('(')
            || w.chars().any(|c| c.is_ascii_digit());
        after_noun = matches!(w, "section" | "symbol" | "against");
        if !blur && !matches!(w, "malformed:" | "unsupported:") {
            words.push(w.trim_end_matches(':'));
        }
        if words.len() == 7 {
            break;
        }
    }
    format!("{variant:<22} {}", words.join(" "))
}

#[test]
fn mutated_objects_never_panic_and_fail_cleanly() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut bases: Vec<(String, Vec<u8>, Vec<u8>)> = Vec::new();
    for (name, flags) in FLAVOURS {
        let main = compile(dir.path(), &format!("main-{name}"), MAIN_C, flags);
        let partner = compile(dir.path(), &format!("partner-{name}"), PARTNER_C, flags);
        bases.push((name.to_string(), main, partner));
    }
    let linker = Linker::new();
    linker.define("small_value", 7usize as *const ());
    linker.define("maybe_there", std::ptr::null());
    let mut opts = OpenOptions::new();
    opts.placement(Placement::At(AT));

    // Every intact object links, alone and with its partner.
    for (name, main, partner) in &bases {
        let report = linker
            .check([Input::bytes(format!("{name}.o"), main.clone())], &opts)
            .unwrap_or_else(|e| panic!("intact {name} object: {e}"));
        assert!(report.stats.relocations > 20, "{name}: {}", report.stats);
        linker
            .check(
                [
                    Input::bytes(format!("{name}.o"), main.clone()),
                    Input::bytes(format!("{name}-partner.o"), partner.clone()),
                ],
                &opts,
            )
            .unwrap_or_else(|e| panic!("intact {name} pair: {e}"));
    }
    let mutants = env_or("OBJDL_MUTANTS", MUTANTS as u64) as usize;
    let seed = env_or("OBJDL_MUTATION_SEED", SEED);
    hunt(bases, mutants, seed, move |inputs| {
        linker.check(inputs, &opts).map(drop)
    });
}

/// The same, through a real open (mapped where the kernel likes, nothing
/// run: `no_exec`) of objects whose relocation types never constrain the
/// base: the path that relocates without planning and checks each
/// relocation as it applies it.
#[test]
fn mutated_objects_open_without_planning_never_panic() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut bases: Vec<(String, Vec<u8>, Vec<u8>)> = Vec::new();
    for (name, flags) in &FLAVOURS[..4] {
        let mut flags = flags.to_vec();
        flags.extend(["-DNO_TLS", "-DNO_ABS32"]);
        let main = compile(dir.path(), &format!("main-{name}"), MAIN_C, &flags);
        let partner = compile(dir.path(), &format!("partner-{name}"), PARTNER_C, &flags);
        bases.push((name.to_string(), main, partner));
    }
    // And one with thread-locals, which always goes to the planner: a
    // mutant that damages its TLS sections must not slip past it (an empty
    // `.tdata` with a relocation once did).
    let flags = ["-fPIC", "-DNO_ABS32"];
    let main = compile(dir.path(), "main-pic-tls", MAIN_C, &flags);
    let partner = compile(dir.path(), "partner-pic-tls", PARTNER_C, &flags);
    bases.push(("pic-tls".to_string(), main, partner));
    let linker = Linker::new();
    linker.define("small_value", 7usize as *const ());
    linker.define("maybe_there", std::ptr::null());
    let open = move |inputs: Vec<Input>| {
        // SAFETY: `no_exec`: nothing of the unit runs, not even its
        // initialisers or IFUNC resolvers; it is closed at once.
        unsafe { OpenOptions::new().no_exec(true).open(&linker, inputs) }.map(drop)
    };
    for (name, main, partner) in &bases {
        open(vec![Input::bytes(format!("{name}.o"), main.clone())])
            .unwrap_or_else(|e| panic!("intact {name} object: {e}"));
        open(vec![
            Input::bytes(format!("{name}.o"), main.clone()),
            Input::bytes(format!("{name}-partner.o"), partner.clone()),
        ])
        .unwrap_or_else(|e| panic!("intact {name} pair: {e}"));
    }
    let mutants = env_or("OBJDL_MUTANTS", MUTANTS as u64 / 4) as usize;
    let seed = env_or("OBJDL_MUTATION_SEED", SEED);
    hunt(bases, mutants, seed, open);
}

/// Runs `mutants` damaged inputs made from `bases` (flavour, main object,
/// partner) through `link` on a worker thread (this one watches for
/// hangs), and asserts that none panicked, that every error is one line
/// naming an input, and that both outcomes occur in numbers.
fn hunt(
    bases: Vec<(String, Vec<u8>, Vec<u8>)>,
    mutants: usize,
    seed: u64,
    link: impl Fn(Vec<Input>) -> Result<(), objdl::Error> + Send + 'static,
) {
    let anatomies: Vec<(Anatomy, Anatomy)> = bases
        .iter()
        .map(|(_, m, p)| (anatomy(m), anatomy(p)))
        .collect();

    // The mutants run on a worker thread; this thread watches for hangs.
    let progress = Arc::new(AtomicUsize::new(0));
    let current = Arc::new(Mutex::new(String::new()));
    let done = Arc::new(AtomicBool::new(false));
    let worker = {
        let (progress, current, done) = (progress.clone(), current.clone(), done.clone());
        std::thread::spawn(move || {
            let mut rng = Rng::new(seed);
            let mut tally = Tally::default();
            for i in 0..mutants {
                let which = i % bases.len();
                let (flavour, main, partner) = &bases[which];
                // One mutant in four damages the partner of an intact main object.
                let damage_partner = rng.below(4) == 0;
                let (original, anat) = if damage_partner {
                    (partner, &anatomies[which].1)
                } else {
                    (main, &anatomies[which].0)
                };
                let (bytes, what) = mutate(&mut rng, original, anat);
                let name = format!("mutant-{i:04}.o");
                let desc = format!(
                    "{name} ({flavour} {}): {what}",
                    if damage_partner { "partner" } else { "main" }
                );
                *current.lock().expect("lock") = desc.clone();
                let inputs = if damage_partner {
                    vec![
                        Input::bytes(format!("{flavour}.o"), main.clone()),
                        Input::bytes(name.clone(), bytes),
                    ]
                } else if rng.below(3) == 0 {
                    vec![
                        Input::bytes(name.clone(), bytes),
                        Input::bytes(format!("{flavour}-partner.o"), partner.clone()),
                    ]
                } else {
                    vec![Input::bytes(name.clone(), bytes)]
                };
                let names: Vec<String> = inputs.iter().map(Input::name).collect();
                let started = Instant::now();
                let result = catch_unwind(AssertUnwindSafe(|| link(inputs)));
                let took = started.elapsed();
                if took > tally.slowest.0 {
                    tally.slowest = (took, desc.clone());
                }
                match result {
                    Err(p) => {
                        let msg = p
                            .downcast_ref::<String>()
                            .cloned()
                            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                            .unwrap_or_default();
                        tally.panics.push(format!("{desc}: PANIC {msg}"));
                    }
                    Ok(Ok(_)) => tally.ok += 1,
                    Ok(Err(e)) => {
                        tally.err += 1;
                        let msg = e.to_string();
                        *tally.kinds.entry(kind(&e, &names)).or_default() += 1;
                        if msg.contains('\n') || !names.iter().any(|n| msg.contains(n.as_str())) {
                            tally.bad_messages.push(format!("{desc}: {msg:?}"));
                        }
                    }
                }
                progress.store(i + 1, Ordering::Release);
            }
            done.store(true, Ordering::Release);
            tally
        })
    };
    let mut last = (0, Instant::now());
    while !done.load(Ordering::Acquire) {
        std::thread::sleep(Duration::from_millis(50));
        let p = progress.load(Ordering::Acquire);
        if p != last.0 {
            last = (p, Instant::now());
        } else if last.1.elapsed() > HANG {
            panic!(
                "a check hung for more than {HANG:?}: {}",
                current.lock().expect("lock")
            );
        }
    }
    let tally = worker
        .join()
        .expect("the worker never panics outside catch_unwind");

    eprintln!(
        "{mutants} mutants (seed {seed:#x}): {} linked, {} refused cleanly, {} panics, {} bad messages; slowest check {:?} ({})",
        tally.ok,
        tally.err,
        tally.panics.len(),
        tally.bad_messages.len(),
        tally.slowest.0,
        tally.slowest.1
    );
    for (k, n) in &tally.kinds {
        eprintln!("  {n:5}  {k}");
    }
    for p in &tally.panics {
        eprintln!("{p}");
    }
    for m in &tally.bad_messages {
        eprintln!("{m}");
    }
    assert!(
        tally.panics.is_empty(),
        "{} mutants panicked",
        tally.panics.len()
    );
    assert!(
        tally.bad_messages.is_empty(),
        "{} errors were not one line naming the input",
        tally.bad_messages.len()
    );
    assert_eq!(tally.ok + tally.err, mutants);
    // The mix is useful: both outcomes occur in numbers.
    assert!(tally.ok >= mutants / 20, "only {} mutants linked", tally.ok);
    assert!(
        tally.err >= mutants / 4,
        "only {} mutants were refused",
        tally.err
    );
}
