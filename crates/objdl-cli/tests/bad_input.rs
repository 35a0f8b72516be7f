//! Broken, hostile and unsupported inputs: `objdl run` must exit with 125
//! and print exactly one `objdl: error: ` line naming the file, and must
//! never crash or hang. A deterministic mutation loop checks the same for
//! many damaged variants of a real object.

use common::{cc, compile_with, run_with_timeout, Rng};
use objdl_testkit as common;

use std::ffi::OsStr;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::time::{Duration, Instant};

use object::elf::{self, Rela64, SectionHeader64, Sym64};
use object::read::elf::{SectionHeader as _, Sym as _};
use object::{LittleEndian as LE, SectionIndex};

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
    objdl_for("run", args, limit)
}

/// Runs `objdl COMMAND ARGS...` with an empty stdin, killing it after
/// `limit`; the flag tells whether it had to be killed.
fn objdl_for<I, S>(command: &str, args: I, limit: Duration) -> (Run, bool)
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut cmd = common::objdl_command(OBJDL);
    cmd.arg(command).args(args);
    let (out, timed_out) = run_with_timeout(cmd, None, limit);
    let run = Run {
        status: out.status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
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
    expect_error_from("run", args, names)
}

/// [`expect_error`] for `objdl COMMAND` (`run`, `check` or `inspect`).
fn expect_error_from<I, S>(command: &str, args: I, names: &[&str]) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let args: Vec<std::ffi::OsString> = args.into_iter().map(|a| a.as_ref().into()).collect();
    let outcome = objdl_for(command, &args, TIMEOUT);
    expect_error_line(command, &args, outcome, names)
}

/// How much memory (`ulimit -d`, KiB) and time [`objdl_bounded`] gives objdl.
const BOUNDED_DATA_KIB: u64 = 256 << 10;
const BOUNDED_TIME: Duration = Duration::from_secs(10);

/// Runs `objdl COMMAND ARGS...` with at most [`BOUNDED_DATA_KIB`] of data
/// (heap and private writable mappings: a file mapped read-only does not
/// count) and [`BOUNDED_TIME`], for inputs that could make it read or
/// wait without end.
fn objdl_bounded<I, S>(command: &str, args: I) -> (Run, bool)
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!(
            "ulimit -d {BOUNDED_DATA_KIB} && exec \"$0\" \"$@\""
        ))
        .arg(OBJDL)
        .arg(command)
        .args(args);
    let (out, timed_out) = run_with_timeout(cmd, None, BOUNDED_TIME);
    let run = Run {
        status: out.status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    (run, timed_out)
}

/// [`expect_error_from`], run by [`objdl_bounded`].
fn expect_bounded_error<I, S>(command: &str, args: I, names: &[&str]) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let args: Vec<std::ffi::OsString> = args.into_iter().map(|a| a.as_ref().into()).collect();
    let outcome = objdl_bounded(command, &args);
    expect_error_line(command, &args, outcome, names)
}

/// Checks what [`expect_error`] promises of a finished `objdl COMMAND ARGS`.
fn expect_error_line(
    command: &str,
    args: &[std::ffi::OsString],
    (run, timed_out): (Run, bool),
    names: &[&str],
) -> String {
    assert!(
        !timed_out,
        "objdl {command} {args:?} hung: killed after its time ran out: {}",
        run.stderr
    );
    let ctx = format!(
        "objdl {command} {args:?}: status {:?}\nstdout: {}\nstderr: {}",
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

/// Compiles `source` (C) to an object in `dir` with `$CC -O2`, with extra `flags`.
fn compile(dir: &Path, name: &str, source: &str, flags: &[&str]) -> PathBuf {
    compile_with(&cc(), dir, name, source, flags)
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

// ---- Reading real objects with `object`, and patching them. ----

use common::elf::{
    pod_mut, section_header_mut, section_index, sections, symbol, symbol_entry, Elf,
};

/// The first relocation section with at least one entry.
fn first_rela(b: &[u8]) -> (SectionIndex, &SectionHeader64<LE>) {
    sections(b)
        .enumerate()
        .find(|(_, s)| {
            s.sh_type(LE) == elf::SHT_RELA && s.sh_size(LE) >= size_of::<Rela64<LE>>() as u64
        })
        .expect("a relocation section")
}

/// The file header of `b`, to patch.
fn header_mut(b: &mut [u8]) -> &mut Elf {
    pod_mut(b, 0)
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

// ---- Special files: refused at once, before any blocking open or read. ----

/// A FIFO, a socket, a directory and character devices, under every
/// command, also named `.c` (which `run` and `check` would compile): one
/// line naming the path and what it is, exit 125, at once, and nothing
/// read. A FIFO used to hang all three commands (opening it waits for a
/// writer), and `inspect /dev/zero` read until memory ran out.
#[test]
fn special_files_are_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo.o");
    let fifo_c = dir.path().join("fifo.c");
    for f in [&fifo, &fifo_c] {
        let made = Command::new("mkfifo").arg(f).status().expect("run mkfifo");
        assert!(made.success(), "mkfifo {}", f.display());
    }
    let socket = dir.path().join("socket.o");
    let _listener = std::os::unix::net::UnixListener::bind(&socket).expect("a socket");
    let directory = dir.path().join("directory.c");
    std::fs::create_dir(&directory).unwrap();
    let cases = [
        (fifo.as_path(), "a FIFO"),
        (fifo_c.as_path(), "a FIFO"),
        (socket.as_path(), "a socket"),
        (directory.as_path(), "a directory"),
        (Path::new("/dev/null"), "a character device"),
        (Path::new("/dev/zero"), "a character device"),
    ];
    for command in ["run", "check", "inspect"] {
        for (path, kind) in cases {
            let name = path.to_str().unwrap();
            expect_bounded_error(command, [path], &[name, "not a regular file", kind]);
        }
    }
}

/// `inspect` maps its input, as `run` and `check` do: a 2 GiB sparse file
/// is refused at once (bad magic) without being read. It used to be read
/// whole first (9 s, 2 GB of memory).
#[test]
fn inspect_maps_a_large_sparse_file() {
    let dir = tempfile::tempdir().unwrap();
    let sparse = dir.path().join("sparse.o");
    let file = std::fs::File::create(&sparse).unwrap();
    file.set_len(2 << 30).unwrap();
    let name = sparse.to_str().unwrap();
    for command in ["inspect", "run"] {
        expect_bounded_error(command, [&sparse], &[name, "not an ELF file"]);
    }
}

// ---- Well-formed, but not x86-64 ELF64 little-endian ET_REL. ----

#[test]
fn elf32_patched_class() {
    let (dir, _obj, mut bytes) = small_object();
    header_mut(&mut bytes).e_ident.class = elf::ELFCLASS32;
    let line = expect_error_for_bytes(dir.path(), "class32.o", &bytes);
    assert!(line.contains("class") || line.contains("32"), "{line}");
}

#[test]
fn elf32_real_object() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("m32.c");
    std::fs::write(&src, SMALL_C).unwrap();
    let obj = dir.path().join("m32.o");
    let cc = cc();
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
    header_mut(&mut bytes).e_machine.set(LE, elf::EM_AARCH64);
    let line = expect_error_for_bytes(dir.path(), "aarch64.o", &bytes);
    let number = elf::EM_AARCH64.0.to_string(); // 183
    assert!(line.contains(&number) || line.contains("machine"), "{line}");
}

#[test]
fn big_endian() {
    let (dir, _obj, mut bytes) = small_object();
    header_mut(&mut bytes).e_ident.data = elf::ELFDATA2MSB;
    expect_error_for_bytes(dir.path(), "msb.o", &bytes);
    header_mut(&mut bytes).e_ident.data = elf::ELFDATANONE;
    expect_error_for_bytes(dir.path(), "nodata.o", &bytes);
}

#[test]
fn not_relocatable() {
    let (dir, _obj, bytes) = small_object();
    for (e_type, name) in [
        (elf::ET_EXEC, "exec.o"),
        (elf::ET_DYN, "dyn.o"),
        (elf::ET_CORE, "core.o"),
        (elf::FileType(elf::ET_LOOS), "os.o"),
    ] {
        let mut b = bytes.clone();
        header_mut(&mut b).e_type.set(LE, e_type);
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
    let cc = cc();
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
    let len = bytes.len() as u64;
    for name in [".text", ".data", ".rodata.str1.1", ".eh_frame", ".symtab"] {
        let index = section_index(&bytes, name);
        let tag = name.trim_start_matches('.').replace('.', "_");
        // Offset beyond the end.
        let mut b = bytes.clone();
        section_header_mut(&mut b, index)
            .sh_offset
            .set(LE, len + 0x100);
        expect_error_for_bytes(dir.path(), &format!("{tag}-offset.o"), &b);
        // Offset so large that offset + size wraps.
        let mut b = bytes.clone();
        section_header_mut(&mut b, index)
            .sh_offset
            .set(LE, u64::MAX - 2);
        expect_error_for_bytes(dir.path(), &format!("{tag}-wrap.o"), &b);
        // Size running past the end.
        let mut b = bytes.clone();
        section_header_mut(&mut b, index).sh_size.set(LE, len);
        expect_error_for_bytes(dir.path(), &format!("{tag}-size.o"), &b);
        // A huge size.
        let mut b = bytes.clone();
        section_header_mut(&mut b, index)
            .sh_size
            .set(LE, 0x1000_0000_0000_0000);
        expect_error_for_bytes(dir.path(), &format!("{tag}-huge.o"), &b);
    }
}

#[test]
fn huge_bss() {
    let (dir, _obj, bytes) = small_object();
    let (bss, _) = sections(&bytes)
        .enumerate()
        .find(|(_, s)| s.sh_type(LE) == elf::SHT_NOBITS)
        .expect("a .bss section");
    for (size, tag) in [
        (0x1000_0000_0000_0000u64, "huge"),
        (u64::MAX, "max"),
        (1 << 40, "1tib"),
    ] {
        let mut b = bytes.clone();
        section_header_mut(&mut b, bss).sh_size.set(LE, size);
        expect_error_for_bytes(dir.path(), &format!("bss-{tag}.o"), &b);
    }
}

#[test]
fn relocation_symbol_index_out_of_range() {
    let (dir, _obj, bytes) = small_object();
    let (_, rela) = first_rela(&bytes);
    let entry_at = rela.sh_offset(LE) as usize;
    for sym in [0x00ff_ffffu32, 0xffff_ffff] {
        let mut b = bytes.clone();
        let entry = pod_mut::<Rela64<LE>>(&mut b, entry_at);
        let r_type = entry.r_type(LE, false);
        entry.set_r_info(LE, false, sym, r_type);
        expect_error_for_bytes(dir.path(), &format!("relsym{sym:x}.o"), &b);
    }
}

#[test]
fn relocation_offset_outside_its_section() {
    let (dir, _obj, bytes) = small_object();
    let (_, rela) = first_rela(&bytes);
    let target_size = sections(&bytes)
        .section(rela.info_link(LE))
        .expect("the relocated section")
        .sh_size(LE);
    let entry_at = rela.sh_offset(LE) as usize;
    for offset in [target_size, target_size - 1, 0xffff_fff0, u64::MAX - 1] {
        let mut b = bytes.clone();
        pod_mut::<Rela64<LE>>(&mut b, entry_at)
            .r_offset
            .set(LE, offset);
        expect_error_for_bytes(dir.path(), &format!("reloff{offset:x}.o"), &b);
    }
}

#[test]
fn relocation_section_with_bad_target_or_entry_size() {
    let (dir, _obj, bytes) = small_object();
    let (index, rela) = first_rela(&bytes);
    let size = rela.sh_size(LE);
    // sh_info naming a section that does not exist.
    let mut b = bytes.clone();
    section_header_mut(&mut b, index).sh_info.set(LE, 0xffff);
    let path = dir.path().join("relinfo.o");
    std::fs::write(&path, &b).unwrap();
    // A relocation section for a section that does not exist may be ignored
    // or rejected, but never crash.
    let run = objdl_run([&path]);
    assert_eq!(run.status.signal(), None, "{}", run.stderr);
    assert!(run.stderr.lines().count() <= 1, "{}", run.stderr);
    // A size that is not a multiple of the entry size.
    let mut b = bytes.clone();
    section_header_mut(&mut b, index).sh_size.set(LE, size - 1);
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
        header_mut(&mut b).e_shoff.set(LE, shoff);
        expect_error_for_bytes(dir.path(), &format!("shoff-{tag}.o"), &b);
    }
    // e_shnum larger than what the file holds.
    for shnum in [0x100u16, 0xfeff, 0xffff] {
        let mut b = bytes.clone();
        header_mut(&mut b).e_shnum.set(LE, shnum);
        expect_error_for_bytes(dir.path(), &format!("shnum-{shnum:x}.o"), &b);
    }
    // e_shstrndx out of range.
    let mut b = bytes.clone();
    header_mut(&mut b)
        .e_shstrndx
        .set(LE, elf::SymbolSection(0xfeff));
    expect_error_for_bytes(dir.path(), "shstrndx.o", &b);
    // e_shentsize not the size of a section header.
    let mut b = bytes.clone();
    header_mut(&mut b).e_shentsize.set(LE, 12);
    expect_error_for_bytes(dir.path(), "shentsize.o", &b);
}

/// A symbol name with a newline in it (found by the mutation loop): the
/// error naming it must still be one line.
#[test]
fn symbol_name_with_a_newline() {
    let (dir, _obj, mut bytes) = small_object();
    let (symbols, index) = symbol(&bytes, "printf");
    let st_name = symbols.symbol(index).expect("printf").st_name(LE);
    let strtab = sections(&bytes)
        .section(symbols.string_section())
        .expect("the symbol names' header");
    let name_at = strtab.sh_offset(LE) as usize + st_name as usize;
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
    let (comment, _) = sections(&bytes)
        .section_by_name(LE, b".comment")
        .expect("a .comment section");
    let comment = elf::SymbolSection(comment.0 as u16);
    let at = symbol_entry(&bytes, "main");
    pod_mut::<Sym64<LE>>(&mut bytes, at)
        .st_shndx
        .set(LE, comment);
    let path = dir.path().join("main-in-comment.o");
    std::fs::write(&path, &bytes).unwrap();
    expect_error([&path], &["main"]);
    // A reference to a symbol in such a section is an error that names the file.
    let (dir, _obj, mut bytes) = small_object();
    let at = symbol_entry(&bytes, "counter");
    pod_mut::<Sym64<LE>>(&mut bytes, at)
        .st_shndx
        .set(LE, comment);
    expect_error_for_bytes(dir.path(), "counter-in-comment.o", &bytes);
}

/// An IFUNC resolver or a constructor in `.data` is refused before
/// anything runs; objdl used to call it (SIGSEGV, exit 139).
#[test]
fn code_that_is_not_code() {
    let dir = tempfile::tempdir().unwrap();
    let ifunc = assemble(
        dir.path(),
        "ifunc_data",
        ".data\n.type not_code, @gnu_indirect_function\n.globl not_code\nnot_code:\n.byte 0xc3\n\
         .text\n.globl main\nmain:\ncall not_code\nxor %eax, %eax\nret\n",
    );
    expect_error(
        [&ifunc],
        &["not_code", "STT_GNU_IFUNC", ".data", "not executable"],
    );
    let ctor = assemble(
        dir.path(),
        "ctor_data",
        ".data\ndata_ctor:\n.byte 0xc3\n.section .init_array,\"aw\"\n.quad data_ctor\n\
         .text\n.globl main\nmain:\nxor %eax, %eax\nret\n",
    );
    expect_error(
        [&ctor],
        &[".init_array", "initialiser", ".data", "not executable"],
    );
}

/// Thread-local storage is bounded like the unit: at most 1 GiB. Three
/// `.tdata` sections aligned to 1 GiB made objdl write a 2 GiB template
/// (the padding) before anything else; three `.tbss` sections of 0.75 GiB
/// made each thread's block 2.25 GiB, allocated at its first access
/// (an abort when memory ran out).
#[test]
fn thread_local_storage_is_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let mut aligned = String::new();
    for i in 0..3 {
        aligned +=
            &format!(".section .tdata.t{i},\"awT\",@progbits\n.balign 0x40000000\nt{i}: .byte 1\n");
    }
    aligned += ".text\n.globl main\nmain:\nxor %eax, %eax\nret\n";
    let tdata = assemble(dir.path(), "tdata", &aligned);
    expect_bounded_error(
        "run",
        [&tdata],
        &[
            tdata.to_str().unwrap(),
            "thread-local",
            "0x40000000-byte limit",
        ],
    );
    let tbss = compile(
        dir.path(),
        "tbss",
        "__thread char a[0x30000000], b[0x30000000], c[0x30000000];\n\
         int main(void) { return a[1] + b[2] + c[3]; }\n",
        &["-fPIC", "-fdata-sections"],
    );
    expect_bounded_error(
        "run",
        [&tbss],
        &[
            tbss.to_str().unwrap(),
            "thread-local",
            "0x40000000-byte limit",
        ],
    );
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

/// 100,000 undefined symbols: resolution is linear (10 s before, the
/// check for a name already reported was quadratic) and the one error line
/// is short (3.9 MB before): the first names, then how many more; `objdl
/// check` lists every one, one a line.
#[test]
fn a_hundred_thousand_unresolved_symbols() {
    const COUNT: usize = 100_000;
    let dir = tempfile::tempdir().unwrap();
    let mut asm = String::from(".text\n.globl main\nmain:\n");
    for i in 0..COUNT {
        asm += &format!("call undefined_function_number_{i}\n");
    }
    asm += "ret\n.section .note.GNU-stack,\"\",@progbits\n";
    let src = dir.path().join("many.s");
    let obj = dir.path().join("many.o");
    common::compile_to(&cc(), &[], &src, &asm, &obj);
    let name = obj.to_str().unwrap();

    let started = Instant::now();
    let line = expect_error_from(
        "run",
        [&obj],
        &[name, "undefined_function_number_0`", "and 99990 more"],
    );
    assert!(line.len() < 2000, "{} bytes: {line}", line.len());
    assert!(!line.contains("number_10`"), "{line}");

    let (check, timed_out) = objdl_for("check", [&obj], TIMEOUT);
    assert!(
        !timed_out && check.status.code() == Some(1),
        "{}",
        check.stderr
    );
    let listed: Vec<&str> = check
        .stdout
        .lines()
        .filter(|l| l.starts_with("unresolved `"))
        .collect();
    assert_eq!(listed.len(), COUNT);
    assert_eq!(
        listed[COUNT - 1],
        format!(
            "unresolved `undefined_function_number_{}` (referenced from {name})",
            COUNT - 1
        )
    );
    // Both commands; the debug build. Quadratic took minutes here.
    let took = started.elapsed();
    assert!(took < Duration::from_secs(15), "{took:?}");
}

// ---- Work linear in the input: no per-name or per-section scan of all
// the others. Each of these took minutes before (they are sized so that a
// quadratic pass exceeds TIMEOUT in the debug build the tests run). ----

/// Assembles `text` (`.note.GNU-stack` added) into `dir/NAME.o`.
fn assemble(dir: &Path, name: &str, text: &str) -> PathBuf {
    let obj = dir.join(format!("{name}.o"));
    let text = format!("{text}\n.section .note.GNU-stack,\"\",@progbits\n");
    common::compile_to(&cc(), &[], &dir.join(format!("{name}.s")), &text, &obj);
    obj
}

/// 50,000 RIP-relative loads of 50,000 variables of another unit that the
/// unit cannot reach (`far`): the error is one short line, made at once
/// (its summary scanned the symbols counted so far for each site, and
/// named every symbol).
#[test]
fn fifty_thousand_unreachable_sites() {
    const COUNT: usize = 50_000;
    let dir = tempfile::tempdir().unwrap();
    let mut lib = String::from(".data\n");
    let mut main = String::from(".text\n.globl main\nmain:\n");
    for i in 0..COUNT {
        lib += &format!(".globl far_variable_{i}\nfar_variable_{i}: .long {i}\n");
        main += &format!("movl far_variable_{i}(%rip), %eax\n");
    }
    main += "ret\n";
    let lib = assemble(dir.path(), "lib", &lib);
    let main = assemble(dir.path(), "main", &main);
    let args = [
        OsStr::new("--place"),
        OsStr::new("far"),
        OsStr::new("--unit"),
        lib.as_os_str(),
        main.as_os_str(),
    ];
    let (run, timed_out) = objdl_run_for(args, TIMEOUT);
    let start: String = run.stderr.chars().take(300).collect();
    assert!(!timed_out, "hung: {start}");
    assert!(
        run.stderr.len() < 4000,
        "{} bytes: {start}",
        run.stderr.len()
    );
    expect_error(
        args,
        &["50000 reference(s)", "`far_variable_0` (1)", "more"],
    );
}

/// 30,000 sections, each with its `__start_` symbol.
#[test]
fn thirty_thousand_start_symbols() {
    const COUNT: usize = 30_000;
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::new();
    for i in 0..COUNT {
        text += &format!(".section sec_{i},\"a\",@progbits\n.byte {}\n", i % 256);
    }
    text += ".data\n";
    for i in 0..COUNT {
        text += &format!(".quad __start_sec_{i}\n");
    }
    text += ".text\n.globl main\nmain:\nxor %eax, %eax\nret\n";
    let obj = assemble(dir.path(), "bounds", &text);
    let (run, timed_out) = objdl_for("check", [&obj], TIMEOUT);
    assert!(!timed_out, "hung: {}", run.stderr);
    assert_eq!(run.status.code(), Some(0), "{}", run.stderr);
}

/// Two copies of a COMDAT group of 60,000 sections: the second is
/// discarded, each member redirected to its twin in the first.
#[test]
fn a_comdat_group_of_sixty_thousand_sections_twice() {
    const COUNT: usize = 60_000;
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::new();
    for i in 0..COUNT {
        text += &format!(".section .text.member_{i},\"axG\",@progbits,big_group,comdat\nret\n");
    }
    let a = assemble(dir.path(), "group_a", &text);
    let b = dir.path().join("group_b.o");
    std::fs::copy(&a, &b).unwrap();
    let main = assemble(
        dir.path(),
        "main",
        ".text\n.globl main\nmain:\nxor %eax, %eax\nret\n",
    );
    let (run, timed_out) = objdl_for("check", [&main, &a, &b], TIMEOUT);
    assert!(!timed_out, "hung: {}", run.stderr);
    assert_eq!(run.status.code(), Some(0), "{}", run.stderr);
}

/// Two archives whose members need each other in a chain, a_0 → b_0 →
/// a_1 → ..., so that each pass over the archives pulls one more member,
/// while 50,000 names stay undefined: each pass looked at every one of
/// them again in every archive.
#[test]
fn archives_that_pull_each_other_in_a_long_chain() {
    const CHAIN: usize = 3_000;
    const UNDEFINED: usize = 50_000;
    let dir = tempfile::tempdir().unwrap();
    // One member of each archive, assembled once; the others are copies
    // with their fixed-width names replaced.
    let template_a = std::fs::read(assemble(
        dir.path(),
        "template_a",
        ".text\n.globl a_00000\na_00000:\ncall b_00000\nret\n",
    ))
    .unwrap();
    let template_b = std::fs::read(assemble(
        dir.path(),
        "template_b",
        ".text\n.globl b_00000\nb_00000:\ncall a_99999\nret\n",
    ))
    .unwrap();
    let rename = |bytes: &[u8], from: &[&str], to: &[String]| -> Vec<u8> {
        let mut out = bytes.to_vec();
        for (f, t) in from.iter().zip(to) {
            let at = out
                .windows(f.len())
                .position(|w| w == f.as_bytes())
                .expect("the name in the string table");
            out[at..at + f.len()].copy_from_slice(t.as_bytes());
        }
        out
    };
    let members = dir.path().join("members");
    std::fs::create_dir(&members).unwrap();
    let archive_args = |archive: &str, template: &[u8], names: &dyn Fn(usize) -> [String; 2]| {
        let mut files = Vec::new();
        for k in 0..CHAIN {
            let file = members.join(format!("{archive}_{k}.o"));
            let from = if archive == "a" {
                ["a_00000", "b_00000"]
            } else {
                ["b_00000", "a_99999"]
            };
            std::fs::write(&file, rename(template, &from, &names(k))).unwrap();
            files.push(file);
        }
        let path = dir.path().join(format!("lib{archive}.a"));
        let made = Command::new("ar")
            .arg("rcs")
            .arg(&path)
            .args(&files)
            .status()
            .expect("run ar");
        assert!(made.success());
        path
    };
    let lib_a = archive_args("a", &template_a, &|k| {
        [format!("a_{k:05}"), format!("b_{k:05}")]
    });
    let lib_b = archive_args("b", &template_b, &|k| {
        [format!("b_{k:05}"), format!("a_{:05}", k + 1)]
    });
    let mut main = String::from(".text\n.globl main\nmain:\ncall a_00000\n");
    for i in 0..UNDEFINED {
        main += &format!("call nowhere_{i}\n");
    }
    main += "ret\n";
    let main = assemble(dir.path(), "main", &main);
    let (run, timed_out) = objdl_for("check", [&main, &lib_a, &lib_b], TIMEOUT);
    assert!(!timed_out, "hung: {}", run.stderr);
    // Every member pulled; what stays undefined is the chain's last link
    // and the names nothing defines.
    assert_eq!(run.status.code(), Some(1), "{}", run.stderr);
    let unresolved = run.stdout.lines().filter(|l| l.starts_with("unresolved `"));
    assert_eq!(unresolved.count(), UNDEFINED + 1, "{}", run.stderr);
    assert!(
        run.stdout.contains(&format!("unresolved `a_{CHAIN:05}`")),
        "{}",
        run.stderr
    );
}

/// 50,000 calls to far addresses the input chose so that a fixed hash
/// (FxHash of a `u64`: `(x * K).rotate_left(26)`) gives them all the same
/// bucket and tag: the plan's table of trampolines, keyed by destination,
/// then scanned every entry at every insertion and look-up. Its maps are
/// keyed with a random state now.
#[test]
fn fifty_thousand_trampolines_to_addresses_chosen_to_collide() {
    const COUNT: u64 = 50_000;
    // FxHash's multiplier (rustc-hash 2) and its inverse modulo 2^64.
    const K: u64 = 0xf135_7aea_2e62_a9c5;
    let mut inverse = K;
    for _ in 0..6 {
        inverse = inverse.wrapping_mul(2u64.wrapping_sub(K.wrapping_mul(inverse)));
    }
    assert_eq!(K.wrapping_mul(inverse), 1);
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from(".text\n.globl main\nmain:\n");
    for i in 1..=COUNT {
        // Hashes to i << 26: no low bit, no high bit set.
        let target = i.wrapping_mul(inverse);
        text += &format!("call {target:#x}\n");
    }
    text += "ret\n";
    let obj = assemble(dir.path(), "collide", &text);
    let (run, timed_out) = objdl_for(
        "check",
        [OsStr::new("--at=0x10000000"), obj.as_os_str()],
        TIMEOUT,
    );
    assert!(!timed_out, "hung: {}", run.stderr);
    assert_eq!(run.status.code(), Some(0), "{}", run.stderr);
    let trampolines = run.stdout.lines().filter(|l| l.starts_with("trampoline "));
    assert_eq!(trampolines.count() as u64, COUNT);
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

/// `--place 0x0` mapped the unit at address 0 when run as root (its
/// functions then compared equal to NULL: `atexit` aborted); `check --at
/// 0xfffffffffffff000` wrapped past 2^64 (a panic in a debug build, a
/// self-contradicting overflow in a release one). Both are refused with
/// one line naming the range a base must lie in.
#[test]
fn impossible_placement_addresses() {
    let (_dir, obj, _bytes) = small_object();
    for (command, args, status) in [
        ("run", ["--place", "0x0"], 125),
        ("run", ["--place", "0x800000000000"], 125),
        ("check", ["--at", "0x0"], 1),
        ("check", ["--at", "0x800000000000"], 1),
        ("check", ["--at", "0xfffffffffffff000"], 1),
    ] {
        let (run, timed_out) = objdl_for(
            command,
            args.iter().map(OsStr::new).chain([obj.as_os_str()]),
            TIMEOUT,
        );
        let ctx = format!(
            "objdl {command} {args:?}: {:?}\nstdout: {}\nstderr: {}",
            run.status, run.stdout, run.stderr
        );
        assert!(!timed_out, "{ctx}");
        assert_eq!(run.status.code(), Some(status), "{ctx}");
        let lines: Vec<&str> = run.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{ctx}");
        assert!(
            lines[0].starts_with("objdl: error: no place for the unit"),
            "{ctx}"
        );
        assert!(lines[0].contains(&format!("base {}", args[1])), "{ctx}");
        assert!(
            lines[0].contains(&format!("the unit ({}) must lie in 0x", obj.display())),
            "{ctx}"
        );
    }
}

/// A PC8 field with an addend near 2^63, against an absolute symbol near
/// 2^63, in a unit aligned to 1 GiB: the window it allows for the base
/// starts just below 2^64, and aligning that bound up overflowed (a panic
/// in a debug build). The placement works in 128 bits now.
#[test]
fn a_window_bound_near_two_to_the_sixty_four() {
    let dir = tempfile::tempdir().unwrap();
    let defs = assemble(
        dir.path(),
        "far_abs",
        ".globl far_abs\n.set far_abs, 0x7fffffffffffffff\n",
    );
    let user = assemble(
        dir.path(),
        "pc8",
        ".text\n.balign 0x40000000\n.globl main\nmain:\nret\n.byte far_abs + 0x7fffffffffffff00 - .\n",
    );
    expect_error([&defs, &user], &["R_X86_64_PC8", "far_abs", "8-bit field"]);
}

/// One table of exit statuses, in the README and `objdl --help`: 0 ok, 1
/// `check` says the inputs would not load, 125 objdl's own error, anything
/// else the program's own status.
#[test]
fn exit_statuses() {
    let dir = tempfile::tempdir().unwrap();
    // `check` of a file that does not exist could not even try: 125 (it
    // was 1, the status for inputs that would not load).
    let missing = dir.path().join("does-not-exist.o");
    expect_error_from("check", [&missing], &[missing.to_str().unwrap()]);
    expect_error_from("inspect", [&missing], &[missing.to_str().unwrap()]);
    // Inputs that would not load: 1, with the reason.
    let obj = compile(
        dir.path(),
        "unresolved",
        "void nowhere(void); int main(void) { nowhere(); return 0; }\n",
        &[],
    );
    let (run, _) = objdl_for("check", [&obj], TIMEOUT);
    assert_eq!(run.status.code(), Some(1), "{}", run.stderr);
    assert!(run.stderr.contains("nowhere"), "{}", run.stderr);
    // Bad arguments: 125, not clap's 2, which a program may return.
    for args in [
        &["run", "--no-such-flag", "x.o"][..],
        &["run"],
        &["check", "--at", "nowhere", "x.o"],
        &["no-such-command"],
    ] {
        let (run, _) = objdl_for(args[0], &args[1..], TIMEOUT);
        assert_eq!(run.status.code(), Some(125), "{args:?}: {}", run.stderr);
        assert!(
            run.stderr.starts_with("error: "),
            "{args:?}: {}",
            run.stderr
        );
    }
    // The table is in --help.
    let (help, _) = objdl_for("--help", [] as [&str; 0], TIMEOUT);
    assert_eq!(help.status.code(), Some(0));
    for row in [
        "0    ",
        "1    check: the inputs would not load",
        "125  objdl itself failed",
    ] {
        assert!(
            help.stdout.contains(row),
            "`{row}` not in:\n{}",
            help.stdout
        );
    }
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

/// `-l NAME` whose `libNAME.so` is neither a shared object nor a linker
/// script but a huge file (it was read whole first): one line at once.
#[test]
fn library_that_is_a_huge_file() {
    let (dir, obj, _bytes) = small_object();
    let huge = dir.path().join("libhuge.so");
    std::fs::File::create(&huge)
        .unwrap()
        .set_len(2 << 30)
        .unwrap();
    let args = [
        OsStr::new("-L"),
        dir.path().as_os_str(),
        OsStr::new("-l"),
        OsStr::new("huge"),
        obj.as_os_str(),
    ];
    expect_bounded_error(
        "run",
        args,
        &[
            huge.to_str().unwrap(),
            "neither a shared object nor a linker script",
        ],
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

// ---- The scratch directory of `.c` inputs. ----

/// A C compiler for `$CC` that first runs `before` (a shell command, with
/// `$out` the object's path), then compiles with gcc, or does `compile`
/// instead when given. Its `.sh` file is in `dir`.
fn spy_compiler(dir: &Path, name: &str, before: &str, compile: Option<&str>) -> PathBuf {
    let script = dir.join(format!("{name}.sh"));
    let compile = compile.unwrap_or(r#"exec gcc "$@""#);
    let text = format!(
        "#!/bin/sh\nout=\nprev=\nfor a in \"$@\"; do [ \"$prev\" = -o ] && out=$a; prev=$a; done\n{before}\n{compile}\n"
    );
    std::fs::write(&script, text).unwrap();
    let made = Command::new("chmod")
        .arg("+x")
        .arg(&script)
        .status()
        .unwrap();
    assert!(made.success());
    script
}

/// The entries of a directory.
fn entries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

/// The scratch directory is 0700 whatever the umask (it took the umask's
/// mode: 0777 under umask 000, and objdl then read back a fixed name from
/// it), its name is unpredictable, and it is gone afterwards, also when the
/// compiler fails.
#[test]
fn scratch_directory_is_private_and_removed() {
    let dir = tempfile::tempdir().unwrap();
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let log = dir.path().join("modes");
    let record = format!(
        r#"stat -c '%a %n' "$(dirname "$out")" >> {}"#,
        log.display()
    );
    let cc = spy_compiler(dir.path(), "spycc", &record, None);
    let src = dir.path().join("prog.c");
    std::fs::write(&src, "int main(void) { return 3; }\n").unwrap();
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(r#"umask 000 && exec "$0" run "$1""#)
        .arg(OBJDL)
        .arg(&src)
        .env("CC", &cc)
        .env("TMPDIR", &tmp);
    let (out, timed_out) = run_with_timeout(cmd, None, TIMEOUT);
    assert!(!timed_out && out.status.code() == Some(3), "{out:?}");
    let logged = std::fs::read_to_string(&log).unwrap();
    let (mode, path) = logged.trim().split_once(' ').unwrap();
    assert_eq!(mode, "700", "{logged}");
    let name = Path::new(path).file_name().unwrap().to_str().unwrap();
    let random = name.strip_prefix("objdl-").expect("objdl-RANDOM");
    assert!(random.len() >= 16, "a guessable name: {name}");
    assert!(entries(&tmp).is_empty(), "left behind: {:?}", entries(&tmp));

    // A compiler that fails: nothing left either.
    let failing = spy_compiler(dir.path(), "failcc", "", Some("exit 1"));
    let mut cmd = common::objdl_command(OBJDL);
    cmd.arg("run")
        .arg(&src)
        .env("CC", &failing)
        .env("TMPDIR", &tmp);
    let (out, _) = run_with_timeout(cmd, None, TIMEOUT);
    assert_eq!(out.status.code(), Some(125), "{out:?}");
    assert!(entries(&tmp).is_empty(), "left behind: {:?}", entries(&tmp));
}

/// SIGINT or SIGTERM while the compiler runs: objdl passes it on to the
/// compiler, removes the scratch directory and dies of it. It used to die
/// at once, leaving the directory (and the compiler running).
#[test]
fn scratch_directory_is_removed_on_sigint_and_sigterm() {
    for signal in [libc::SIGINT, libc::SIGTERM] {
        let dir = tempfile::tempdir().unwrap();
        let tmp = dir.path().join("tmp");
        std::fs::create_dir(&tmp).unwrap();
        let started = dir.path().join("started");
        // Writes part of the object, says it started (its PID), then waits.
        let before = format!(
            r#"echo partial > "$out"; echo $$ > {0}.tmp && mv {0}.tmp {0}"#,
            started.display()
        );
        let cc = spy_compiler(dir.path(), "slowcc", &before, Some("exec sleep 60"));
        let src = dir.path().join("prog.c");
        std::fs::write(&src, "int main(void) { return 0; }\n").unwrap();
        let mut child = common::objdl_command(OBJDL)
            .arg("run")
            .arg(&src)
            .env("CC", &cc)
            .env("TMPDIR", &tmp)
            .spawn()
            .unwrap();
        let deadline = Instant::now() + TIMEOUT;
        while !started.exists() {
            assert!(Instant::now() < deadline, "the compiler never started");
            std::thread::sleep(Duration::from_millis(10));
        }
        let compiler: libc::pid_t = std::fs::read_to_string(&started)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert!(!entries(&tmp).is_empty(), "no scratch directory yet");
        // SAFETY: sends a signal to our own child.
        unsafe { libc::kill(child.id() as libc::pid_t, signal) };
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                // SAFETY: the compiler this test started (sleep), not reaped by objdl.
                unsafe { libc::kill(compiler, libc::SIGKILL) };
                panic!("objdl did not stop on signal {signal}");
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        // SAFETY: probes whether the compiler's PID is still in use.
        let compiler_alive = unsafe { libc::kill(compiler, 0) } == 0;
        if compiler_alive {
            // SAFETY: as above.
            unsafe { libc::kill(compiler, libc::SIGKILL) };
        }
        assert_eq!(status.signal(), Some(signal), "{status:?}");
        assert!(entries(&tmp).is_empty(), "left behind: {:?}", entries(&tmp));
        assert!(!compiler_alive, "the compiler still runs");
    }
}

/// The compilation of an LTO input (`gcc -r -flinker-output=nolto-rel`,
/// into the scratch directory) is stopped like a `.c` one: SIGTERM removes
/// the directory, and the compiler stops too.
#[test]
fn scratch_directory_is_removed_on_sigterm_while_lto_compiles() {
    let dir = tempfile::tempdir().unwrap();
    let tmp = dir.path().join("tmp");
    let bin = dir.path().join("bin");
    std::fs::create_dir(&tmp).unwrap();
    std::fs::create_dir(&bin).unwrap();
    let src = dir.path().join("lto.c");
    std::fs::write(&src, "int main(void) { return 0; }\n").unwrap();
    let obj = dir.path().join("lto.o");
    let made = Command::new("gcc")
        .args(["-O2", "-flto", "-c"])
        .arg(&src)
        .arg("-o")
        .arg(&obj)
        .status()
        .unwrap();
    assert!(made.success());
    // A `gcc`, first on PATH, that waits when asked to compile LTO input.
    let started = dir.path().join("started");
    let before = format!(
        r#"case "$*" in *nolto-rel*) echo $$ > {0}.tmp && mv {0}.tmp {0}; exec sleep 60;; esac"#,
        started.display()
    );
    let gcc = spy_compiler(&bin, "gcc", &before, Some(r#"exec /usr/bin/gcc "$@""#));
    std::fs::rename(&gcc, bin.join("gcc")).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let mut child = common::objdl_command(OBJDL)
        .arg("run")
        .arg(&obj)
        .env("PATH", path)
        .env("TMPDIR", &tmp)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + TIMEOUT;
    while !started.exists() {
        assert!(
            Instant::now() < deadline,
            "the LTO compilation never started"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let compiler: libc::pid_t = std::fs::read_to_string(&started)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // SAFETY: sends a signal to our own child.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            // SAFETY: the compiler this test started (sleep).
            unsafe { libc::kill(compiler, libc::SIGKILL) };
            panic!("objdl did not stop on SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    // SAFETY: probes whether the compiler's PID is still in use.
    let compiler_alive = unsafe { libc::kill(compiler, 0) } == 0;
    if compiler_alive {
        // SAFETY: as above.
        unsafe { libc::kill(compiler, libc::SIGKILL) };
    }
    assert_eq!(status.signal(), Some(libc::SIGTERM), "{status:?}");
    assert!(entries(&tmp).is_empty(), "left behind: {:?}", entries(&tmp));
    assert!(!compiler_alive, "the compiler still runs");
}

/// When objdl starts itself again (here for UndefinedBehaviorSanitizer's
/// runtime, which a unit built with -fsanitize=undefined needs first in the
/// process), it leaves no scratch directory behind: `exec` runs no
/// destructor.
#[test]
fn scratch_directory_is_removed_before_objdl_restarts() {
    let runtime = Command::new("gcc")
        .arg("-print-file-name=libubsan.so")
        .output()
        .unwrap();
    if !Path::new(String::from_utf8_lossy(&runtime.stdout).trim()).is_file() {
        eprintln!("skipping: no libubsan.so for gcc here");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let cc = spy_compiler(
        dir.path(),
        "ubsancc",
        "",
        Some(r#"exec gcc -fsanitize=undefined "$@""#),
    );
    let src = dir.path().join("ubsan.c");
    std::fs::write(
        &src,
        "int main(int argc, char **argv) { (void)argv; int x = 2147483647 - 1; return (x + argc) == 0; }\n",
    )
    .unwrap();
    let mut cmd = common::objdl_command(OBJDL);
    cmd.arg("run").arg(&src).env("CC", &cc).env("TMPDIR", &tmp);
    let (out, timed_out) = run_with_timeout(cmd, None, TIMEOUT);
    assert!(!timed_out, "{out:?}");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(entries(&tmp).is_empty(), "left behind: {:?}", entries(&tmp));
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
    for s in sections(bytes).iter() {
        if !s.sh_flags(LE).contains(elf::SHF_EXECINSTR) {
            continue;
        }
        // No range for SHT_NOBITS: nothing of it is in the file.
        if let Some((offset, size)) = s.file_range(LE) {
            let start = offset as usize;
            let end = (offset + size) as usize;
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
