//! A unit's thread-locals: a TLS module of objdl's, or a block in static
//! TLS that ld.so allocates through a shim (initial- and local-exec code),
//! and other modules' thread-locals that initial-exec code reaches.

use crate::arch;
use crate::error::{Error, Result, StaticTlsRefusal, Unsupported};
use crate::input::{self, RelocFields as _};
use crate::link::layout::align_up;
use crate::link::plan;
use crate::link::relocate;
use crate::link::resolution::Resolution;
use crate::link::unit_layout::Layout;
use crate::load::shim;
use crate::load::tls::{ThreadLocals, TlsModule};

use super::inputs::unit_name;
use super::stage_data::Parts;

/// What [`thread_locals`] decided.
pub(super) struct ThreadLocalPlan {
    /// The unit's TLS module id, as TLSGD/TLSLD pairs and DTPMOD64 hold it
    /// (0 without thread-locals).
    pub module_id: u64,
    /// Offsets from the thread pointer for initial-exec and local-exec code.
    pub tp: plan::ThreadPointerOffsets,
    pub keep: ThreadLocals,
}

/// Other modules' thread-locals that the unit reaches with initial-exec:
/// their offsets from the thread pointer (each of
/// `Resolution::initial_exec_names`), and the shim that put them there.
#[derive(Default)]
pub(super) struct InitialExec {
    offsets: Vec<i64>,
    shim: Option<shim::Shim>,
}

/// Makes ld.so give the other modules' thread-locals that the unit
/// reaches with initial-exec a place in static TLS (see [`crate::load::shim`]),
/// and checks that each offset leads to the variable `dlsym` finds. A check
/// only pretends, with offsets like the ones a load would get.
pub(super) fn initial_exec_offsets(
    objects: &[input::ObjectFile<'_>],
    res: &Resolution<'_>,
    check: bool,
) -> Result<InitialExec> {
    let names = &res.initial_exec_names;
    if names.is_empty() {
        return Ok(InitialExec::default());
    }
    if check {
        return Ok(InitialExec {
            offsets: (1..=names.len() as i64).map(|i| -8 * i).collect(),
            shim: None,
        });
    }
    let spec = shim::ShimSpec {
        block: None,
        external: names,
        exec_stack: false,
    };
    let loaded = shim::load(&spec).map_err(|e| {
        let (shim::ShimError::StaticTls(why) | shim::ShimError::Other(why)) = e;
        initial_exec_error(objects, res, StaticTlsRefusal::LdSoRefused { why })
    })?;
    let tp = arch::thread_pointer();
    for (name, &offset) in names.iter().zip(&loaded.external_offsets) {
        let here = crate::scope::host::dlsym_uncached(name);
        if here != Some(tp.wrapping_add_signed(offset)) {
            return Err(initial_exec_error(
                objects,
                res,
                StaticTlsRefusal::OffsetMismatch {
                    symbol: name.to_string(),
                },
            ));
        }
    }
    Ok(InitialExec {
        offsets: loaded.external_offsets.clone(),
        shim: Some(loaded),
    })
}

/// Gives the unit at `base` its thread-local storage: the template of its
/// block, relocated (its relocations go to `counts`), in a TLS module of
/// objdl's, or, when initial-exec or local-exec code reaches it, in static
/// TLS, where a shim makes ld.so put it. `initial_exec` has the other
/// modules' thread-locals such code reaches. A check only pretends: it
/// gets offsets that stand for the ones a load would get.
pub(super) fn thread_locals(
    unit: &Parts<'_, '_>,
    demands: &plan::Demands,
    base: u64,
    check: bool,
    initial_exec: InitialExec,
    counts: &mut relocate::Counts,
) -> Result<ThreadLocalPlan> {
    let Parts {
        objects,
        res,
        layout,
        ..
    } = *unit;
    let block = layout.tls.size > 0;
    let static_block = block && demands.static_block;
    let InitialExec {
        offsets: external,
        shim: external_shim,
    } = initial_exec;
    if let Some((module_id, kept_block)) = unit.kept_tls.filter(|_| block && !check) {
        // A reload whose block is the one before: its storage (every
        // thread's) and values stay, in the module or static TLS it is in.
        if static_block && kept_block.is_none() {
            return Err(Error::Unsupported {
                file: unit_name(objects),
                what: Unsupported::KeptBlockNotStatic,
            });
        }
        return Ok(ThreadLocalPlan {
            module_id,
            tp: plan::ThreadPointerOffsets {
                block: kept_block,
                external,
            },
            keep: ThreadLocals::new(None, external_shim.into_iter().collect()),
        });
    }
    if !static_block {
        let module = if block {
            let m = TlsModule::register(layout.tls.size, layout.tls.align)
                .ok_or_else(|| tls_block_error(objects, layout))?;
            Some(m)
        } else {
            None
        };
        let module_id = module.as_ref().map_or(0, TlsModule::id);
        let template = relocate::tls_template(objects, res, layout, base, module_id, counts)?;
        if let (Some(m), Some(template)) = (&module, template) {
            if !m.set_image(template.image) {
                return Err(tls_block_error(objects, layout));
            }
        }
        return Ok(ThreadLocalPlan {
            module_id,
            tp: plan::ThreadPointerOffsets {
                block: None,
                external,
            },
            keep: ThreadLocals::new(module, external_shim.into_iter().collect()),
        });
    }
    // Static TLS: the module is glibc's, known only once the shim is
    // loaded, after the template is made; a template that holds it
    // (DTPMOD64 of the unit's own block) cannot be made.
    let template = relocate::tls_template(objects, res, layout, base, 0, counts)?
        .expect("a unit with a block has a template");
    if template.holds_module {
        return Err(Error::Unsupported {
            file: unit_name(objects),
            what: Unsupported::ModuleIdInStaticTls,
        });
    }
    if check {
        // An offset like the ones ld.so gives, below the thread pointer.
        let size = align_up(layout.tls.size, layout.tls.align.max(16));
        return Ok(ThreadLocalPlan {
            module_id: 1,
            tp: plan::ThreadPointerOffsets {
                block: Some(-(size as i64) - 0x100),
                external,
            },
            keep: ThreadLocals::default(),
        });
    }
    let spec = shim::ShimSpec {
        block: Some(shim::TlsBlock {
            image: &template.image,
            size: layout.tls.size,
            align: layout.tls.align,
        }),
        external: &[],
        exec_stack: false,
    };
    let loaded = shim::load(&spec).map_err(|e| match e {
        shim::ShimError::StaticTls(why) => {
            let bytes = layout.tls.size;
            let align = layout.tls.align;
            Error::StaticTlsFull {
                file: unit_name(objects),
                bytes,
                align,
                suggested: align_up(bytes + align, 1024) + 1024,
                why,
            }
        }
        shim::ShimError::Other(why) => Error::Unsupported {
            file: unit_name(objects),
            what: Unsupported::StaticTlsBlock { why },
        },
    })?;
    Ok(ThreadLocalPlan {
        module_id: loaded.module,
        tp: plan::ThreadPointerOffsets {
            block: Some(loaded.block_offset),
            external,
        },
        keep: ThreadLocals::new(None, external_shim.into_iter().chain([loaded]).collect()),
    })
}

/// The error for a TLS block objdl cannot register.
fn tls_block_error(objects: &[input::ObjectFile<'_>], layout: &Layout) -> Error {
    Error::Unsupported {
        file: unit_name(objects),
        what: Unsupported::TlsBlock {
            size: layout.tls.size,
            align: layout.tls.align,
        },
    }
}

/// The error for initial-exec references to other modules' thread-locals
/// that ld.so could not serve, at the first such site.
fn initial_exec_error(
    objects: &[input::ObjectFile<'_>],
    res: &Resolution<'_>,
    why: StaticTlsRefusal,
) -> Error {
    for (oi, obj) in objects.iter().enumerate() {
        for (si, sec) in obj.sections.iter().enumerate() {
            for r in sec.relocs.iter() {
                if res.initial_exec.contains_key(&(oi as u32, r.sym())) {
                    return Error::StaticTls {
                        site: Box::new(plan::site(obj, si, r.offset())),
                        r_type: arch::reloc_name(r.kind()).into_owned(),
                        symbol: plan::symbol_name(obj, r.sym()),
                        why,
                    };
                }
            }
        }
    }
    Error::Unsupported {
        file: unit_name(objects),
        what: Unsupported::InitialExecTls { why },
    }
}
