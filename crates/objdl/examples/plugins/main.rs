//! A host program with plugins.
//!
//! The host compiles two C plugins from `examples/plugins/` with
//! `cc -c -O2 -fPIC`, hands them a function and a data object of its own
//! (`host_log`, `host_version`) with `Linker::define`, and opens them:
//! `counter.o` with `Scope::Global`, then `greeter.o`, which calls the
//! counter's functions directly. It calls both through `Unit::get`, closes
//! them, reopens them (the counter starts again), and finally closes the
//! counter's handle while the greeter still uses it: the counter stays
//! loaded until the greeter goes. Constructors, `atexit` handlers and
//! destructors say when they run.
//!
//! ```sh
//! cargo run --release -p objdl --example plugins
//! ```

mod host;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    host::run(&mut std::io::stdout().lock())
}
