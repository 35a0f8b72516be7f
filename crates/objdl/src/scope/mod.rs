//! Scope: where names are found outside a unit. [`namespace`] holds the
//! exports of Global units, [`host`] the process's own symbols and shared
//! libraries (and finds `-l` libraries), [`implicit`] the libraries the gcc
//! driver links without being asked.

pub(crate) mod host;
pub(crate) mod implicit;
pub(crate) mod namespace;
