//! One object through `objdl::inspect::inspect`: the ELF parser, section
//! classification, symbol and relocation reading, and what each
//! relocation needs.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match objdl::inspect::inspect("fuzz.o", data) {
        Ok(info) => {
            // Format everything, as `objdl inspect` prints it.
            let mut n = 0;
            for r in &info.relocations {
                n += format!(
                    "{}+{:#x} {} {}{:+} needs {}",
                    r.section, r.offset, r.r_type, r.symbol, r.addend, r.reach
                )
                .len();
            }
            for s in &info.symbols {
                n += format!(
                    "{} {} {} {:#x} {:#x}",
                    s.name, s.binding, s.section, s.value, s.size
                )
                .len();
            }
            for s in &info.sections {
                n += format!(
                    "{} {} {} {:#x} {:#x}",
                    s.index, s.name, s.kind, s.size, s.align
                )
                .len();
            }
            std::hint::black_box(n);
        }
        Err(e) => {
            let msg = e.to_string();
            assert!(!msg.contains('\n'), "an error of several lines: {msg:?}");
            assert!(
                msg.contains("fuzz.o"),
                "an error that names no input: {msg:?}"
            );
        }
    }
});
