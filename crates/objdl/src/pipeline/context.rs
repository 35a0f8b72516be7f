//! What lies outside the unit being linked, as every stage sees it. A
//! module of its own so that the stages take it without importing the
//! pipeline that runs them.

use std::sync::Arc;

use crate::scope::host::Host;
use crate::scope::namespace::Namespace;

/// What lies outside the unit being linked: the host (the process's own
/// definitions and libraries) and the global scope of Global units.
#[derive(Clone, Copy)]
pub(crate) struct Context<'a> {
    /// The host's definitions, libraries and `dlsym`.
    pub host: &'a Arc<Host>,
    /// The exports of Global units (a unit joins it, and leaves it when closed).
    pub namespace: &'a Arc<Namespace>,
}
