//! How `objdl run` hands the process to the program it loaded.
//!
//! objdl starts from C's `main`, not Rust's: the Rust runtime's start-up
//! reads /proc/self/maps to guard the main thread's stack (about a tenth of
//! a millisecond, a fifth of what loading SQLite takes) and ignores SIGPIPE,
//! which the programs objdl runs do not expect. The arguments still reach
//! `std::env::args` (glibc passes them to initialisers).
//!
//! That `main` is written in assembly, below: it calls [`objdl_prepare`],
//! which does everything objdl does (parse the command line, load the
//! unit) and returns, then it calls the program's `main` itself and passes
//! its status to `exit`, as glibc's start-up code does. So no frame of
//! objdl's Rust code lies between the program's `main` and glibc's: a
//! `pthread_exit` or a cancellation of the main thread unwinds straight to
//! glibc, which lets the other threads finish and exits with status 0, as
//! in the linked program, where a Rust frame with a landing pad (a
//! `catch_unwind`, a drop) would have aborted the process on the foreign
//! unwind.
//!
//! The frame of `main` has a personality routine that handles no exception
//! and lets none past in the search phase, so that an exception the
//! program does not catch finds no handler: the C++ runtime then calls
//! std::terminate ("terminate called after throwing an instance of ..."),
//! as in a linked program, where the search ends at `_start`. Forced
//! unwinds (`pthread_exit`, cancellation) go on through it. Its CFI is
//! ordinary, so debuggers still unwind through it.

use std::ffi::{c_char, c_int, CStr, CString};
use std::sync::atomic::{AtomicPtr, Ordering};

/// `int main(int argc, char **argv, char **envp)`.
pub(crate) type MainFn =
    unsafe extern "C" fn(c_int, *const *const c_char, *const *const c_char) -> c_int;

/// The program to call, filled in by [`objdl_prepare`].
#[repr(C)]
pub(crate) struct Launch {
    entry: Option<MainFn>,
    argc: c_int,
    argv: *const *const c_char,
    envp: *const *const c_char,
}

/// What the program needs to stay alive while it runs: its units and the
/// linker (their finalisers run at `exit`), its argument strings. Held
/// from a static, so that a leak checker sees it reachable.
struct Kept {
    _state: Box<dyn std::any::Any>,
    _args: Vec<CString>,
    _argv: Vec<*const c_char>,
}

static KEPT: AtomicPtr<Kept> = AtomicPtr::new(std::ptr::null_mut());

/// A program ready to run: its entry point, its arguments (the first is
/// its name) and whatever must stay alive while it runs.
pub(crate) struct Program {
    pub entry: MainFn,
    pub args: Vec<CString>,
    pub keep: Box<dyn std::any::Any>,
}

/// The status `main` returns when objdl itself panicked: its own failure,
/// like any other (not Rust's 101, which a program may return).
const PANICKED: c_int = crate::exit::FAILURE as c_int;

/// Run by the assembly `main`: everything objdl does before the program's
/// `main`. Returns -1 with `*out` filled in when there is a program to
/// call, else the exit status.
#[no_mangle]
extern "C" fn objdl_prepare(_argc: c_int, _argv: *const *const c_char, out: *mut Launch) -> c_int {
    // Under a sanitizer with LeakSanitizer, what objdl allocates to run
    // the program (kept until exit) is not the program's leak.
    let leak_check = LeakCheckPause::new();
    // A panic ends objdl as it would a Rust program, not by unwinding into C.
    let outcome = std::panic::catch_unwind(crate::objdl_main);
    drop(leak_check);
    match outcome {
        Err(_) => PANICKED,
        Ok(crate::Outcome::Exit(code)) => c_int::from(code),
        Ok(crate::Outcome::Run(program)) => {
            let Program { entry, args, keep } = program;
            let mut argv: Vec<*const c_char> = args.iter().map(|a| a.as_ptr()).collect();
            argv.push(std::ptr::null());
            let launch = Launch {
                entry: Some(entry),
                argc: args.len() as c_int,
                argv: argv.as_ptr(),
                // SAFETY: a plain read of libc's global.
                envp: unsafe { environ },
            };
            let kept = Box::new(Kept {
                _state: keep,
                _args: args,
                _argv: argv,
            });
            KEPT.store(Box::into_raw(kept), Ordering::Release);
            // SAFETY: `out` is the assembly `main`'s stack slot for it.
            unsafe { out.write(launch) };
            -1
        }
    }
}

extern "C" {
    static environ: *const *const c_char;
}

// The process's `main` (see the module's documentation). `Launch` is at
// -32(%rbp): entry, argc, argv, envp.
std::arch::global_asm!(
    ".text",
    ".p2align 4",
    ".globl main",
    ".type main, @function",
    "main:",
    "    .cfi_startproc",
    "    .cfi_personality 0x1b, {personality}", // DW_EH_PE_pcrel | DW_EH_PE_sdata4
    "    pushq %rbp",
    "    .cfi_def_cfa_offset 16",
    "    .cfi_offset %rbp, -16",
    "    movq %rsp, %rbp",
    "    .cfi_def_cfa_register %rbp",
    "    subq $32, %rsp",
    "    leaq -32(%rbp), %rdx",
    "    callq {prepare}",
    "    cmpl $-1, %eax",
    "    jne 1f",
    "    movq -32(%rbp), %rax",
    "    movl -24(%rbp), %edi",
    "    movq -16(%rbp), %rsi",
    "    movq -8(%rbp), %rdx",
    "    callq *%rax",
    // Return from main as a linked program does: exit(status) runs the
    // atexit handlers (the unit's among them, while it is still mapped),
    // then the unit's finalisers, then flushes stdio.
    "    movl %eax, %edi",
    "    callq {exit}",
    "1:",
    "    leave",
    "    .cfi_def_cfa %rsp, 8",
    "    retq",
    "    .cfi_endproc",
    "    .size main, . - main",
    personality = sym main_personality,
    prepare = sym objdl_prepare,
    exit = sym libc::exit,
    options(att_syntax)
);

/// The personality routine of `main` (the Itanium C++ ABI's
/// `__personality_routine`): in the search phase, `_URC_FATAL_PHASE1_ERROR`,
/// which makes `_Unwind_RaiseException` return, as at the end of the stack;
/// in any other phase (a forced unwind), `_URC_CONTINUE_UNWIND`.
extern "C" fn main_personality(
    _version: c_int,
    actions: c_int,
    _exception_class: u64,
    _exception: *mut libc::c_void,
    _context: *mut libc::c_void,
) -> c_int {
    const UA_SEARCH_PHASE: c_int = 1;
    const URC_FATAL_PHASE1_ERROR: c_int = 3;
    const URC_CONTINUE_UNWIND: c_int = 8;
    if actions & UA_SEARCH_PHASE != 0 {
        URC_FATAL_PHASE1_ERROR
    } else {
        URC_CONTINUE_UNWIND
    }
}

/// Makes libc's idea of the program's name (`program_invocation_name`,
/// `program_invocation_short_name`, whose alias is `__progname`) the
/// program's `argv[0]`, so that `err`, `warn` and `error` name the program,
/// not objdl. Done before any unit is linked (`-fno-pic` code may read a
/// copy of these made at link time). `name` lives as long as the process.
pub(crate) fn set_program_name(name: &'static CStr) {
    extern "C" {
        static mut program_invocation_name: *const c_char;
        static mut program_invocation_short_name: *const c_char;
    }
    let full = name.as_ptr();
    let bytes = name.to_bytes();
    let short_at = bytes.iter().rposition(|&b| b == b'/').map_or(0, |i| i + 1);
    // SAFETY: `short_at` is within `name` (at most its length, the NUL);
    // glibc's `char *` variables are written before any other thread or
    // unit reads them.
    unsafe {
        program_invocation_name = full;
        program_invocation_short_name = full.add(short_at);
    }
}
/// LeakSanitizer paused (`__lsan_disable`) while it lives, when the process
/// has one: allocations made meanwhile are never reported as leaks.
struct LeakCheckPause {
    enable: Option<unsafe extern "C" fn()>,
}

impl LeakCheckPause {
    fn new() -> LeakCheckPause {
        let find = |name: &CStr| {
            // SAFETY: a NUL-terminated name; RTLD_DEFAULT searches the global scope.
            let p = unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) };
            // SAFETY: LeakSanitizer's `void f(void)`.
            (!p.is_null()).then(|| unsafe {
                std::mem::transmute::<*mut libc::c_void, unsafe extern "C" fn()>(p)
            })
        };
        let (Some(disable), Some(enable)) = (find(c"__lsan_disable"), find(c"__lsan_enable"))
        else {
            return LeakCheckPause { enable: None };
        };
        // SAFETY: pairs with the `__lsan_enable` on drop, on this thread.
        unsafe { disable() };
        LeakCheckPause {
            enable: Some(enable),
        }
    }
}

impl Drop for LeakCheckPause {
    fn drop(&mut self) {
        if let Some(enable) = self.enable {
            // SAFETY: undoes `__lsan_disable` on the same thread.
            unsafe { enable() };
        }
    }
}
