//! `worker:COMMAND` and `pipe:COMMAND`: a pool of persistent processes
//! speaking the worker protocol (`legacy/PROTOCOL.md`): one JSON request per
//! line on stdin, one JSON response per line on stdout, matched by `id`, many
//! requests in flight. A `pipe:` pool is the same pool with another
//! [`Framing`]: its programs read the bare input and answer one line per
//! input line, in order, with no ids, so each line answers the oldest call in
//! flight on that process; a line that is not JSON is that call's
//! `cutover.bad_output` error (the process lives on), and
//! `{"error": {"type", "message"}}` is the call's error. Everything else
//! (processes, retries, deadlines, stderr, shutdown) is shared.
//!
//! A call's slot wait ([`super::Called::waited`]) is the time it waited
//! behind its worker's earlier calls: a worker serves one call at a time, in
//! order, so a call's service starts when the worker answered the call
//! before it, or when the call was queued if that is later (a retry counts
//! from its re-queueing). Its service time is the rest.
//!
//! # Design
//! Each worker is a small actor: a writer task owns its stdin (requests arrive
//! in batches over a bounded channel and are written once per burst, so
//! pipelined calls share syscalls), a reader task owns its stdout and completes the pending
//! call whose wire id the response names (a batch's caller is woken once,
//! when its last call is in), a stderr task keeps the last lines
//! for error messages, and a supervisor task owns the process and kills it on
//! request. Wire ids are cutover's own sequence numbers (each worker's count
//! from 0), never record ids, so
//! duplicate or odd record ids cannot confuse the matching. Processes are
//! started, and their stderr kept, by [`super::process`]: each worker is a
//! process group that dies with cutover; its stderr is read as bytes, in
//! lines of bounded length.
//!
//! # Files
//! - [`pool`]: the pool: which worker a call goes to, deadlines, and the
//!   retry policy ([`pool::RetryPolicy`], a pure function of a call's
//!   history);
//! - [`pending`]: one worker's calls in flight and how each one ends
//!   ([`pending::Fate`]);
//! - [`process`]: one worker's process and its four tasks (writer, reader,
//!   stderr, supervisor);
//! - [`protocol`]: the wire format (request lines, response parsing).
//!
//! # Failure semantics
//! - A call, or a batch of them, is sent to the worker with the fewest calls
//!   in flight.
//! - A worker that exits, closes stdout, or breaks the protocol (a line that is
//!   not a response, an id it was never sent, a line over the size limit) is
//!   killed; when the process itself exits, its whole process group is killed
//!   at once, so a child it left holding stdout cannot hide the death (the
//!   answers already written are still read, for at most
//!   [`super::process::AFTER_EXIT`]). Every call in flight on it is
//!   **retried** on a fresh worker, up to
//!   `retries` times (each counted in `retries`), then answered with an
//!   `cutover.worker_died` error carrying the exit status and stderr tail.
//! - A call with no answer within `timeout` is answered `timeout`
//!   (a call sent to a worker that has not answered anything yet may wait
//!   until `startup_timeout` after the worker started, if that is later: the
//!   worker's start-up is not the call's fault); its
//!   worker is killed (it may be stuck) and replaced; the other calls in flight
//!   on it are retried as above. Only the *oldest* call waiting on a worker is
//!   blamed: calls queued behind it are victims of the stall, and are retried.
//! - When a worker dies, the oldest call in flight on it is the *suspect* (a
//!   worker answering in order was busy with it); only the suspect spends the
//!   `retries` budget. The others are bystanders, retried up to
//!   [`pool::BYSTANDER_RETRIES`] times, so innocent calls that shared a worker with a
//!   poison record get their answer and a poison record still ends in an error.
//! - Dead workers are replaced lazily, on the next call (`restarts`).
//! - At shutdown every worker's stdin is closed at once and all get one
//!   shared [`pool::EXIT_GRACE`] to exit; those still running then are killed with
//!   their process groups.
//! - When workers die [`process::SILENT_DEATH_LIMIT`] times in a row without ever having
//!   answered, the command cannot work (wrong script, missing module): the pool
//!   returns [`SideError::CannotStart`](super::SideError::CannotStart) and
//!   the run stops with exit status 2.

mod pending;
mod pool;
mod process;
mod protocol;

pub use pool::WorkerPool;
pub use protocol::Framing;
