//! Unit tests of the linker's stages, on objects built in memory
//! ([`build`]) rather than compiled by gcc: each file pins the rules of one
//! stage through its narrowest entry point.

mod arch;
mod archive;
mod build;
mod entries;
mod errors;
mod layout;
mod memory;
mod namespace;
mod parse;
mod placement;
mod plan;
mod relocate;
mod resolve;

use crate::error::Result;
use crate::input::ObjectFile;
use crate::link::plan::Demands;
use crate::link::resolution::Resolution;
use crate::link::unit_layout::Layout;
use crate::scope::host::Host;
use crate::scope::namespace::Namespace;
use crate::{Linker, OpenOptions, Placement, Report};

/// Parses `bytes` as `t.o`, panicking if parse refuses it.
pub(crate) fn parsed(bytes: &[u8]) -> ObjectFile<'_> {
    crate::input::parse("t.o", bytes).unwrap_or_else(|e| panic!("parse: {e}"))
}

/// The message parse refuses `bytes` with, panicking if it accepts them.
pub(crate) fn refusal(bytes: &[u8]) -> String {
    match crate::input::parse("t.o", bytes) {
        Ok(_) => panic!("parse accepted the object"),
        Err(e) => e.to_string(),
    }
}

/// A unit parsed (as `a.o`, `b.o`...), resolved and laid out.
pub(crate) struct Unit<'d> {
    pub objects: Vec<ObjectFile<'d>>,
    pub res: Resolution<'d>,
    pub layout: Layout,
}

/// The input name of the `i`th object: `a.o`, `b.o`...
pub(crate) fn input_name(i: usize) -> String {
    format!("{}.o", (b'a' + i as u8) as char)
}

/// Parses, resolves (against `host` and an empty namespace) and lays out `inputs`.
pub(crate) fn unit_with<'d>(host: &Host, inputs: &'d [Vec<u8>]) -> Result<Unit<'d>> {
    let mut objects = inputs
        .iter()
        .enumerate()
        .map(|(i, b)| crate::input::parse(&input_name(i), b))
        .collect::<Result<Vec<_>>>()?;
    let res =
        crate::link::resolve::resolve(&mut objects, host, &Namespace::default(), None, false)?;
    let layout = crate::link::layout::layout(&objects, &res)?;
    Ok(Unit {
        objects,
        res,
        layout,
    })
}

/// [`unit_with`] a host that defines nothing (only `dlsym`).
pub(crate) fn unit(inputs: &[Vec<u8>]) -> Result<Unit<'_>> {
    unit_with(&Host::default(), inputs)
}

/// The planner's demands of `u`, as the linker asks for them: relocations
/// checked, external facts added, then [`crate::link::plan::demands`].
pub(crate) fn demands(u: &mut Unit<'_>) -> Result<Demands> {
    let kinds = u
        .objects
        .iter()
        .map(ObjectFile::check_relocations)
        .collect::<Result<Vec<u64>>>()?;
    crate::link::resolve::external_facts(&u.objects, &mut u.res, &kinds);
    crate::link::plan::demands(&u.objects, &u.res, &u.layout)
}

/// [`Linker::check`] of `inputs` (named as by [`input_name`]) at `base`,
/// with `defines` given to the linker and no implicit libraries.
pub(crate) fn check_at(base: u64, defines: &[(&str, u64)], inputs: &[Vec<u8>]) -> Result<Report> {
    let linker = Linker::new();
    for &(name, addr) in defines {
        linker.define(name, addr as *const ());
    }
    let mut opts = OpenOptions::new();
    opts.placement(Placement::At(base))
        .implicit_libraries(false);
    let inputs = inputs
        .iter()
        .enumerate()
        .map(|(i, b)| crate::Input::bytes(input_name(i), b.clone()));
    linker.check(inputs, &opts)
}

/// The address of section `name` of input `file` in a report.
pub(crate) fn section_address(report: &Report, file: &str, name: &str) -> u64 {
    report
        .sections
        .iter()
        .find(|s| s.file == file && s.name == name)
        .unwrap_or_else(|| panic!("no section {file}:{name} in {:?}", report.sections))
        .address
}

/// The little-endian `i32` at `at` in `bytes`.
pub(crate) fn i32_at(bytes: &[u8], at: u64) -> i32 {
    i32::from_le_bytes(bytes[at as usize..][..4].try_into().expect("4 bytes"))
}

/// The little-endian `u64` at `at` in `bytes`.
pub(crate) fn u64_at(bytes: &[u8], at: u64) -> u64 {
    u64::from_le_bytes(bytes[at as usize..][..8].try_into().expect("8 bytes"))
}
