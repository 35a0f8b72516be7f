//! What the CLI's inputs need before the library opens them: a private
//! scratch directory for what is compiled (sources: `compile.rs`, LTO
//! objects: `lto.rs`), a check that a source is a regular file, and
//! compilers that are stopped, and their output removed, when objdl is.
//!
//! The scratch directory is private: mode 0700 whatever the umask, with 16
//! random characters in its name, so that no other user can plant the
//! object objdl reads back from it. It is removed on every way out: when
//! dropped (success, and every error), before objdl starts itself again
//! (`exec` runs no destructor: [`Scratch::remove`]), and on SIGINT, SIGTERM
//! or SIGHUP while a compiler runs (see [`run_compiler`]), for `.c` inputs
//! and LTO inputs (`lto.rs`) alike.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, ExitStatus};

/// A temporary directory for compiled `.c` inputs, made when the first one
/// needs it (most runs have none) and removed when dropped.
#[derive(Default)]
pub(crate) struct Scratch(Option<tempfile::TempDir>);

impl Scratch {
    pub(crate) fn dir(&mut self) -> Result<&Path, String> {
        if self.0.is_none() {
            let private = std::fs::Permissions::from_mode(0o700);
            let dir = tempfile::Builder::new()
                .prefix("objdl-")
                .rand_bytes(16)
                .permissions(private.clone())
                .tempdir()
                .map_err(|e| format!("temporary directory: {e}"))?;
            // mkdir applies the umask, which may take the owner's bits too.
            std::fs::set_permissions(dir.path(), private)
                .map_err(|e| format!("{}: {e}", dir.path().display()))?;
            self.0 = Some(dir);
        }
        Ok(self
            .0
            .as_ref()
            .map(tempfile::TempDir::path)
            .expect("made above"))
    }

    /// Removes the directory now, if there is one (before an `exec`).
    pub(crate) fn remove(&mut self) {
        drop(self.0.take());
    }
}

/// `Ok` if `path` is a regular file (after symbolic links), else the one-line
/// error `PATH: not a regular file (a FIFO)` and the like, as the library
/// words it for the inputs it opens. Only `stat`s the path: nothing is opened.
pub(crate) fn regular_file(path: &Path) -> Result<(), String> {
    objdl::regular_file(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// The signals that stop objdl while it compiles, if they are not ignored.
const STOPPING: [libc::c_int; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

/// Runs the compiler `cmd`, which writes into `scratch`, and returns how
/// it exited. If objdl is told to stop meanwhile (SIGINT, SIGTERM, SIGHUP),
/// the compiler is stopped too, `scratch` removed, and objdl dies of the
/// signal: this does not return.
pub(crate) fn run_compiler(
    cmd: &mut Command,
    scratch: &mut Scratch,
) -> std::io::Result<ExitStatus> {
    let compilers = Compilers::watch();
    let mut child = cmd.spawn()?;
    compilers.wait(&mut [&mut child], 0, scratch)
}

/// Compilers running into a scratch directory, watched for objdl being
/// told to stop. objdl holds back the [`STOPPING`] signals (those not
/// ignored) from [`Compilers::watch`] until dropped; the compilers
/// themselves start with no signal held (std resets a child's mask).
pub(crate) struct Compilers {
    held: HeldSignals,
}

impl Compilers {
    /// Starts watching: spawn the compilers after this.
    pub(crate) fn watch() -> Compilers {
        Compilers {
            held: HeldSignals::hold(),
        }
    }

    /// Waits for `running[which]` to exit and returns its status. Given a
    /// [`STOPPING`] signal meanwhile, passes it on to every compiler in
    /// `running`, waits for them to stop (at most a few seconds, then kills
    /// them), removes `scratch` and dies of the signal: no return then.
    pub(crate) fn wait(
        &self,
        running: &mut [&mut Child],
        which: usize,
        scratch: &mut Scratch,
    ) -> std::io::Result<ExitStatus> {
        loop {
            if let Some(status) = running[which].try_wait()? {
                return Ok(status);
            }
            if let Some(signal) = self.held.wait() {
                for child in running.iter_mut() {
                    stop(child, signal, &self.held);
                }
                // The compilers have stopped: remove what they left, then
                // stop as the signal asked.
                scratch.remove();
                die_of(signal)
            }
        }
    }
}

/// Passes `signal` on to the compiler and waits for it to stop (its end
/// wakes `held`); kills it if it has not after five seconds.
fn stop(child: &mut Child, signal: libc::c_int, held: &HeldSignals) {
    if let Ok(pid) = libc::pid_t::try_from(child.id()) {
        // SAFETY: `pid` is our child, not yet waited for; kill only sends.
        unsafe { libc::kill(pid, signal) };
    }
    for _ in 0..50 {
        if !matches!(child.try_wait(), Ok(None)) {
            return;
        }
        held.wait();
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Ends objdl by `signal`, as if it had not been held back: its default
/// action (it was not ignored, or it would not have been held).
fn die_of(signal: libc::c_int) -> ! {
    // SAFETY: restoring the default action and sending a signal to this
    // process have no preconditions; the default action of these signals
    // ends the process, here, as the signal is no longer held.
    unsafe {
        libc::signal(signal, libc::SIG_DFL);
        let mut only = empty_set();
        libc::sigaddset(&mut only, signal);
        // It may still be held (by `Compilers`): let it through.
        libc::pthread_sigmask(libc::SIG_UNBLOCK, &only, std::ptr::null_mut());
        libc::kill(libc::getpid(), signal);
    }
    std::process::exit(128 + signal)
}

/// [`STOPPING`] signals (those not ignored) and SIGCHLD, held back by this
/// thread until dropped.
struct HeldSignals {
    /// What [`HeldSignals::wait`] waits for.
    set: libc::sigset_t,
    /// The mask before, restored on drop.
    old: libc::sigset_t,
}

impl HeldSignals {
    fn hold() -> HeldSignals {
        let mut set = empty_set();
        for signal in STOPPING {
            // SAFETY: a null new action only reads the current one into `now`.
            let ignored = unsafe {
                let mut now: libc::sigaction = std::mem::zeroed();
                libc::sigaction(signal, std::ptr::null(), &mut now) == 0
                    && now.sa_sigaction == libc::SIG_IGN
            };
            if !ignored {
                // SAFETY: `set` is initialised (empty_set); `signal` is valid.
                unsafe { libc::sigaddset(&mut set, signal) };
            }
        }
        // SIGCHLD too, so that the compiler's end wakes `wait`.
        // SAFETY: as above.
        unsafe { libc::sigaddset(&mut set, libc::SIGCHLD) };
        let mut old = empty_set();
        // SAFETY: both sets are initialised; this changes only this thread's mask.
        unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut old) };
        HeldSignals { set, old }
    }

    /// Waits (at most 100 ms) for a held signal; returns it if it is one of
    /// [`STOPPING`], `None` for SIGCHLD or none.
    fn wait(&self) -> Option<libc::c_int> {
        let timeout = libc::timespec {
            tv_sec: 0,
            tv_nsec: 100_000_000,
        };
        // SAFETY: `set` is initialised and held; a null info pointer is allowed.
        let signal = unsafe { libc::sigtimedwait(&self.set, std::ptr::null_mut(), &timeout) };
        STOPPING.contains(&signal).then_some(signal)
    }
}

impl Drop for HeldSignals {
    fn drop(&mut self) {
        // SAFETY: `old` is the mask `hold` replaced.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &self.old, std::ptr::null_mut()) };
    }
}

/// An empty signal set.
fn empty_set() -> libc::sigset_t {
    let mut set = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: sigemptyset initialises the set it is given.
    unsafe {
        libc::sigemptyset(set.as_mut_ptr());
        set.assume_init()
    }
}
