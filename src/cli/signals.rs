//! Signals: SIGINT and SIGTERM become a [`Stop`] request; a second one quits
//! at once.
//!
//! # Contract
//! [`Signals::install`] is the very first thing the binary does: it blocks
//! SIGINT and SIGTERM in every thread and starts one thread that waits for
//! them (`sigwait`), so a signal can never arrive unhandled, however early.
//! During a replay or a serve (once [`Signals::drain`] is called, when its
//! command line is parsed) the first signal asks the run to stop: reading stops, the
//! records in flight finish, the report is written, and the exit status is
//! 130 or 143. A signal that comes before a replay has parsed its command
//! line, a signal to any other command, and a second signal during a replay
//! all quit at once with that signal's status ([`Exit::of_signal`]). Every
//! exit path kills the process groups of the sides' child processes (they
//! also have a parent-death signal for when cutover itself is killed).

use crate::model::{Exit, Signal, Stop};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

/// The signal thread's state (see the module docs).
pub struct Signals {
    /// The replay's stop request.
    stop: Stop,
    /// Whether the first signal drains (a replay) or quits.
    drain: AtomicBool,
}

impl Signals {
    /// Takes SIGINT and SIGTERM from now on (see the module docs).
    pub fn install() -> &'static Signals {
        use nix::sys::signal::{SigSet, Signal as Sig};
        static SIGNALS: OnceLock<Signals> = OnceLock::new();
        let signals = SIGNALS.get_or_init(|| Signals {
            stop: Stop::new(),
            drain: AtomicBool::new(false),
        });
        let mut set = SigSet::empty();
        set.add(Sig::SIGINT);
        set.add(Sig::SIGTERM);
        // Blocked here, before any other thread exists, so every thread
        // inherits the mask and only the waiting thread takes the signals.
        // Child processes start with an empty mask (the standard library
        // resets it before exec).
        if set.thread_block().is_err() {
            eprintln!("cutover: warning: cannot block SIGINT and SIGTERM; a signal will end the run at once");
            return signals;
        }
        let waiter = std::thread::Builder::new()
            .name("cutover-signals".into())
            .spawn(move || loop {
                match set.wait() {
                    Ok(Sig::SIGTERM) => signals.on_signal(Signal::Sigterm),
                    Ok(_) => signals.on_signal(Signal::Sigint),
                    Err(_) => continue,
                }
            });
        if waiter.is_err() {
            // Without the waiter the signals would stay blocked for ever.
            let _ = set.thread_unblock();
        }
        signals
    }

    /// From now on the first signal asks the work to stop instead of
    /// quitting.
    pub fn drain(&self) {
        self.drain.store(true, Ordering::SeqCst);
    }

    /// The stop request the work watches.
    pub fn stop(&self) -> &Stop {
        &self.stop
    }

    fn on_signal(&self, signal: Signal) {
        if self.drain.load(Ordering::SeqCst) && self.stop.request(signal) {
            match signal {
                Signal::Sigint => eprintln!("cutover: interrupted; finishing the records in flight, then writing the report (Ctrl-C again to quit at once)"),
                Signal::Sigterm => eprintln!("cutover: SIGTERM received; finishing the records in flight, then writing the report (a second signal quits at once)"),
            }
            return;
        }
        crate::sides::kill_all_processes();
        std::process::exit(Exit::of_signal(signal).code().into());
    }
}
