//! The library API: a [`Router`] a Rust service embeds to cut over, in the
//! manner of GitHub's Scientist and the Rust crate scientisto.
//!
//! Give it the request's key, the request and the two implementations; it
//! asks the flags who serves, calls the serving side and returns its answer
//! at once. When the shadow flag is on for the key, the other side is
//! called afterwards, **detached**: in a task of its own, under a bounded
//! pool, and its comparison goes to a bounded sink.
//!
//! ```
//! use cutover::flags::state::{parse_features, Origin, Snapshot};
//! use cutover::flags::{Evaluator, FlagNames, Router, Stickiness};
//! use cutover::model::Answer;
//! use serde_json::json;
//! use std::sync::Arc;
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let names = FlagNames::derived("normalize");
//! let eval = Arc::new(Evaluator::offline(names, Stickiness::UserId).unwrap());
//! // Usually a file_source::watch or a ServerSource keeps this current.
//! eval.load(Snapshot {
//!     features: parse_features(&std::fs::read("flags.json").unwrap()).unwrap(),
//!     origin: Origin::File { path: "flags.json".into() },
//!     fetched_at: chrono::Utc::now(),
//! })
//! .unwrap();
//! let (router, mut comparisons) = Router::builder(eval).mirrors(64).with_sink(1024);
//! let answer = router
//!     .run(
//!         Some("user-7"),
//!         json!({"items": [" a "]}),
//!         |_| async { Answer::output(json!({"accepted": ["a"], "rejected": []})) },
//!         |_| async { Answer::output(json!({"accepted": ["a"], "rejected": []})) },
//!     )
//!     .await;
//! assert!(matches!(answer, Answer::Output(_)));
//! // The bundled flags.json shadows every key: the mirror ran, detached,
//! // and its comparison was recorded.
//! let comparison = comparisons.recv().await.unwrap();
//! assert!(comparison.verdict.is_clean());
//! # });
//! ```
//!
//! # Contract
//! - The decision is [`Evaluator::decide`]'s: no state or no key ⇒ the legacy
//!   serves and nothing is mirrored. A local override
//!   ([`Router::force_legacy`], the automatic rollback's) makes the legacy
//!   serve every key; the candidate is then mirrored, so evidence keeps
//!   coming.
//! - [`Router::run`] returns the serving side's answer as soon as that side
//!   answers, whatever the other side does: the mirrored side runs in a
//!   spawned task that holds a permit of a bounded pool (`mirrors`). The
//!   permit is taken with `try_acquire`: when the pool is full the mirror is
//!   **shed** and counted, never awaited. Its own timeout
//!   ([`RouterBuilder::mirror_timeout`]) bounds it; no retries. The task
//!   runs on the caller's runtime, or on the one given to
//!   [`RouterBuilder::mirror_runtime`] (with the probe and the comparison),
//!   so mirrors can be kept off the serving path's threads.
//! - A panic of the mirrored side is caught (`catch_unwind`), counted in
//!   [`RouterStats::panicked`] and never reaches the caller. The serving
//!   side is the caller's own code: its panics are the caller's.
//! - The comparison is [`crate::compare::judge_under`]'s, with the same
//!   [`RuleSet`] and [`KnownSet`] a replay uses. With a noise probe
//!   ([`Router::run_probed`]) the legacy is called once more beside the
//!   mirror, in the same task and under the same timeout, and the paths
//!   where its two answers differ are noise ([`Comparison::noise`]), as
//!   replay's `--noise-probe` learns them; a probe that fails teaches
//!   nothing.
//! - Generic over the request and the response: the request is cloned
//!   when the request is mirrored, and serialised, and the serving side's
//!   response observed ([`Observe`]), only when the mirror starts (not when
//!   it is shed). The observation is finished in the mirror's task
//!   ([`Observe::observe_later`]), off the response path.
//! - Comparisons go to the sink with `try_send`: a full sink never slows
//!   anything; the comparison is dropped and counted in
//!   [`RouterStats::dropped`]. Counters are atomics; the router holds no
//!   per-request state. A [`Router`] is cheap to clone (one `Arc`).

use super::{Basis, Decision, Evaluator};
use crate::compare::{judge_under, KnownSet, RuleSet};
use crate::model::{Answer, AppError, Observed, RuleEffects, Side, Verdict};
use futures::FutureExt;
use serde::Serialize;
use serde_json::value::RawValue;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, Semaphore};

/// The default size of the mirror pool ([`RouterBuilder::mirrors`]).
pub const DEFAULT_MIRRORS: usize = 64;
/// The default bound on one mirrored call ([`RouterBuilder::mirror_timeout`]).
pub const DEFAULT_MIRROR_TIMEOUT: Duration = Duration::from_secs(10);

/// One mirrored request, compared.
#[derive(Debug)]
pub struct Comparison {
    pub key: Option<String>,
    pub decision: Decision,
    /// The request, serialised.
    pub input: Box<RawValue>,
    pub legacy: Observed,
    pub candidate: Observed,
    pub verdict: Verdict,
    pub rule_effects: RuleEffects,
    pub known_used: Vec<bool>,
    /// With a noise probe ([`Router::run_probed`]): the paths where the
    /// legacy's two answers differed, taken out of the verdict as replay's
    /// `--noise-probe` does (`None`: not probed, or the probe failed).
    pub noise: Option<Vec<String>>,
}

/// What a response says, as the comparison sees it.
pub trait Observe {
    fn observe(&self) -> Answer;

    /// What [`Observe::observe`] says, taken on the response path (only
    /// when the mirror was started) but worked out in the mirror's task.
    /// The default observes at once; a response whose observation costs
    /// (parsing, normalising) overrides it with a cheap copy of what the
    /// observation needs ([`Later::with`]), so the client does not wait.
    fn observe_later(&self) -> Later {
        Later::now(self.observe())
    }
}

/// An observation finished in the mirror's task ([`Observe::observe_later`]).
pub struct Later(LaterInner);

enum LaterInner {
    Now(Answer),
    With(Box<dyn FnOnce() -> Answer + Send>),
}

impl Later {
    /// Already observed.
    pub fn now(answer: Answer) -> Self {
        Later(LaterInner::Now(answer))
    }

    /// Observed by `f`, in the mirror's task.
    pub fn with(f: impl FnOnce() -> Answer + Send + 'static) -> Self {
        Later(LaterInner::With(Box::new(f)))
    }

    fn answer(self) -> Answer {
        match self.0 {
            LaterInner::Now(answer) => answer,
            LaterInner::With(f) => f(),
        }
    }
}

impl Observe for Answer {
    fn observe(&self) -> Answer {
        self.clone()
    }
}

/// `Ok` is the output (serialised), `Err` an error of type `error`.
impl<T: Serialize, E: std::fmt::Display> Observe for Result<T, E> {
    fn observe(&self) -> Answer {
        match self {
            Ok(value) => match serde_json::to_value(value) {
                Ok(value) => Answer::output(value),
                Err(e) => Answer::Error(AppError::new("cutover.unserialisable", e.to_string())),
            },
            Err(e) => Answer::Error(AppError::new("error", e.to_string())),
        }
    }
}

/// What a router has done so far.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct RouterStats {
    pub requests: u64,
    pub served_by_candidate: u64,
    /// Requests whose decision asked for a mirror.
    pub mirrored: u64,
    /// Mirrors compared (whatever the verdict).
    pub compared: u64,
    /// Mirrored requests whose two answers differed.
    pub differed: u64,
    /// Requests without a key (legacy served, not mirrored).
    pub without_key: u64,
    /// Requests before any flag state was loaded (legacy served).
    pub without_state: u64,
    /// Mirrors not started because the pool was full.
    pub shed: u64,
    /// Mirrored calls that panicked (counted, not compared).
    pub panicked: u64,
    /// Mirrored calls that timed out (compared as a timeout).
    pub mirror_timeouts: u64,
    /// Comparisons dropped because the sink was full or gone.
    pub dropped: u64,
    /// Requests the legacy served because of the local override.
    pub overridden: u64,
}

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    served_by_candidate: AtomicU64,
    mirrored: AtomicU64,
    compared: AtomicU64,
    differed: AtomicU64,
    without_key: AtomicU64,
    without_state: AtomicU64,
    shed: AtomicU64,
    panicked: AtomicU64,
    mirror_timeouts: AtomicU64,
    dropped: AtomicU64,
    overridden: AtomicU64,
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

struct Inner {
    eval: Arc<Evaluator>,
    rules: RuleSet,
    known: KnownSet,
    pool: Arc<Semaphore>,
    size: usize,
    mirror_timeout: Duration,
    sink: Option<mpsc::Sender<Comparison>>,
    counters: Counters,
    force_legacy: AtomicBool,
    /// Where the mirrors run (`None`: the caller's runtime).
    runtime: Option<tokio::runtime::Handle>,
}

/// Sets a [`Router`] up ([`Router::builder`]).
pub struct RouterBuilder {
    eval: Arc<Evaluator>,
    rules: RuleSet,
    known: KnownSet,
    mirrors: usize,
    mirror_timeout: Duration,
    runtime: Option<tokio::runtime::Handle>,
}

impl RouterBuilder {
    /// The comparison rules (default none).
    pub fn rules(mut self, rules: RuleSet) -> Self {
        self.rules = rules;
        self
    }

    /// The declared known differences (default none).
    pub fn known(mut self, known: KnownSet) -> Self {
        self.known = known;
        self
    }

    /// Mirrored calls in flight at most (at least 1; default
    /// [`DEFAULT_MIRRORS`]); beyond that mirrors are shed.
    pub fn mirrors(mut self, mirrors: usize) -> Self {
        self.mirrors = mirrors.max(1);
        self
    }

    /// The bound on one mirrored call (default [`DEFAULT_MIRROR_TIMEOUT`]).
    pub fn mirror_timeout(mut self, timeout: Duration) -> Self {
        self.mirror_timeout = timeout;
        self
    }

    /// The runtime the mirrored calls and their comparisons run on (default:
    /// the runtime of the caller of [`Router::run`]). Given one of its own,
    /// with threads at a lower CPU priority, the mirrors take only what the
    /// serving path leaves of the cores (`cutover serve --mirror-nice` does
    /// this).
    pub fn mirror_runtime(mut self, runtime: tokio::runtime::Handle) -> Self {
        self.runtime = Some(runtime);
        self
    }

    /// A router that compares mirrored requests and keeps no comparisons.
    pub fn build(self) -> Router {
        self.finish(None)
    }

    /// A router handing comparisons to a channel of `capacity` (at least 1).
    pub fn with_sink(self, capacity: usize) -> (Router, mpsc::Receiver<Comparison>) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        (self.finish(Some(tx)), rx)
    }

    fn finish(self, sink: Option<mpsc::Sender<Comparison>>) -> Router {
        Router {
            inner: Arc::new(Inner {
                eval: self.eval,
                rules: self.rules,
                known: self.known,
                pool: Arc::new(Semaphore::new(self.mirrors)),
                size: self.mirrors,
                mirror_timeout: self.mirror_timeout,
                sink,
                counters: Counters::default(),
                force_legacy: AtomicBool::new(false),
                runtime: self.runtime,
            }),
        }
    }
}

/// Routes requests between the legacy and the candidate by the flags.
#[derive(Clone)]
pub struct Router {
    inner: Arc<Inner>,
}

impl Router {
    /// A router set up step by step (rules, known differences, pool, sink).
    pub fn builder(eval: Arc<Evaluator>) -> RouterBuilder {
        RouterBuilder {
            eval,
            rules: RuleSet::default(),
            known: KnownSet::default(),
            mirrors: DEFAULT_MIRRORS,
            mirror_timeout: DEFAULT_MIRROR_TIMEOUT,
            runtime: None,
        }
    }

    /// A router with the defaults that keeps no comparisons.
    pub fn new(eval: Arc<Evaluator>) -> Self {
        Router::builder(eval).build()
    }

    /// A router with the defaults handing comparisons to a channel.
    pub fn with_sink(eval: Arc<Evaluator>, capacity: usize) -> (Self, mpsc::Receiver<Comparison>) {
        Router::builder(eval).with_sink(capacity)
    }

    pub fn evaluator(&self) -> &Arc<Evaluator> {
        &self.inner.eval
    }

    /// Makes the legacy serve every key from now on (`true`) or gives the
    /// decision back to the flags (`false`).
    pub fn force_legacy(&self, on: bool) {
        self.inner.force_legacy.store(on, Ordering::SeqCst);
    }

    pub fn is_forced_legacy(&self) -> bool {
        self.inner.force_legacy.load(Ordering::SeqCst)
    }

    /// The decision for a key, counted.
    pub fn decide(&self, key: Option<&str>) -> Decision {
        let mut decision = self.inner.eval.decide(key);
        let c = &self.inner.counters;
        bump(&c.requests);
        match decision.basis {
            Basis::WithoutKey => bump(&c.without_key),
            Basis::NoState => bump(&c.without_state),
            Basis::Flags => {}
        }
        if decision.serving == Side::Candidate && self.is_forced_legacy() {
            bump(&c.overridden);
            decision.serving = Side::Legacy;
            decision.mirrored = true;
        }
        if decision.serving == Side::Candidate {
            bump(&c.served_by_candidate);
        }
        if decision.mirrored {
            bump(&c.mirrored);
        }
        decision
    }

    /// Serves one request: calls the side the flags pick and returns its
    /// answer; when the shadow flag is on for the key, the other side is
    /// then called detached (see the module docs).
    pub async fn run<Req, Resp, L, LF, C, CF>(
        &self,
        key: Option<&str>,
        request: Req,
        legacy: L,
        candidate: C,
    ) -> Resp
    where
        Req: Serialize + Clone + Send + 'static,
        Resp: Observe + Send + 'static,
        L: FnOnce(Req) -> LF + Send + 'static,
        LF: Future<Output = Resp> + Send + 'static,
        C: FnOnce(Req) -> CF + Send + 'static,
        CF: Future<Output = Resp> + Send + 'static,
    {
        let decision = self.decide(key);
        self.run_decided(key, decision, request, legacy, candidate)
            .await
    }

    /// [`Router::run`] with a decision already taken ([`Router::decide`]).
    pub async fn run_decided<Req, Resp, L, LF, C, CF>(
        &self,
        key: Option<&str>,
        decision: Decision,
        request: Req,
        legacy: L,
        candidate: C,
    ) -> Resp
    where
        Req: Serialize + Clone + Send + 'static,
        Resp: Observe + Send + 'static,
        L: FnOnce(Req) -> LF + Send + 'static,
        LF: Future<Output = Resp> + Send + 'static,
        C: FnOnce(Req) -> CF + Send + 'static,
        CF: Future<Output = Resp> + Send + 'static,
    {
        self.run_probed(
            key,
            decision,
            request,
            legacy,
            candidate,
            None::<fn(Req) -> std::future::Ready<Resp>>,
        )
        .await
    }

    /// [`Router::run_decided`] with a noise probe: when the request is
    /// mirrored, `probe` (the legacy called once more, as a shadow) runs
    /// beside the mirror, and the paths where the legacy's two answers
    /// differ are noise for the comparison, as replay's `--noise-probe`
    /// treats them. A probe that times out or panics teaches nothing.
    pub async fn run_probed<Req, Resp, L, LF, C, CF, P, PF>(
        &self,
        key: Option<&str>,
        decision: Decision,
        request: Req,
        legacy: L,
        candidate: C,
        probe: Option<P>,
    ) -> Resp
    where
        Req: Serialize + Clone + Send + 'static,
        Resp: Observe + Send + 'static,
        L: FnOnce(Req) -> LF + Send + 'static,
        LF: Future<Output = Resp> + Send + 'static,
        C: FnOnce(Req) -> CF + Send + 'static,
        CF: Future<Output = Resp> + Send + 'static,
        P: FnOnce(Req) -> PF + Send + 'static,
        PF: Future<Output = Resp> + Send + 'static,
    {
        if !decision.mirrored {
            return match decision.serving {
                Side::Legacy => legacy(request).await,
                Side::Candidate => candidate(request).await,
            };
        }
        match decision.serving {
            Side::Legacy => {
                self.serve_then_mirror(key, decision, request, legacy, candidate, probe)
                    .await
            }
            Side::Candidate => {
                self.serve_then_mirror(key, decision, request, candidate, legacy, probe)
                    .await
            }
        }
    }

    /// Calls `serving`, starts the mirror of `other` (and the probe),
    /// returns the answer.
    async fn serve_then_mirror<Req, Resp, S, SF, M, MF, P, PF>(
        &self,
        key: Option<&str>,
        decision: Decision,
        request: Req,
        serving: S,
        other: M,
        probe: Option<P>,
    ) -> Resp
    where
        Req: Serialize + Clone + Send + 'static,
        Resp: Observe + Send + 'static,
        S: FnOnce(Req) -> SF,
        SF: Future<Output = Resp>,
        M: FnOnce(Req) -> MF + Send + 'static,
        MF: Future<Output = Resp> + Send + 'static,
        P: FnOnce(Req) -> PF + Send + 'static,
        PF: Future<Output = Resp> + Send + 'static,
    {
        let copy = request.clone();
        let started = Instant::now();
        let served = serving(request).await;
        let latency = started.elapsed();
        self.mirror(key, decision, copy, (&served, latency), other, probe);
        served
    }

    /// Starts the mirrored call in a task of its own, or sheds it; the
    /// served response is observed only when the mirror starts, and
    /// finished in its task ([`Observe::observe_later`]).
    fn mirror<Req, Resp, M, MF, P, PF>(
        &self,
        key: Option<&str>,
        decision: Decision,
        request: Req,
        (served, latency): (&Resp, Duration),
        other: M,
        probe: Option<P>,
    ) where
        Req: Serialize + Clone + Send + 'static,
        Resp: Observe + Send + 'static,
        M: FnOnce(Req) -> MF + Send + 'static,
        MF: Future<Output = Resp> + Send + 'static,
        P: FnOnce(Req) -> PF + Send + 'static,
        PF: Future<Output = Resp> + Send + 'static,
    {
        let c = &self.inner.counters;
        let Ok(permit) = self.inner.pool.clone().try_acquire_owned() else {
            bump(&c.shed);
            return;
        };
        let served = served.observe_later();
        let inner = self.inner.clone();
        let key = key.map(str::to_owned);
        let runtime = inner.runtime.clone();
        let task = async move {
            // Held until the comparison is handed on.
            let _permit = permit;
            let c = &inner.counters;
            let served = Observed {
                answer: served.answer(),
                latency,
                waited: std::time::Duration::ZERO,
            };
            let input = request_text(&request);
            let started = Instant::now();
            let probed = probe.map(|probe| {
                let again = request.clone();
                let call =
                    AssertUnwindSafe(async move { probe(again).await.observe() }).catch_unwind();
                tokio::spawn(tokio::time::timeout(inner.mirror_timeout, call))
            });
            let call =
                AssertUnwindSafe(async move { other(request).await.observe() }).catch_unwind();
            let mirrored = match tokio::time::timeout(inner.mirror_timeout, call).await {
                Ok(Ok(answer)) => answer,
                Ok(Err(_panic)) => {
                    bump(&c.panicked);
                    tracing::warn!("router: the mirrored side panicked; not compared");
                    return;
                }
                Err(_) => {
                    bump(&c.mirror_timeouts);
                    Answer::Timeout(inner.mirror_timeout)
                }
            };
            let mirrored = Observed {
                answer: mirrored,
                latency: started.elapsed(),
                waited: std::time::Duration::ZERO,
            };
            let (legacy, candidate) = match decision.serving {
                Side::Legacy => (served, mirrored),
                Side::Candidate => (mirrored, served),
            };
            let noise = match probed {
                Some(task) => match task.await {
                    Ok(Ok(Ok(second))) => {
                        Some(crate::compare::noise::noisy_paths(&legacy.answer, &second))
                    }
                    _ => None,
                },
                None => None,
            };
            inner.compare(key, decision, input, legacy, candidate, noise);
        };
        // Detached: the task's handle is not kept.
        match runtime {
            Some(runtime) => drop(runtime.spawn(task)),
            None => drop(tokio::spawn(task)),
        }
    }

    /// Mirrored calls running now.
    pub fn in_flight(&self) -> usize {
        self.inner.size - self.inner.pool.available_permits()
    }

    /// Comparisons waiting in the sink (not yet taken by its reader).
    pub fn queue_depth(&self) -> usize {
        self.inner
            .sink
            .as_ref()
            .map_or(0, |s| s.max_capacity() - s.capacity())
    }

    /// Waits up to `limit` for the mirrors in flight to finish; returns how
    /// many were still running (abandoned) then.
    pub async fn drain(&self, limit: Duration) -> usize {
        let all = u32::try_from(self.inner.size).unwrap_or(u32::MAX);
        match tokio::time::timeout(limit, self.inner.pool.acquire_many(all)).await {
            Ok(Ok(permits)) => {
                drop(permits);
                0
            }
            _ => self.in_flight(),
        }
    }

    pub fn stats(&self) -> RouterStats {
        let c = &self.inner.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        RouterStats {
            requests: get(&c.requests),
            served_by_candidate: get(&c.served_by_candidate),
            mirrored: get(&c.mirrored),
            compared: get(&c.compared),
            differed: get(&c.differed),
            without_key: get(&c.without_key),
            without_state: get(&c.without_state),
            shed: get(&c.shed),
            panicked: get(&c.panicked),
            mirror_timeouts: get(&c.mirror_timeouts),
            dropped: get(&c.dropped),
            overridden: get(&c.overridden),
        }
    }
}

/// A request as the comparison's input (`null` when it cannot be serialised).
fn request_text<Req: Serialize>(request: &Req) -> Box<RawValue> {
    serde_json::value::to_raw_value(request)
        .unwrap_or_else(|_| RawValue::from_string("null".into()).expect("null is JSON"))
}

impl Inner {
    fn compare(
        &self,
        key: Option<String>,
        decision: Decision,
        input: Box<RawValue>,
        legacy: Observed,
        candidate: Observed,
        noise: Option<Vec<String>>,
    ) {
        let judged = judge_under(
            &self.rules,
            &self.known,
            input.get(),
            &legacy.answer,
            &candidate.answer,
            noise.as_deref().unwrap_or_default(),
        );
        let c = &self.counters;
        bump(&c.compared);
        if !judged.verdict.is_clean() {
            bump(&c.differed);
        }
        if let Some(sink) = &self.sink {
            let comparison = Comparison {
                key,
                decision,
                input,
                legacy,
                candidate,
                verdict: judged.verdict,
                rule_effects: judged.rule_effects,
                known_used: judged.known_used,
                noise,
            };
            if sink.try_send(comparison).is_err() {
                bump(&c.dropped);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flags::state::{parse_features, Origin, Snapshot};
    use crate::flags::{FlagNames, Stickiness};
    use crate::model::{AppError, Outcome};
    use serde_json::json;

    fn eval(serve: u32, shadow: u32) -> Arc<Evaluator> {
        let names = FlagNames::derived("m");
        let flag = |name: &str, pct: u32| {
            format!(
                r#"{{"name":"{name}","enabled":true,"strategies":[{{"name":"flexibleRollout","parameters":{{"rollout":"{pct}","stickiness":"userId","groupId":"{name}"}}}}]}}"#
            )
        };
        let doc = format!(
            r#"{{"version":2,"features":[{},{}]}}"#,
            flag(&names.serve, serve),
            flag(&names.shadow, shadow)
        );
        let e = Evaluator::offline(names, Stickiness::UserId).unwrap();
        e.load(Snapshot {
            features: parse_features(doc.as_bytes()).unwrap(),
            origin: Origin::File { path: "t".into() },
            fetched_at: chrono::Utc::now(),
        })
        .unwrap();
        Arc::new(e)
    }

    async fn call(router: &Router, key: Option<&str>) -> Answer {
        router
            .run(
                key,
                json!({}),
                |_| async { Answer::output(json!("legacy")) },
                |_| async { Answer::Error(AppError::new("E", "candidate failed")) },
            )
            .await
    }

    #[tokio::test]
    async fn the_serving_side_answers_and_the_other_is_only_compared() {
        let (router, mut rx) = Router::with_sink(eval(0, 100), 8);
        assert_eq!(
            call(&router, Some("u1")).await,
            Answer::output(json!("legacy"))
        );
        let c = rx.recv().await.unwrap();
        assert_eq!(c.verdict.outcome, Outcome::CandidateError);

        let (router, mut rx) = Router::with_sink(eval(100, 0), 8);
        assert!(matches!(call(&router, Some("u1")).await, Answer::Error(_)));
        assert_eq!(router.drain(Duration::from_secs(5)).await, 0);
        assert!(rx.try_recv().is_err(), "no mirroring with shadow off");
    }

    #[tokio::test]
    async fn no_key_and_no_state_serve_legacy_without_mirroring() {
        let (router, mut rx) = Router::with_sink(eval(100, 100), 8);
        assert_eq!(call(&router, None).await, Answer::output(json!("legacy")));
        let empty =
            Arc::new(Evaluator::offline(FlagNames::derived("m"), Stickiness::UserId).unwrap());
        let (cold, mut cold_rx) = Router::with_sink(empty, 8);
        assert_eq!(
            call(&cold, Some("u1")).await,
            Answer::output(json!("legacy"))
        );
        router.drain(Duration::from_secs(5)).await;
        cold.drain(Duration::from_secs(5)).await;
        assert!(rx.try_recv().is_err() && cold_rx.try_recv().is_err());
        assert_eq!(
            (router.stats().without_key, cold.stats().without_state),
            (1, 1)
        );
    }

    #[tokio::test]
    async fn a_full_sink_drops_and_counts_instead_of_blocking() {
        let (router, _rx) = Router::with_sink(eval(0, 100), 1);
        for _ in 0..3 {
            call(&router, Some("u1")).await;
            router.drain(Duration::from_secs(5)).await;
        }
        let stats = router.stats();
        assert_eq!((stats.mirrored, stats.differed, stats.dropped), (3, 3, 2));
    }

    /// Before the fix a mirrored call waited for both sides: its latency was
    /// the slower side's.
    #[tokio::test]
    async fn the_call_returns_after_the_serving_side_while_the_mirror_sleeps() {
        let (router, mut rx) = Router::with_sink(eval(0, 100), 8);
        let started = Instant::now();
        let answer = router
            .run(
                Some("u1"),
                json!({}),
                |_| async { Answer::output(json!(1)) },
                |_| async {
                    tokio::time::sleep(Duration::from_millis(800)).await;
                    Answer::output(json!(1))
                },
            )
            .await;
        let took = started.elapsed();
        assert_eq!(answer, Answer::output(json!(1)));
        assert!(took < Duration::from_millis(300), "returned after {took:?}");
        assert_eq!(router.in_flight(), 1, "the mirror is still running");
        let c = rx.recv().await.unwrap();
        assert!(c.verdict.is_clean());
        assert!(c.candidate.latency >= Duration::from_millis(800));
    }

    /// serve gives the mirrors threads of their own, at a lower priority:
    /// the mirrored call and its comparison must run there, not on the
    /// caller's threads.
    #[tokio::test]
    async fn mirrors_run_on_the_runtime_they_are_given() {
        let mirrors = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("test-mirrors")
            .enable_all()
            .build()
            .unwrap();
        let (router, mut rx) = Router::builder(eval(0, 100))
            .mirror_runtime(mirrors.handle().clone())
            .with_sink(8);
        let (tx, ran_on) = std::sync::mpsc::channel();
        let answer = router
            .run(
                Some("u1"),
                json!({}),
                |_| async { Answer::output(json!(1)) },
                move |_| async move {
                    let name = std::thread::current().name().map(str::to_owned);
                    tx.send(name).unwrap();
                    Answer::output(json!(1))
                },
            )
            .await;
        assert_eq!(answer, Answer::output(json!(1)));
        assert!(rx.recv().await.unwrap().verdict.is_clean());
        assert_eq!(ran_on.recv().unwrap().as_deref(), Some("test-mirrors"));
        assert_ne!(
            std::thread::current().name(),
            Some("test-mirrors"),
            "the caller is not on the mirrors' runtime"
        );
        mirrors.shutdown_background();
    }

    /// Before the fix a panicking mirror panicked the caller.
    #[tokio::test]
    async fn a_panicking_mirror_is_counted_and_does_not_affect_the_answer() {
        let (router, mut rx) = Router::with_sink(eval(0, 100), 8);
        let answer = router
            .run(
                Some("u1"),
                json!({}),
                |_| async { Answer::output(json!(1)) },
                |_| async {
                    if true {
                        panic!("mirror exploded");
                    }
                    Answer::output(json!(1))
                },
            )
            .await;
        assert_eq!(answer, Answer::output(json!(1)));
        assert_eq!(router.drain(Duration::from_secs(5)).await, 0);
        assert_eq!(router.stats().panicked, 1);
        assert!(rx.try_recv().is_err(), "a panicked mirror is not compared");
    }

    #[tokio::test]
    async fn a_full_mirror_pool_sheds_and_counts_without_waiting() {
        let (router, _rx) = Router::builder(eval(0, 100)).mirrors(2).with_sink(8);
        let started = Instant::now();
        for _ in 0..5 {
            router
                .run(
                    Some("u1"),
                    json!({}),
                    |_| async { Answer::output(json!(1)) },
                    |_| async {
                        tokio::time::sleep(Duration::from_secs(30)).await;
                        Answer::output(json!(1))
                    },
                )
                .await;
        }
        assert!(started.elapsed() < Duration::from_secs(1));
        let stats = router.stats();
        assert_eq!((stats.mirrored, stats.shed), (5, 3));
        assert_eq!(router.in_flight(), 2);
    }

    /// A response that counts how often it is observed.
    struct Counted(Arc<AtomicU64>);

    impl Observe for Counted {
        fn observe(&self) -> Answer {
            self.0.fetch_add(1, Ordering::SeqCst);
            Answer::output(json!(1))
        }
    }

    /// Before the fix the serving side's response was observed (for a
    /// proxy: parsed and normalised) on the response path even when its
    /// mirror was then shed.
    #[tokio::test]
    async fn a_shed_mirror_costs_no_observation_of_the_served_response() {
        let (router, _rx) = Router::builder(eval(0, 100)).mirrors(1).with_sink(8);
        let observed = Arc::new(AtomicU64::new(0));
        let slow = |_: serde_json::Value| async {
            tokio::time::sleep(Duration::from_secs(30)).await;
            Counted(Arc::new(AtomicU64::new(0)))
        };
        // The first mirror holds the only permit; the second is shed.
        for _ in 0..2 {
            let count = observed.clone();
            router
                .run(
                    Some("u1"),
                    json!({}),
                    move |_| async move { Counted(count) },
                    slow,
                )
                .await;
        }
        assert_eq!(router.stats().shed, 1);
        // Only the first (mirrored) response is observed, once, in its task.
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(observed.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn the_rules_and_known_differences_of_a_replay_apply() {
        let rules = RuleSet::compile(&[crate::compare::RuleConfig::ignore_flag("/at")]).unwrap();
        let (router, mut rx) = Router::builder(eval(0, 100)).rules(rules).with_sink(8);
        router
            .run(
                Some("u1"),
                json!({"q": 1}),
                |_| async { Ok::<_, String>(json!({"at": 1, "v": 2})) },
                |_| async { Ok::<_, String>(json!({"at": 2, "v": 2})) },
            )
            .await
            .unwrap();
        let c = rx.recv().await.unwrap();
        assert!(c.verdict.is_clean(), "{:?}", c.verdict);
        assert_eq!(c.rule_effects.suppressed.as_slice(), &[1]);
        assert_eq!(c.input.get(), r#"{"q":1}"#);
    }

    #[tokio::test]
    async fn the_local_override_serves_legacy_and_mirrors_the_candidate() {
        let (router, mut rx) = Router::with_sink(eval(100, 0), 8);
        router.force_legacy(true);
        assert_eq!(
            call(&router, Some("u1")).await,
            Answer::output(json!("legacy"))
        );
        let c = rx.recv().await.unwrap();
        assert_eq!(c.verdict.outcome, Outcome::CandidateError);
        assert_eq!(router.stats().overridden, 1);
    }
}
