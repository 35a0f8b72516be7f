//! Linking: from parsed objects to a relocated image at a chosen address.
//! [`resolve`] gives every symbol a target, [`layout`] assigns sections to
//! offsets, [`plan`] decides each relocation (fixed, irreducible,
//! redirected through a trampoline or a GOT slot, relaxed) and the window
//! where the unit may go, [`placement`] chooses the base, [`relocate`]
//! fills the image, and [`lifecycle`] reads from it what the unit will run.
//! What resolution and layout hand the later stages is plain data in
//! modules of its own: [`resolution`] and [`unit_layout`].

pub(crate) mod entries;
pub(crate) mod layout;
pub(crate) mod lazy;
pub(crate) mod lifecycle;
pub(crate) mod placement;
pub(crate) mod plan;
pub(crate) mod relocate;
pub(crate) mod resolution;
pub(crate) mod resolve;
pub(crate) mod unit_layout;
