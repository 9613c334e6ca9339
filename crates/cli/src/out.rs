//! Everything the CLI prints goes through here instead of `println!`, which panics when the
//! reader has gone away (`sessionkeys … | head`: Rust ignores SIGPIPE, so a write gets EPIPE).
//! A closed pipe ends that stream's output quietly and the command finishes with its own exit
//! code, so under `set -o pipefail` a refusal still exits 1. Any other write error (a full
//! disk) is kept and reported once at the end, with exit code 2.

use std::fmt::Arguments;
use std::io::{ErrorKind, Write};
use std::sync::Mutex;

/// One output stream's state.
enum State {
    /// Writes go through.
    Open,
    /// The reader closed the pipe: later output is dropped.
    Closed,
    /// A write failed for another reason: later output is dropped and the error reported.
    Failed(String),
}

static STDOUT: Mutex<State> = Mutex::new(State::Open);
static STDERR: Mutex<State> = Mutex::new(State::Open);

fn write(state: &Mutex<State>, target: &mut dyn Write, args: Arguments<'_>, newline: bool) {
    // A poisoned lock only means another thread panicked mid-print; the state is still usable.
    let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
    if !matches!(*state, State::Open) {
        return;
    }
    let written = target
        .write_fmt(args)
        .and_then(|()| {
            if newline {
                target.write_all(b"\n")
            } else {
                Ok(())
            }
        })
        .and_then(|()| target.flush());
    match written {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::BrokenPipe => *state = State::Closed,
        Err(e) => *state = State::Failed(e.to_string()),
    }
}

/// Prints to stdout (`out!`, `outln!`).
pub fn print(args: Arguments<'_>, newline: bool) {
    write(&STDOUT, &mut std::io::stdout().lock(), args, newline);
}

/// Prints to stderr (`errln!`).
pub fn eprint(args: Arguments<'_>, newline: bool) {
    write(&STDERR, &mut std::io::stderr().lock(), args, newline);
}

/// Why stdout could not be written, other than its reader closing it.
pub fn stdout_failure() -> Option<String> {
    match &*STDOUT.lock().unwrap_or_else(|e| e.into_inner()) {
        State::Failed(reason) => Some(reason.clone()),
        State::Open | State::Closed => None,
    }
}

/// `print!` that a closed pipe does not panic.
macro_rules! out {
    ($($arg:tt)*) => { $crate::out::print(format_args!($($arg)*), false) };
}

/// `println!` that a closed pipe does not panic.
macro_rules! outln {
    () => { $crate::out::print(format_args!(""), true) };
    ($($arg:tt)*) => { $crate::out::print(format_args!($($arg)*), true) };
}

/// `eprintln!` that a closed pipe does not panic.
macro_rules! errln {
    ($($arg:tt)*) => { $crate::out::eprint(format_args!($($arg)*), true) };
}
