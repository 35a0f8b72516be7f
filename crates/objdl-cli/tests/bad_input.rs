//! Broken, hostile and unsupported inputs: `objdl run` must exit with 125
//! and print exactly one `objdl: error: ` line naming the file, and must
//! never crash or hang. A deterministic mutation loop checks the same for
//! many damaged variants of a real object.

use std::ffi::OsStr;
use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

const OBJDL: &str = env!("CARGO_BIN_EXE_objdl");

/// How long one `objdl run` may take.
const TIMEOUT: Duration = Duration::from_secs(20);

/// A small program with code, data, read-only data, a call into libc, local
/// and global symbols and unwind tables: the base of most damaged inputs.
const SMALL_C: &str = r#"
#include <stdio.h>
int counter = 3;
static int zeroes[16];
static const char *msg = "mutant";
int helper(int x) { return x + counter + zeroes[x & 15]; }
int main(void) { printf("%s %d\n", msg, helper(1)); return 0; }
"#;

struct Run {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

/// Runs `objdl run ARGS...` with an empty stdin; fails the test if it does
/// not finish within [`TIMEOUT`].
fn objdl_run<I, S>(args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let (run, timed_out) = objdl_run_for(args, TIMEOUT);
    assert!(
        !timed_out,
        "objdl hung: no exit within {TIMEOUT:?}: {}",
        run.stderr
    );
    run
}

/// Runs `objdl run ARGS...` with an empty stdin, killing it after `limit`;
/// the flag tells whether it had to be killed.
fn objdl_run_for<I, S>(args: I, limit: Duration) -> (Run, bool)
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut cmd = Command::new(OBJDL);
    cmd.arg("run")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn objdl");
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let out_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let err_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        v
    });
    let start = Instant::now();
    let mut timed_out = false;
    let status = loop {
        if let Some(s) = child.try_wait().expect("try_wait") {
            break s;
        }
        if start.elapsed() > limit {
            timed_out = true;
            let _ = child.kill();
            break child.wait().expect("wait");
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    let run = Run {
        status,
        stdout: String::from_utf8_lossy(&out_reader.join().expect("reader")).into_owned(),
        stderr: String::from_utf8_lossy(&err_reader.join().expect("reader")).into_owned(),
    };
    (run, timed_out)
}

/// Asserts a clean objdl failure: status 125, no signal, and stderr is one
/// `objdl: error: ` line that contains each of `names`. Returns that line.
fn expect_error<I, S>(args: I, names: &[&str]) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let args: Vec<std::ffi::OsString> = args.into_iter().map(|a| a.as_ref().into()).collect();
    let run = objdl_run(&args);
    let ctx = format!(
        "objdl run {args:?}: status {:?}\nstdout: {}\nstderr: {}",
        run.status, run.stdout, run.stderr
    );
    assert_eq!(run.status.signal(), None, "killed by a signal: {ctx}");
    assert_eq!(run.status.code(), Some(125), "{ctx}");
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "not exactly one line on stderr: {ctx}");
    assert!(run.stderr.ends_with('\n'), "{ctx}");
    let line = lines[0];
    assert!(line.starts_with("objdl: error: "), "{ctx}");
    for name in names {
        assert!(line.contains(name), "`{name}` is not named: {ctx}");
    }
    line.to_string()
}

/// Compiles `source` (C) to an object in `dir`, with extra `flags`.
fn compile(dir: &Path, name: &str, source: &str, flags: &[&str]) -> PathBuf {
    let src = dir.join(format!("{name}.c"));
    std::fs::write(&src, source).expect("write source");
    let obj = dir.join(format!("{name}.o"));
    let cc = std::env::var("CC").unwrap_or_else(|_| "gcc".to_string());
    let out = Command::new(cc)
        .args(["-O2", "-c"])
        .args(flags)
        .arg(&src)
        .arg("-o")
        .arg(&obj)
        .output()
        .expect("run the C compiler");
    assert!(
        out.status.success(),
        "compiling {name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    obj
}

/// A fresh temporary directory holding the compiled [`SMALL_C`].
fn small_object() -> (tempfile::TempDir, PathBuf, Vec<u8>) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let obj = compile(dir.path(), "small", SMALL_C, &[]);
    let bytes = std::fs::read(&obj).expect("read object");
    (dir, obj, bytes)
}

/// Writes `bytes` to `dir/name` and expects a clean error naming that path.
fn expect_error_for_bytes(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write input");
    expect_error([&path], &[path.to_str().expect("UTF-8 path")])
}

// ---- A few lines of ELF64 reading, for patching real objects. ----

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes(b[at..at + 2].try_into().unwrap())
}
fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}
fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}
fn put_u16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_le_bytes());
}
fn put_u64(b: &mut [u8], at: usize, v: u64) {
    b[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

const SHT_RELA: u32 = 4;
const SHT_NOBITS: u32 = 8;
const SHF_EXECINSTR: u64 = 4;

/// One section header, with the file offset of the header itself.
#[derive(Debug, Clone)]
struct Shdr {
    /// Where this header is in the file.
    at: usize,
    name: String,
    sh_type: u32,
    flags: u64,
    offset: u64,
    size: u64,
    info: u32,
}

fn section_headers(b: &[u8]) -> Vec<Shdr> {
    let shoff = u64_at(b, 0x28) as usize;
    let entsize = u16_at(b, 0x3a) as usize;
    let num = u16_at(b, 0x3c) as usize;
    let strndx = u16_at(b, 0x3e) as usize;
    let raw = |i: usize| {
        let at = shoff + i * entsize;
        (
            at,
            u32_at(b, at),
            u32_at(b, at + 4),
            u64_at(b, at + 8),
            u64_at(b, at + 0x18),
            u64_at(b, at + 0x20),
            u32_at(b, at + 0x2c),
        )
    };
    let strtab_offset = raw(strndx).4 as usize;
    (0..num)
        .map(|i| {
            let (at, name, sh_type, flags, offset, size, info) = raw(i);
            let start = strtab_offset + name as usize;
            let end = start + b[start..].iter().position(|&c| c == 0).unwrap();
            Shdr {
                at,
                name: String::from_utf8_lossy(&b[start..end]).into_owned(),
                sh_type,
                flags,
                offset,
                size,
                info,
            }
        })
        .collect()
}

fn section<'a>(headers: &'a [Shdr], name: &str) -> &'a Shdr {
    headers
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no section {name}"))
}

fn first_rela(headers: &[Shdr]) -> &Shdr {
    headers
        .iter()
        .find(|s| s.sh_type == SHT_RELA && s.size >= 24)
        .expect("a relocation section")
}

/// A simple deterministic xorshift64* generator.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

// ---- Not an object at all. ----

#[test]
fn empty_file() {
    let dir = tempfile::tempdir().unwrap();
    expect_error_for_bytes(dir.path(), "empty.o", b"");
}

#[test]
fn truncated_objects() {
    let (dir, _obj, bytes) = small_object();
    for len in [1, 4, 10, 16, 63, 64, 65, bytes.len() / 2, bytes.len() - 1] {
        expect_error_for_bytes(dir.path(), &format!("trunc{len}.o"), &bytes[..len]);
    }
}

#[test]
fn random_garbage() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng::new(7);
    let garbage: Vec<u8> = (0..4096).map(|_| rng.next() as u8).collect();
    expect_error_for_bytes(dir.path(), "garbage.o", &garbage);
    // Garbage behind a valid magic number.
    let mut elfish = garbage.clone();
    elfish[..4].copy_from_slice(b"\x7fELF");
    expect_error_for_bytes(dir.path(), "elfish.o", &elfish);
}

#[test]
fn text_file() {
    let dir = tempfile::tempdir().unwrap();
    expect_error_for_bytes(
        dir.path(),
        "notes.txt",
        b"This is not an object file.\nIt has two lines.\n",
    );
    // A C source that is not named .c is not compiled: still an error.
    expect_error_for_bytes(dir.path(), "prog.o", SMALL_C.as_bytes());
}

#[test]
fn directory_as_input() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_str().unwrap();
    expect_error([path], &[path]);
}

// ---- Well-formed, but not x86-64 ELF64 little-endian ET_REL. ----

#[test]
fn elf32_patched_class() {
    let (dir, _obj, mut bytes) = small_object();
    bytes[4] = 1; // ELFCLASS32
    let line = expect_error_for_bytes(dir.path(), "class32.o", &bytes);
    assert!(line.contains("class") || line.contains("32"), "{line}");
}

#[test]
fn elf32_real_object() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("m32.c");
    std::fs::write(&src, SMALL_C).unwrap();
    let obj = dir.path().join("m32.o");
    let cc = std::env::var("CC").unwrap_or_else(|_| "gcc".to_string());
    let ok = Command::new(cc)
        .args(["-m32", "-O2", "-c"])
        .arg(&src)
        .arg("-o")
        .arg(&obj)
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        eprintln!("skipping: `gcc -m32 -c` does not work here");
        return;
    }
    expect_error([&obj], &[obj.to_str().unwrap()]);
}

#[test]
fn other_machine() {
    let (dir, _obj, mut bytes) = small_object();
    put_u16(&mut bytes, 18, 183); // EM_AARCH64
    let line = expect_error_for_bytes(dir.path(), "aarch64.o", &bytes);
    assert!(line.contains("183") || line.contains("machine"), "{line}");
}

#[test]
fn big_endian() {
    let (dir, _obj, mut bytes) = small_object();
    bytes[5] = 2; // ELFDATA2MSB
    expect_error_for_bytes(dir.path(), "msb.o", &bytes);
    bytes[5] = 0; // ELFDATANONE
    expect_error_for_bytes(dir.path(), "nodata.o", &bytes);
}

#[test]
fn not_relocatable() {
    let (dir, _obj, bytes) = small_object();
    for (e_type, name) in [(2, "exec.o"), (3, "dyn.o"), (4, "core.o"), (0xfe00, "os.o")] {
        let mut b = bytes.clone();
        put_u16(&mut b, 16, e_type);
        expect_error_for_bytes(dir.path(), name, &b);
    }
}

#[test]
fn shared_library_and_executable_as_input() {
    for lib in [
        "/lib/x86_64-linux-gnu/libm.so.6",
        "/usr/lib/x86_64-linux-gnu/libm.so.6",
    ] {
        if Path::new(lib).exists() {
            expect_error([lib], &[lib]);
            break;
        }
    }
    // A linked executable (PIE, so ET_DYN) and a non-PIE one (ET_EXEC).
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("exe.c");
    std::fs::write(&src, SMALL_C).unwrap();
    let cc = std::env::var("CC").unwrap_or_else(|_| "gcc".to_string());
    for (name, flags) in [("pie-exe", &["-pie"][..]), ("exec-exe", &["-no-pie"][..])] {
        let exe = dir.path().join(name);
        let out = Command::new(&cc)
            .args(flags)
            .arg(&src)
            .arg("-o")
            .arg(&exe)
            .output()
            .expect("run the C compiler");
        assert!(out.status.success(), "{name}");
        expect_error([&exe], &[exe.to_str().unwrap()]);
    }
}

// ---- Malformed section headers and relocations. ----

#[test]
fn section_contents_outside_the_file() {
    let (dir, _obj, bytes) = small_object();
    let headers = section_headers(&bytes);
    let len = bytes.len() as u64;
    for name in [".text", ".data", ".rodata.str1.1", ".eh_frame", ".symtab"] {
        let s = section(&headers, name).clone();
        let tag = name.trim_start_matches('.').replace('.', "_");
        // Offset beyond the end.
        let mut b = bytes.clone();
        put_u64(&mut b, s.at + 0x18, len + 0x100);
        expect_error_for_bytes(dir.path(), &format!("{tag}-offset.o"), &b);
        // Offset so large that offset + size wraps.
        let mut b = bytes.clone();
        put_u64(&mut b, s.at + 0x18, u64::MAX - 2);
        expect_error_for_bytes(dir.path(), &format!("{tag}-wrap.o"), &b);
        // Size running past the end.
        let mut b = bytes.clone();
        put_u64(&mut b, s.at + 0x20, len);
        expect_error_for_bytes(dir.path(), &format!("{tag}-size.o"), &b);
        // A huge size.
        let mut b = bytes.clone();
        put_u64(&mut b, s.at + 0x20, 0x1000_0000_0000_0000);
        expect_error_for_bytes(dir.path(), &format!("{tag}-huge.o"), &b);
    }
}

#[test]
fn huge_bss() {
    let (dir, _obj, bytes) = small_object();
    let headers = section_headers(&bytes);
    let bss = headers
        .iter()
        .find(|s| s.sh_type == SHT_NOBITS)
        .expect("a .bss section");
    for (size, tag) in [
        (0x1000_0000_0000_0000u64, "huge"),
        (u64::MAX, "max"),
        (1 << 40, "1tib"),
    ] {
        let mut b = bytes.clone();
        put_u64(&mut b, bss.at + 0x20, size);
        expect_error_for_bytes(dir.path(), &format!("bss-{tag}.o"), &b);
    }
}

#[test]
fn relocation_symbol_index_out_of_range() {
    let (dir, _obj, bytes) = small_object();
    let headers = section_headers(&bytes);
    let rela = first_rela(&headers);
    let r_info_at = rela.offset as usize + 8;
    for sym in [0x00ff_ffffu64, 0xffff_ffff] {
        let mut b = bytes.clone();
        let r_type = u64_at(&b, r_info_at) & 0xffff_ffff;
        put_u64(&mut b, r_info_at, (sym << 32) | r_type);
        expect_error_for_bytes(dir.path(), &format!("relsym{sym:x}.o"), &b);
    }
}

#[test]
fn relocation_offset_outside_its_section() {
    let (dir, _obj, bytes) = small_object();
    let headers = section_headers(&bytes);
    let rela = first_rela(&headers);
    let target_size = headers[rela.info as usize].size;
    for offset in [target_size, target_size - 1, 0xffff_fff0, u64::MAX - 1] {
        let mut b = bytes.clone();
        put_u64(&mut b, rela.offset as usize, offset);
        expect_error_for_bytes(dir.path(), &format!("reloff{offset:x}.o"), &b);
    }
}

#[test]
fn relocation_section_with_bad_target_or_entry_size() {
    let (dir, _obj, bytes) = small_object();
    let headers = section_headers(&bytes);
    let rela = first_rela(&headers).clone();
    // sh_info naming a section that does not exist.
    let mut b = bytes.clone();
    b[rela.at + 0x2c..rela.at + 0x30].copy_from_slice(&0xffffu32.to_le_bytes());
    let path = dir.path().join("relinfo.o");
    std::fs::write(&path, &b).unwrap();
    // A relocation section for a section that does not exist may be ignored
    // or rejected, but never crash.
    let run = objdl_run([&path]);
    assert_eq!(run.status.signal(), None, "{}", run.stderr);
    assert!(run.stderr.lines().count() <= 1, "{}", run.stderr);
    // A size that is not a multiple of the entry size.
    let mut b = bytes.clone();
    put_u64(&mut b, rela.at + 0x20, rela.size - 1);
    expect_error_for_bytes(dir.path(), "relsize.o", &b);
}

#[test]
fn section_header_table_outside_the_file() {
    let (dir, _obj, bytes) = small_object();
    let len = bytes.len() as u64;
    // e_shoff beyond the end, and so large it wraps.
    for (shoff, tag) in [
        (len + 64, "past"),
        (len - 8, "tail"),
        (u64::MAX - 63, "wrap"),
    ] {
        let mut b = bytes.clone();
        put_u64(&mut b, 0x28, shoff);
        expect_error_for_bytes(dir.path(), &format!("shoff-{tag}.o"), &b);
    }
    // e_shnum larger than what the file holds.
    for shnum in [0x100u16, 0xfeff, 0xffff] {
        let mut b = bytes.clone();
        put_u16(&mut b, 0x3c, shnum);
        expect_error_for_bytes(dir.path(), &format!("shnum-{shnum:x}.o"), &b);
    }
    // e_shstrndx out of range.
    let mut b = bytes.clone();
    put_u16(&mut b, 0x3e, 0xfeff);
    expect_error_for_bytes(dir.path(), "shstrndx.o", &b);
    // e_shentsize not the size of a section header.
    let mut b = bytes.clone();
    put_u16(&mut b, 0x3a, 12);
    expect_error_for_bytes(dir.path(), "shentsize.o", &b);
}

/// The file offset of the symbol table entry (Elf64_Sym) named `name`.
fn symbol_entry(bytes: &[u8], headers: &[Shdr], name: &str) -> usize {
    let symtab = section(headers, ".symtab");
    let strtab = section(headers, ".strtab");
    (0..symtab.size as usize / 24)
        .map(|i| symtab.offset as usize + i * 24)
        .find(|&at| {
            let start = strtab.offset as usize + u32_at(bytes, at) as usize;
            bytes[start..].starts_with(name.as_bytes()) && bytes[start + name.len()] == 0
        })
        .unwrap_or_else(|| panic!("no symbol {name}"))
}

/// A symbol name with a newline in it (found by the mutation loop): the
/// error naming it must still be one line.
#[test]
fn symbol_name_with_a_newline() {
    let (dir, _obj, mut bytes) = small_object();
    let headers = section_headers(&bytes);
    let at = symbol_entry(&bytes, &headers, "printf");
    let name_at = section(&headers, ".strtab").offset as usize + u32_at(&bytes, at) as usize;
    bytes[name_at + 4] = b'\n'; // "prin\nf": unresolved
    let line = expect_error_for_bytes(dir.path(), "newline-symbol.o", &bytes);
    assert!(line.contains("prin\\nf"), "{line}");
}

/// A path with a newline in it: still one line.
#[test]
fn file_name_with_a_newline() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("two\nlines.o");
    expect_error([&path], &["two\\nlines.o"]);
    std::fs::write(&path, b"garbage").unwrap();
    expect_error([&path], &["two\\nlines.o"]);
}

/// `main` defined in a section that is not loaded (found by the mutation
/// loop: objdl called address 0).
#[test]
fn entry_point_in_a_section_that_is_not_loaded() {
    let (dir, _obj, mut bytes) = small_object();
    let headers = section_headers(&bytes);
    let comment = headers
        .iter()
        .position(|s| s.name == ".comment")
        .expect("a .comment section");
    let at = symbol_entry(&bytes, &headers, "main");
    put_u16(&mut bytes, at + 6, comment as u16); // st_shndx
    let path = dir.path().join("main-in-comment.o");
    std::fs::write(&path, &bytes).unwrap();
    expect_error([&path], &["main"]);
    // A reference to a symbol in such a section is an error that names the file.
    let (dir, _obj, mut bytes) = small_object();
    let at = symbol_entry(&bytes, &headers, "counter");
    put_u16(&mut bytes, at + 6, comment as u16);
    expect_error_for_bytes(dir.path(), "counter-in-comment.o", &bytes);
}

// ---- Link errors. ----

#[test]
fn unresolved_symbols_are_all_named() {
    let dir = tempfile::tempdir().unwrap();
    let obj = compile(
        dir.path(),
        "unresolved",
        r#"
        void no_such_function_xyz(void);
        extern int no_such_data_abc;
        int main(void) { no_such_function_xyz(); return no_such_data_abc; }
        "#,
        &[],
    );
    let obj_name = obj.to_str().unwrap();
    expect_error(
        [obj_name],
        &["no_such_function_xyz", "no_such_data_abc", obj_name],
    );
    // The same from -fPIC code.
    let pic = compile(
        dir.path(),
        "unresolved_pic",
        r#"
        void no_such_function_xyz(void);
        extern int no_such_data_abc;
        int main(void) { no_such_function_xyz(); return no_such_data_abc; }
        "#,
        &["-fPIC"],
    );
    expect_error(
        [&pic],
        &[
            "no_such_function_xyz",
            "no_such_data_abc",
            pic.to_str().unwrap(),
        ],
    );
}

#[test]
fn duplicate_strong_definitions() {
    let dir = tempfile::tempdir().unwrap();
    let a = compile(
        dir.path(),
        "dup_a",
        "int twice(void) { return 1; }\nint main(void) { return twice(); }\n",
        &[],
    );
    let b = compile(dir.path(), "dup_b", "int twice(void) { return 2; }\n", &[]);
    let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
    expect_error([a, b], &["twice", a, b]);
    // Data, too.
    let c = compile(
        dir.path(),
        "dup_c",
        "int main(void) { return 0; }\nint shared_value = 1;\n",
        &[],
    );
    let d = compile(dir.path(), "dup_d", "int shared_value = 2;\n", &[]);
    let (c, d) = (c.to_str().unwrap(), d.to_str().unwrap());
    expect_error([c, d], &["shared_value", c, d]);
}

#[test]
fn the_same_object_twice() {
    let (_dir, obj, _bytes) = small_object();
    let name = obj.to_str().unwrap();
    expect_error([name, name], &[name]);
}

#[test]
fn missing_entry_point() {
    let dir = tempfile::tempdir().unwrap();
    let obj = compile(
        dir.path(),
        "nomain",
        "int not_main(void) { return 0; }\n",
        &[],
    );
    expect_error([&obj], &["main"]);
    let (_dir, obj, _bytes) = small_object();
    expect_error(
        [
            OsStr::new("--entry"),
            OsStr::new("no_such_entry"),
            obj.as_os_str(),
        ],
        &["no_such_entry"],
    );
}

#[test]
fn missing_input_file() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("does-not-exist.o");
    expect_error([&missing], &[missing.to_str().unwrap()]);
    // A missing .c file: the compiler fails, objdl names the file.
    let missing_c = dir.path().join("does-not-exist.c");
    let line = objdl_error_last_line([&missing_c]);
    assert!(line.contains(missing_c.to_str().unwrap()), "{line}");
}

#[test]
fn missing_library() {
    let (_dir, obj, _bytes) = small_object();
    expect_error(
        [
            OsStr::new("-l"),
            OsStr::new("objdl_no_such_library"),
            obj.as_os_str(),
        ],
        &["objdl_no_such_library"],
    );
    expect_error(
        [
            OsStr::new("-l"),
            OsStr::new("/nonexistent/libfoo.so"),
            obj.as_os_str(),
        ],
        &["/nonexistent/libfoo.so"],
    );
}

/// For a `.c` that the compiler rejects, the compiler's own diagnostics come
/// first on stderr; objdl's one error line is last, and is the only one.
fn objdl_error_last_line<I, S>(args: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let run = objdl_run(args);
    let ctx = format!("status {:?}\nstderr: {}", run.status, run.stderr);
    assert_eq!(run.status.signal(), None, "{ctx}");
    assert_eq!(run.status.code(), Some(125), "{ctx}");
    let ours: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("objdl: error: "))
        .collect();
    assert_eq!(ours.len(), 1, "{ctx}");
    assert_eq!(run.stderr.lines().last(), Some(ours[0]), "{ctx}");
    ours[0].to_string()
}

#[test]
fn c_file_that_does_not_compile() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("broken.c");
    std::fs::write(&src, "int main(void) { return this is not C; }\n").unwrap();
    let line = objdl_error_last_line([&src]);
    assert!(line.contains(src.to_str().unwrap()), "{line}");
    // Also when it is not the first input.
    let (_d, obj, _b) = small_object();
    let line = objdl_error_last_line([obj.as_os_str(), src.as_os_str()]);
    assert!(line.contains(src.to_str().unwrap()), "{line}");
}

// ---- Mutations. ----

/// Byte ranges of `bytes` that may be damaged: everything except the
/// contents of executable sections (damaged code could legitimately crash
/// once it runs; that would not be objdl's fault).
fn mutable_ranges(bytes: &[u8]) -> Vec<bool> {
    let mut ok = vec![true; bytes.len()];
    for s in section_headers(bytes) {
        if s.flags & SHF_EXECINSTR != 0 && s.sh_type != SHT_NOBITS {
            let start = s.offset as usize;
            let end = (s.offset + s.size) as usize;
            ok[start..end].iter_mut().for_each(|b| *b = false);
        }
    }
    ok
}

/// The `--stats` line objdl prints once the unit is loaded, right before it
/// calls the entry point.
const LOADED: &str = "objdl: objects ";

/// Damages a small real object ~300 ways (1–4 flipped bytes outside code,
/// or a truncation) and runs each mutant twice:
///
/// 1. with an entry point that does not exist, so objdl parses, links,
///    maps and relocates the mutant but never runs its `main`: it must end
///    with one clean error (status 125), never a signal or a hang;
/// 2. normally, with `--stats`: any exit status is fine, and so is a crash
///    or hang *after* the stats line, i.e. once objdl has handed control to
///    the mutant's own code (a damaged relocation or symbol may send `main`
///    anywhere, which is the program's fault, not objdl's). Before that line,
///    objdl must not die by a signal.
#[test]
fn mutated_objects_never_crash_or_hang() {
    // More seeds for a longer exploration: OBJDL_MUTANTS=5000 cargo test ...
    let seeds: u64 = std::env::var("OBJDL_MUTANTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let dir = tempfile::tempdir().expect("temporary directory");
    let started = Instant::now();
    let mut outcomes = std::collections::BTreeMap::<String, usize>::new();
    for (flavour, flags) in [
        ("pie", &[][..]),
        ("pic", &["-fPIC"][..]),
        ("large", &["-mcmodel=large"][..]),
    ] {
        let obj = compile(dir.path(), &format!("small-{flavour}"), SMALL_C, flags);
        let bytes = std::fs::read(&obj).expect("read object");
        mutate_and_run(dir.path(), flavour, &bytes, seeds, &mut outcomes);
    }
    eprintln!(
        "{seeds} mutants of 3 objects in {:?}: {outcomes:?}",
        started.elapsed()
    );
}

fn mutate_and_run(
    dir: &Path,
    flavour: &str,
    bytes: &[u8],
    seeds: u64,
    outcomes: &mut std::collections::BTreeMap<String, usize>,
) {
    let allowed = mutable_ranges(bytes);
    let positions: Vec<usize> = (0..bytes.len()).filter(|&i| allowed[i]).collect();
    let path = dir.join(format!("mutant-{flavour}.o"));
    for seed in 1..=seeds {
        let mut rng = Rng::new(seed);
        let mut b = bytes.to_vec();
        let what = if rng.below(8) == 0 {
            let len = rng.below(b.len() as u64) as usize;
            b.truncate(len);
            format!("truncated to {len}")
        } else {
            let flips = 1 + rng.below(4);
            let mut done = Vec::new();
            for _ in 0..flips {
                let at = positions[rng.below(positions.len() as u64) as usize];
                let x = 1 + rng.below(255) as u8;
                b[at] ^= x;
                done.push(format!("{at:#x}^{x:#04x}"));
            }
            format!("flipped {}", done.join(" "))
        };
        std::fs::write(&path, &b).unwrap();
        let keep = || {
            // Keep the input for a post-mortem.
            let kept =
                Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("mutant-{flavour}-{seed}.o"));
            let _ = std::fs::write(&kept, &b);
            format!("the input is kept as {}", kept.display())
        };

        // 1. Load only.
        let (run, timed_out) = objdl_run_for(
            [
                OsStr::new("--entry"),
                OsStr::new("objdl_fuzz_no_such_entry"),
                path.as_os_str(),
            ],
            TIMEOUT,
        );
        let lines: Vec<&str> = run.stderr.lines().collect();
        if timed_out
            || run.status.code() != Some(125)
            || lines.len() != 1
            || !lines[0].starts_with("objdl: error: ")
        {
            panic!(
                "{flavour} seed {seed} ({what}), load only: status {:?}{}\nstderr: {}\n{}",
                run.status,
                if timed_out { " (hung)" } else { "" },
                run.stderr,
                keep()
            );
        }

        // 2. Load and run.
        let (run, timed_out) = objdl_run_for(
            [OsStr::new("--stats"), path.as_os_str()],
            Duration::from_secs(5),
        );
        let handed_over = run
            .stderr
            .lines()
            .next()
            .is_some_and(|l| l.starts_with(LOADED));
        let outcome = match (timed_out, run.status.code()) {
            (true, _) if handed_over => "program hung".to_string(),
            (false, None) if handed_over => "program crashed".to_string(),
            (false, Some(125)) if !handed_over => {
                let lines: Vec<&str> = run.stderr.lines().collect();
                if lines.len() != 1 || !lines[0].starts_with("objdl: error: ") {
                    panic!("{flavour} seed {seed} ({what}): not one error line: {}\n{}", run.stderr, keep());
                }
                "objdl error".to_string()
            }
            (false, Some(code)) if handed_over => format!("program exited {code}"),
            _ => panic!(
                "{flavour} seed {seed} ({what}): status {:?}{} before objdl handed over\nstdout: {}\nstderr: {}\n{}",
                run.status,
                if timed_out { " (hung)" } else { "" },
                run.stdout,
                run.stderr,
                keep()
            ),
        };
        if outcome == "program crashed" || outcome == "program hung" {
            eprintln!("{flavour} seed {seed} ({what}): {outcome}; {}", keep());
        }
        *outcomes.entry(outcome).or_default() += 1;
    }
}
