//! The one error type of objdl.
//!
//! Every message names where the problem is: the file, and where it applies
//! the section, the offset in it, the symbol and the relocation type.

use std::fmt;
use std::path::PathBuf;

/// A place in an input: file, section and offset in that section.
///
/// Displayed as `file:section+0xOFFSET`, the form used in every message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    /// The input's name (its path, or the name given to in-memory bytes).
    pub file: String,
    /// The section's name, e.g. `.text`.
    pub section: String,
    /// The byte offset in the section.
    pub offset: u64,
}

impl fmt::Display for Site {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}+{:#x}", self.file, self.section, self.offset)
    }
}

/// A reference that no placement of the unit can serve: a RIP-relative data
/// access or a 32-bit absolute whose target is out of reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnreachableSite {
    /// Where the relocated field is.
    pub site: Site,
    /// The relocation type, e.g. `R_X86_64_PC32`.
    pub r_type: String,
    /// The symbol the field refers to.
    pub symbol: String,
    /// The target's address.
    pub target: u64,
    /// A few instruction bytes around the field (up to 3 before it and the field itself).
    pub bytes: Vec<u8>,
    /// Why it cannot be served.
    pub why: String,
}

impl fmt::Display for UnreachableSite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} against `{}` ({:#x}): {} [bytes",
            self.site, self.r_type, self.symbol, self.target, self.why
        )?;
        for b in &self.bytes {
            write!(f, " {b:02x}")?;
        }
        f.write_str("]")
    }
}

/// An unresolved reference: the symbol and the first input that wanted it.
///
/// Displayed as `` `name` (referenced from file) ``.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unresolved {
    /// The symbol's name.
    pub symbol: String,
    /// The first input that referenced it.
    pub file: String,
}

impl fmt::Display for Unresolved {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` (referenced from {})", self.symbol, self.file)
    }
}

/// Everything that can go wrong while opening, linking or using a unit.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An input could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The path that failed.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },

    /// An input is not a well-formed ELF file: a size, offset, count or index
    /// points outside the file or is otherwise inconsistent.
    #[error("{file}: malformed: {what}")]
    Malformed {
        /// The input's name.
        file: String,
        /// What is wrong, and where (section, offset).
        what: String,
    },

    /// An input is well formed but uses something objdl does not support:
    /// another class, byte order, machine or file type, a TLS section, SHT_REL.
    #[error("{file}: unsupported: {what}")]
    Unsupported {
        /// The input's name.
        file: String,
        /// What is not supported, and where.
        what: String,
    },

    /// A relocation type objdl does not implement (yet), e.g. the TLS ones.
    #[error("{site}: unsupported relocation {r_type} against `{symbol}`")]
    UnsupportedRelocation {
        /// Where the relocation applies.
        site: Box<Site>,
        /// The type's name, or its number.
        r_type: String,
        /// The symbol it refers to.
        symbol: String,
    },

    /// A thread-local variable of another module, reached with the
    /// initial-exec model, that cannot be given a fixed offset from the
    /// thread pointer: its module's block is not (and can no longer be
    /// made) part of static TLS, or it is not thread-local.
    #[error("{site}: {r_type} against `{symbol}` (initial-exec TLS): {why}; recompile with -fPIC, which reaches other modules' thread-locals with the general-dynamic model")]
    StaticTls {
        /// Where the relocation applies.
        site: Box<Site>,
        /// The type's name.
        r_type: String,
        /// The thread-local symbol.
        symbol: String,
        /// Why it cannot be served.
        why: String,
    },

    /// The unit's thread-local storage, reached with the initial-exec or
    /// local-exec model, needs room in glibc's static TLS area, and the
    /// surplus glibc reserves at start-up for modules loaded later has none
    /// left. Starting the process with a larger surplus (the tunable
    /// `glibc.rtld.optional_static_tls`) makes room; `objdl run` restarts
    /// itself so.
    #[error("{file}: its initial-exec thread-local storage ({bytes} bytes, aligned to {align}) does not fit in glibc's static TLS surplus ({why}); start the process with GLIBC_TUNABLES=glibc.rtld.optional_static_tls={suggested} (objdl run restarts itself so), or recompile with -fPIC")]
    StaticTlsFull {
        /// The unit's inputs.
        file: String,
        /// The bytes the unit's block needs.
        bytes: u64,
        /// Its alignment.
        align: u64,
        /// A value of `glibc.rtld.optional_static_tls` that leaves room for it.
        suggested: u64,
        /// What glibc said.
        why: String,
    },

    /// An input holds no machine code, only a compiler's intermediate
    /// representation for link-time optimisation: a slim GCC LTO object or
    /// LLVM bitcode. Compiling it to an object first makes it loadable
    /// (`objdl run` does); see [`crate::lto_object`].
    #[error("{file}: unsupported: {}", lto_message(*.kind))]
    LtoInput {
        /// The input.
        file: String,
        /// Which kind of LTO input.
        kind: crate::LtoObject,
    },

    /// An input needs an executable stack, which objdl gives only when
    /// asked ([`crate::OpenOptions::exec_stack`]): it breaks W^X for every
    /// thread of the process.
    #[error("{file}: needs an executable stack ({why}); objdl refuses it by default, as it makes every thread's stack writable and executable: {fix}, or allow it with --exec-stack (OpenOptions::exec_stack)")]
    ExecutableStack {
        /// The input.
        file: String,
        /// Why it needs one.
        why: &'static str,
        /// How to do without.
        fix: &'static str,
    },

    /// Symbols that nothing defines. Every one of them is listed; the
    /// message names the first ten, then says how many more there are.
    #[error("unresolved symbols: {}{}", list_unresolved(.0), unresolved_hint(.0))]
    Unresolved(Vec<Unresolved>),

    /// Two strong definitions of one symbol in one unit.
    #[error("duplicate definition of `{symbol}`: first in {first}, again in {second}")]
    DuplicateSymbol {
        /// The symbol's name.
        symbol: String,
        /// The first definition's file.
        first: String,
        /// The second definition's file.
        second: String,
    },

    /// A relocated value does not fit its field. Nothing was written.
    #[error("{site}: {r_type} against `{symbol}`: value {value:#x} does not fit {detail}")]
    Overflow {
        /// Where the field is.
        site: Box<Site>,
        /// The relocation type's name.
        r_type: String,
        /// The symbol it refers to.
        symbol: String,
        /// The value that was computed (as a two's-complement 64-bit number).
        value: i64,
        /// The field's range, e.g. "a signed 32-bit field".
        detail: &'static str,
    },

    /// References that no placement can serve. Every such site is listed,
    /// with the fix.
    #[error("{}; {fix}", summarize_sites(.sites))]
    Unreachable {
        /// Every site that cannot be served.
        sites: Vec<UnreachableSite>,
        /// How to fix it, e.g. "recompile with -fPIC".
        fix: String,
    },

    /// No free address range satisfies the unit's placement constraints.
    #[error("no place for the unit ({size:#x} bytes): {why}")]
    NoPlacement {
        /// The unit's size.
        size: u64,
        /// Why not, with the window that was searched.
        why: String,
    },

    /// The operating system refused a memory operation.
    #[error("{op} failed at {addr:#x} ({len:#x} bytes): {source}")]
    Memory {
        /// `mmap`, `mprotect`...
        op: &'static str,
        /// The address asked for.
        addr: u64,
        /// The length asked for.
        len: u64,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },

    /// A unit does not define (or does not export) this symbol.
    #[error("symbol `{0}` not found in the unit")]
    SymbolNotFound(String),

    /// A shared library given with `-l` or [`crate::Linker::load_library`]
    /// could not be found or loaded.
    #[error("library {name}: {why}")]
    Library {
        /// The name as given.
        name: String,
        /// What went wrong (dlerror's text, or the paths searched).
        why: String,
    },

    /// A symbol name or other string contained a NUL byte or was not valid.
    #[error("invalid name `{0}`")]
    InvalidName(String),
}

fn lto_message(kind: crate::LtoObject) -> &'static str {
    match kind {
        crate::LtoObject::GccSlim => "a GCC LTO object (-flto) without machine code (slim): `objdl run` compiles such an input first (gcc -r -flinker-output=nolto-rel); otherwise rebuild it with -ffat-lto-objects or without -flto",
        crate::LtoObject::LlvmBitcode => "LLVM bitcode (clang -flto), not machine code: `objdl run` compiles such an input first (clang -c); otherwise rebuild it without -flto",
    }
}

/// A sanitizer whose instrumented code calls into its runtime library,
/// which must be the first library of the process.
///
/// ```
/// let asan = objdl::SANITIZERS.iter().find(|s| "__asan_init".starts_with(s.prefix)).unwrap();
/// assert_eq!((asan.flag, asan.runtime), ("address", "libasan.so"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Sanitizer {
    /// The prefix of its runtime's functions, e.g. `__asan_`.
    pub prefix: &'static str,
    /// Its name, e.g. `AddressSanitizer`.
    pub name: &'static str,
    /// Its `-fsanitize=` value, e.g. `address`.
    pub flag: &'static str,
    /// Its runtime library, as `gcc -print-file-name` finds it.
    pub runtime: &'static str,
    /// A function its runtime defines: the process has the runtime if
    /// `dlsym` finds it.
    pub probe: &'static str,
}

/// The sanitizers gcc instruments code for.
pub const SANITIZERS: &[Sanitizer] = &[
    Sanitizer {
        prefix: "__asan_",
        name: "AddressSanitizer",
        flag: "address",
        runtime: "libasan.so",
        probe: "__asan_init",
    },
    Sanitizer {
        prefix: "__tsan_",
        name: "ThreadSanitizer",
        flag: "thread",
        runtime: "libtsan.so",
        probe: "__tsan_init",
    },
    Sanitizer {
        prefix: "__ubsan_",
        name: "UndefinedBehaviorSanitizer",
        flag: "undefined",
        runtime: "libubsan.so",
        probe: "__ubsan_handle_add_overflow",
    },
    Sanitizer {
        prefix: "__lsan_",
        name: "LeakSanitizer",
        flag: "leak",
        runtime: "liblsan.so",
        probe: "__lsan_do_leak_check",
    },
];

/// What to do about unresolved names that the loader can explain: a
/// sanitizer's runtime missing from the process.
fn unresolved_hint(list: &[Unresolved]) -> String {
    for s in SANITIZERS {
        if list.iter().any(|u| u.symbol.starts_with(s.prefix)) {
            return format!(
                "; these are {}'s (-fsanitize={}), whose runtime must be the first library of the process: link the host with -fsanitize={}, or start it with LD_PRELOAD=$(gcc -print-file-name={}) (objdl run does this itself)",
                s.name, s.flag, s.flag, s.runtime
            );
        }
    }
    String::new()
}

/// How many unresolved names the message of [`Error::Unresolved`] shows.
const SHOWN_UNRESOLVED: usize = 10;

fn list_unresolved(list: &[Unresolved]) -> String {
    let items: Vec<String> = list
        .iter()
        .take(SHOWN_UNRESOLVED)
        .map(|u| u.to_string())
        .collect();
    let more = list.len().saturating_sub(SHOWN_UNRESOLVED);
    if more > 0 {
        format!("{}, and {more} more", items.join(", "))
    } else {
        items.join(", ")
    }
}

/// How many sites the message shows in full; all are in [`Error::Unreachable::sites`].
const SHOWN_SITES: usize = 4;

/// How many symbols the message of [`Error::Unreachable`] names.
const SHOWN_SYMBOLS: usize = 10;

fn summarize_sites(sites: &[UnreachableSite]) -> String {
    // Per symbol, how many sites, in order of first appearance.
    let mut index: crate::hash::KeyedMap<&str, usize> = Default::default();
    let mut per_symbol: Vec<(&str, usize)> = Vec::new();
    for s in sites {
        let i = *index.entry(&s.symbol).or_insert_with(|| {
            per_symbol.push((&s.symbol, 0));
            per_symbol.len() - 1
        });
        per_symbol[i].1 += 1;
    }
    let mut symbols: Vec<String> = per_symbol
        .iter()
        .take(SHOWN_SYMBOLS)
        .map(|(n, c)| format!("`{n}` ({c})"))
        .collect();
    let more_symbols = per_symbol.len().saturating_sub(SHOWN_SYMBOLS);
    if more_symbols > 0 {
        symbols.push(format!("and {more_symbols} more symbols"));
    }
    let shown: Vec<String> = sites
        .iter()
        .take(SHOWN_SITES)
        .map(|s| s.to_string())
        .collect();
    let more = sites.len().saturating_sub(SHOWN_SITES);
    format!(
        "{} reference(s) to {} cannot reach their targets from this placement: {}{}",
        sites.len(),
        symbols.join(", "),
        shown.join("; "),
        if more > 0 {
            format!("; and {more} more")
        } else {
            String::new()
        }
    )
}

/// `Result` with objdl's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
