//! An in-process side with scripted answers and latencies, for tests of the
//! engine and of everything above it, in the manner of hyperfine's
//! `MockExecutor`.
//!
//! # Contract
//! A [`MockSide`] answers each call with what its script says for the
//! call's input ([`Reply`]: an answer, after a latency, or a [`SideError`]
//! as a side that stopped working gives), and counts what a test wants to
//! know: calls made, the most calls in flight at once. Only in test builds
//! (or with the `mock` feature).

use super::{Implementation, Request, SideError};
use crate::model::{Answer, AppError};
use futures::future::BoxFuture;
use serde_json::Value;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

/// What a [`MockSide`] does with one call.
#[derive(Debug, Clone)]
pub struct Reply {
    pub answer: Result<Answer, SideError>,
    pub latency: Duration,
}

impl Reply {
    /// The output `value`, at once.
    pub fn output(value: Value) -> Reply {
        Reply {
            answer: Ok(Answer::output(value)),
            latency: Duration::ZERO,
        }
    }

    /// An error the implementation reports, at once.
    pub fn error(kind: &str, message: &str) -> Reply {
        Reply {
            answer: Ok(Answer::Error(AppError::new(kind, message))),
            latency: Duration::ZERO,
        }
    }

    /// The side stops working ([`SideError::CannotStart`]).
    pub fn broken(reason: &str) -> Reply {
        Reply {
            answer: Err(SideError::CannotStart {
                flag: "--legacy",
                what: "mock",
                command: "mock".into(),
                reason: reason.into(),
            }),
            latency: Duration::ZERO,
        }
    }

    /// The same, after `latency`.
    pub fn after(mut self, latency: Duration) -> Reply {
        self.latency = latency;
        self
    }
}

type Script = Box<dyn Fn(&Value) -> Reply + Send + Sync>;

/// A scripted side; see the module docs.
pub struct MockSide {
    script: Script,
    calls: AtomicU64,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

impl MockSide {
    /// Answers each call with `script(input)`.
    pub fn new(script: impl Fn(&Value) -> Reply + Send + Sync + 'static) -> MockSide {
        MockSide {
            script: Box::new(script),
            calls: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
        }
    }

    /// Answers every input with itself.
    pub fn echo() -> MockSide {
        MockSide::new(|input| Reply::output(input.clone()))
    }

    /// Calls made so far.
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::SeqCst)
    }

    /// The most calls that were in flight at once.
    pub fn max_in_flight(&self) -> usize {
        self.max_in_flight.load(Ordering::SeqCst)
    }
}

impl Implementation for MockSide {
    fn call<'a>(&'a self, request: Request<'a>) -> BoxFuture<'a, Result<Answer, SideError>> {
        Box::pin(async move {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.max_in_flight.fetch_max(now, Ordering::SeqCst);
            let input: Value = serde_json::from_str(request.input.get()).unwrap_or(Value::Null);
            let reply = (self.script)(&input);
            if !reply.latency.is_zero() {
                tokio::time::sleep(reply.latency).await;
            }
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            reply.answer
        })
    }
}
