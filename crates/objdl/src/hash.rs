//! Hash maps and sets whose keys an input file chooses: symbol and section
//! names, and addresses or offsets taken from its symbols and addends.
//!
//! They hash with foldhash under a random state (a per-process seed, from
//! address space layout randomisation, the time and a heap address, mixed
//! with a per-map seed), so that no input can be built to make its keys
//! collide: with a fixed hash such as FxHash, keys chosen to collide make
//! every insertion and look-up scan the others, and the work quadratic.
//! Maps keyed by indices that objdl assigns itself stay with FxHash.
//!
//! Measured on the SQLite load (callgrind, `objdl run` of `sqlite3.o` and
//! `shell.o`): see the README's performance section.

/// A `HashMap` for keys an input chooses (see the module's documentation).
pub(crate) type KeyedMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// A `HashSet` for keys an input chooses (see the module's documentation).
pub(crate) type KeyedSet<K> = std::collections::HashSet<K, foldhash::fast::RandomState>;
