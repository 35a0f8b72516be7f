//! Errors as data: what parse refuses is a [`Malformed`] or
//! [`Unsupported`] variant that carries the numbers (indices, offsets,
//! sizes), asserted here on the variant, not on its message.

use super::build::{archive, locate, Obj};
use super::parsed;
use crate::error::{
    Error, Malformed, Part, ReloadRefusal, StaticTlsRefusal, UnreachableFix, Unsupported,
};
use object::elf;

/// Parse's error for `bytes` (as `t.o`), panicking if it accepts them.
fn refused(bytes: &[u8]) -> Error {
    match crate::input::parse("t.o", bytes) {
        Ok(_) => panic!("parse accepted the object"),
        Err(e) => e,
    }
}

/// The defect of a malformed input, panicking on any other error.
fn defect(err: Error) -> Malformed {
    match err {
        Error::Malformed { file, what } => {
            assert_eq!(file, "t.o");
            what
        }
        other => panic!("not malformed: {other:?}"),
    }
}

/// What an unsupported input uses, panicking on any other error.
fn feature(err: Error) -> Unsupported {
    match err {
        Error::Unsupported { file, what } => {
            assert_eq!(file, "t.o");
            what
        }
        other => panic!("not unsupported: {other:?}"),
    }
}

/// The header checks, each its own variant with the value found.
#[test]
fn header_defects_are_variants() {
    let good = Obj::new().bytes();
    assert_eq!(
        defect(refused(&good[..10])),
        Malformed::TooShort { len: 10 }
    );
    let mut b = good.clone();
    b[0] = 0;
    assert_eq!(defect(refused(&b)), Malformed::NotElf);
    let mut b = good.clone();
    b[4] = elf::ELFCLASS32.0;
    assert_eq!(feature(refused(&b)), Unsupported::ElfClass(1));
    let mut b = good.clone();
    b[5] = elf::ELFDATA2MSB.0;
    assert_eq!(feature(refused(&b)), Unsupported::BigEndian);
    let mut b = good.clone();
    b[18..20].copy_from_slice(&elf::EM_AARCH64.0.to_le_bytes());
    assert_eq!(feature(refused(&b)), Unsupported::Machine(183));
    let mut b = good.clone();
    b[16..18].copy_from_slice(&elf::ET_DYN.0.to_le_bytes());
    assert_eq!(
        feature(refused(&b)),
        Unsupported::FileType {
            e_type: 3,
            interp: false
        }
    );
    // A section header table past the end of the file: object's reason.
    let mut b = good;
    b[0x28..0x30].copy_from_slice(&(1u64 << 40).to_le_bytes()); // e_shoff
    assert!(matches!(
        defect(refused(&b)),
        Malformed::Read {
            part: Part::SectionHeaders,
            ..
        }
    ));
}

/// Section defects name the section and its index, with the bad value.
#[test]
fn section_defects_carry_index_and_values() {
    let mut o = Obj::new();
    o.data(&[0; 8]);
    let good = o.bytes();
    let header = locate::section_header(&good, ".data");
    // sh_addralign (offset 48): not a power of two, then too large.
    let mut b = good.clone();
    b[header + 48..header + 56].copy_from_slice(&24u64.to_le_bytes());
    assert_eq!(
        defect(refused(&b)),
        Malformed::Alignment {
            section: ".data".into(),
            index: 1,
            align: 24
        }
    );
    let mut b = good.clone();
    b[header + 48..header + 56].copy_from_slice(&(1u64 << 31).to_le_bytes());
    assert!(matches!(
        feature(refused(&b)),
        Unsupported::Alignment { index: 1, align, limit, .. } if align == 1 << 31 && limit == 1 << 30
    ));
    // sh_offset (offset 24) near the end of the file.
    let mut b = good.clone();
    let len = b.len();
    b[header + 24..header + 32].copy_from_slice(&(len as u64 - 4).to_le_bytes());
    assert_eq!(
        defect(refused(&b)),
        Malformed::ContentsOutside {
            section: ".data".into(),
            index: 1,
            offset: len as u64 - 4,
            size: 8,
            file_len: len
        }
    );
    // sh_name (offset 0) past the section names.
    let mut b = good;
    b[header..header + 4].copy_from_slice(&0xffff_u32.to_le_bytes());
    assert!(matches!(
        defect(refused(&b)),
        Malformed::NameOffset {
            part: Part::Section(1),
            offset: 0xffff,
            ..
        }
    ));
}

/// Symbol defects name the symbol (by name once it has one, else by index).
#[test]
fn symbol_defects_carry_names_and_values() {
    let mut o = Obj::new();
    let data = o.data(&[0; 8]);
    o.global("g", data, 0, 8);
    let good = o.bytes();
    let at = locate::symbol(&good, "g");
    let mut b = good.clone();
    b[at + 6..at + 8].copy_from_slice(&500u16.to_le_bytes()); // st_shndx
    assert_eq!(
        defect(refused(&b)),
        Malformed::SymbolSection {
            symbol: "g".into(),
            index: 500
        }
    );
    let mut b = good.clone();
    b[at + 8..at + 16].copy_from_slice(&9u64.to_le_bytes()); // st_value
    assert_eq!(
        defect(refused(&b)),
        Malformed::SymbolValue {
            symbol: "g".into(),
            value: 9,
            section: ".data".into(),
            size: 8
        }
    );
    // st_name 0: a global without a name.
    let mut b = good;
    b[at..at + 4].copy_from_slice(&0u32.to_le_bytes());
    assert!(matches!(defect(refused(&b)), Malformed::Nameless { .. }));
    // A name over the limit is unsupported, by the symbol's index.
    let mut o = Obj::new();
    o.undefined(&"x".repeat(crate::limits::MAX_NAME + 1));
    assert!(matches!(
        feature(refused(&o.bytes())),
        Unsupported::LongName { len, .. } if len == crate::limits::MAX_NAME + 1
    ));
}

/// Relocation defects: the section, the offset, the index or width.
#[test]
fn relocation_defects_carry_offsets() {
    let mut o = Obj::new();
    let data = o.data(&[0; 8]);
    let f = o.undefined("f");
    o.reloc(data, 4, f, elf::R_X86_64_64, 0);
    let bytes = o.bytes();
    let err = parsed(&bytes).check_relocations().unwrap_err();
    assert_eq!(
        defect(err),
        Malformed::RelocationOutside {
            section: ".data".into(),
            offset: 4,
            width: 8,
            size: 8
        }
    );
    // r_info's symbol index past the symbol table.
    let mut o = Obj::new();
    let data = o.data(&[0; 8]);
    let f = o.undefined("f");
    o.reloc(data, 0, f, elf::R_X86_64_64, 0);
    let mut b = o.bytes();
    let at = locate::contents(&b, ".rela.data") + 8;
    b[at..at + 8].copy_from_slice(&((1000u64 << 32) | 1).to_le_bytes());
    let err = parsed(&b).check_relocations().unwrap_err();
    assert!(matches!(
        defect(err),
        Malformed::RelocationSymbol {
            symbol: 1000,
            offset: 0,
            ..
        }
    ));
    // Relocations of a NOBITS section.
    let mut o = Obj::new();
    let bss = o.bss(8, 8);
    let f = o.undefined("f");
    o.reloc(bss, 0, f, elf::R_X86_64_64, 0);
    assert!(matches!(
        defect(refused(&o.bytes())),
        Malformed::NoBitsTarget { target, .. } if target == ".bss"
    ));
}

/// A damaged archive is a read error of the archive's header, named after
/// the archive; a thin archive is unsupported.
#[test]
fn archive_defects_are_variants() {
    let mut o = Obj::new();
    o.undefined("foo");
    let main = o.bytes();
    let mut lib = archive(&[("foo.o", &main)], true);
    lib.truncate(30);
    let mut objects = vec![parsed(&main)];
    let err = crate::input::archive::select(&mut objects, &[("lib.a", &lib)], &[], &|_| false)
        .unwrap_err();
    assert!(
        matches!(
            &err,
            Error::Malformed { file, what: Malformed::Read { part: Part::ArchiveSymbolIndex | Part::Archive, .. } }
                if file == "lib.a"
        ),
        "{err:?}"
    );
    let thin = b"!<thin>\n".to_vec();
    let err = crate::input::archive::select(&mut objects, &[("t.a", &thin)], &[], &|_| false)
        .unwrap_err();
    assert!(matches!(
        err,
        Error::Unsupported {
            what: Unsupported::ThinArchive,
            ..
        }
    ));
}

/// An internal error is its own kind, and says it is objdl's bug.
#[test]
fn internal_errors_are_a_kind_of_their_own() {
    let err = Error::Internal {
        file: "t.o".into(),
        what: "an invariant",
        at: None,
    };
    assert_eq!(
        err.to_string(),
        "t.o: internal error: an invariant; this is a bug in objdl, please report it (with the input)"
    );
}

/// An initial-exec reference to a variable that is not thread-local is
/// refused with the reason as a variant.
#[test]
fn initial_exec_of_a_plain_variable_is_a_reason() {
    let mut o = Obj::new();
    // mov x@gottpoff(%rip), %rax
    let text = o.text(&[0x48, 0x8b, 0x05, 0, 0, 0, 0, 0xc3]);
    let data = o.data(&[0; 8]);
    let x = o.global("x", data, 0, 8);
    o.reloc(text, 3, x, elf::R_X86_64_GOTTPOFF, -4);
    let inputs = [o.bytes()];
    let mut u = super::unit(&inputs).unwrap();
    let err = super::demands(&mut u).unwrap_err();
    let Error::StaticTls { symbol, why, .. } = &err else {
        panic!("{err}");
    };
    assert_eq!(symbol, "x");
    assert_eq!(*why, StaticTlsRefusal::NotThreadLocal);
    assert!(
        err.to_string()
            .contains("it is not a thread-local variable of the unit or of a loaded module"),
        "{err}"
    );
}

/// An object with one function, `f`, that returns.
fn one_function() -> Vec<u8> {
    let mut o = Obj::new();
    let text = o.text(&[0xc3]);
    o.func("f", text, 0, 1);
    o.bytes()
}

/// A reload is refused with its reason as a variant: the unit was not
/// opened reloadable, or the input is not one of the unit's.
#[test]
fn reload_refusals_are_variants() {
    let linker = crate::Linker::new();
    let input = || [crate::Input::bytes("f.o", one_function())];
    // SAFETY: the unit's one function returns; nothing runs at open.
    let plain = unsafe { crate::OpenOptions::new().open(&linker, input()) }.unwrap();
    // SAFETY: as above; the reload is refused before anything runs.
    let err =
        unsafe { plain.reload_input(crate::Input::bytes("f.o", one_function())) }.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Reload {
                why: ReloadRefusal::NotReloadable,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "f.o: cannot reload: the unit was not opened reloadable (OpenOptions::reloadable)"
    );
    // SAFETY: as above.
    let hot = unsafe {
        crate::OpenOptions::new()
            .reloadable(true)
            .open(&linker, input())
    }
    .unwrap();
    // SAFETY: as above.
    let err = unsafe { hot.reload_input(crate::Input::bytes("g.o", one_function())) }.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Reload {
                why: ReloadRefusal::NotAnInput,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "g.o: cannot reload: not one of the inputs the unit was opened from"
    );
}

/// The refusals that only ld.so's failure or a limit too large to reach
/// in a test can cause still render as they did, from their data.
#[test]
fn unreachable_refusals_render_from_their_data() {
    let cases: [(Unsupported, &str); 5] = [
        (
            Unsupported::ExecutableStackRefused { why: "no".into() },
            "an executable stack: glibc would not make the stacks executable: no",
        ),
        (
            Unsupported::KeptBlockNotStatic,
            "thread-locals: the new code reaches them with initial-exec or local-exec, but the unit's block is not in static TLS, so it cannot be kept; open the unit again",
        ),
        (
            Unsupported::StaticTlsBlock { why: "no".into() },
            "thread-locals in static TLS: no",
        ),
        (
            Unsupported::InitialExecTls {
                why: StaticTlsRefusal::LdSoRefused { why: "no".into() },
            },
            "initial-exec thread-locals: ld.so could not serve it: no",
        ),
        (
            Unsupported::ReloadableFunctions { limit: 7 },
            "more than 7 functions in one reloadable unit",
        ),
    ];
    for (what, text) in cases {
        assert_eq!(what.to_string(), text);
    }
    assert_eq!(
        UnreachableFix::PicOrLow.to_string(),
        "recompile with -fPIC (or -mcmodel=large), or load with --place low"
    );
}
