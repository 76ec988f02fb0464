//! The one evaluation path: the official Rust SDK decides every flag.
//!
//! # Contract
//! - [`Evaluator::load`] hands a state to `unleash_api_client::Client::memoize`
//!   (the SDK compiles it with Yggdrasil); [`Evaluator::decide`] and
//!   [`Evaluator::is_enabled`] call `Client::is_enabled_str`. Nothing here
//!   re-implements a strategy, a hash or a constraint, so stickiness is the
//!   official SDKs'.
//! - Until a first state is loaded, [`Evaluator::decide`] returns *legacy
//!   serves, nothing mirrored* ([`Basis::NoState`]); a key-less request gets
//!   the same, as [`Basis::WithoutKey`] (never a random bucket). A flag
//!   absent from the state is off.
//! - A decision allocates nothing in the common case: the SDK's `Context` is
//!   kept per thread and only its key field is rewritten.
//! - Per loaded state, a [`Plan`] says what a decision needs: a flag whose
//!   answer is the same for every key ([`super::memo::key_independent`]) is
//!   asked of the SDK once; when the state makes the answers a function of
//!   the key alone ([`super::memo::deterministic`]: no randomness, no
//!   clock), `decide` remembers each key's decision per thread until the
//!   next state ([`super::memo::Memo`]); otherwise every call asks the SDK.
//!   Either way every decision is the SDK's.
//! - Thread-safe: `decide` may run on every thread at once while a new state
//!   is loaded (the SDK swaps states atomically).

use super::memo::{self, Memo};
use super::state::Snapshot;
use super::{Basis, Decision, FlagNames, FlagsError, Stickiness};
use arc_swap::ArcSwap;
use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use unleash_api_client::client::{ClientBuilder, FeatureKey};
use unleash_api_client::context::Context;
use unleash_api_client::http::{Request, Response, Transport, TransportRef};
use unleash_api_client::Client;

/// The SDK's typed flag names; cutover only uses string names.
#[derive(Debug, Clone, Copy)]
pub enum NoTypedFlags {}

impl FeatureKey for NoTypedFlags {
    fn name(self) -> &'static str {
        match self {}
    }
}

/// The SDK client type cutover uses.
pub type SdkClient = Client<NoTypedFlags>;

/// The application name cutover registers with.
pub const APP_NAME: &str = "cutover";

/// A transport for clients that must never call out (the local file source).
struct NoNetwork;

#[async_trait::async_trait]
impl Transport for NoNetwork {
    async fn execute(&self, request: Request) -> Result<Response, anyhow::Error> {
        anyhow::bail!(
            "the local flag file source makes no HTTP calls (asked for {})",
            request.url
        )
    }
}

thread_local! {
    /// One SDK context per thread, reused by every decision on it.
    static CONTEXT: RefCell<Context> = RefCell::new(Context::default());
    /// Decisions remembered per key, on this thread.
    static MEMO: RefCell<Memo> = RefCell::new(Memo::default());
}

/// Evaluator ids, so that a thread's memo never serves another evaluator.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// Evaluates a migration's two flags for request keys.
pub struct Evaluator {
    client: SdkClient,
    names: FlagNames,
    stickiness: Stickiness,
    loaded: AtomicBool,
    snapshot: RwLock<Option<Arc<Snapshot>>>,
    id: u64,
    plan: ArcSwap<Plan>,
}

/// What deciding needs under the state in force.
#[derive(Debug, Clone, Copy, Default)]
pub struct Plan {
    /// Bumped by every load; a memo of an older generation is discarded.
    pub generation: u64,
    /// Decisions may be remembered per key.
    pub remember: bool,
    /// The serve flag's answer when it is the same for every key.
    pub serve: Option<bool>,
    /// The shadow flag's answer when it is the same for every key.
    pub shadow: Option<bool>,
}

impl std::fmt::Debug for Evaluator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Evaluator")
            .field("names", &self.names)
            .field("stickiness", &self.stickiness)
            .field("loaded", &self.loaded)
            .finish()
    }
}

impl Evaluator {
    /// An evaluator with no network (states are loaded by the caller).
    pub fn offline(names: FlagNames, stickiness: Stickiness) -> Result<Self, FlagsError> {
        Self::with_transport(
            names,
            stickiness,
            "http://127.0.0.1:0/api",
            None,
            Arc::new(NoNetwork),
        )
    }

    /// An evaluator whose SDK client talks to `api_url` through `transport`
    /// (for `register`).
    pub fn with_transport(
        names: FlagNames,
        stickiness: Stickiness,
        api_url: &str,
        authorization: Option<String>,
        transport: TransportRef,
    ) -> Result<Self, FlagsError> {
        let instance = format!(
            "cutover-{}-{}",
            std::process::id(),
            chrono::Utc::now().timestamp_millis()
        );
        let client = ClientBuilder::default()
            .enable_string_features()
            .disable_metric_submission()
            .into_client_with_transport::<NoTypedFlags>(
                api_url,
                APP_NAME,
                &instance,
                authorization,
                transport,
            )
            .map_err(|e| FlagsError::Sdk(e.to_string()))?;
        Ok(Evaluator {
            client,
            names,
            stickiness,
            loaded: AtomicBool::new(false),
            snapshot: RwLock::new(None),
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            plan: ArcSwap::from_pointee(Plan::default()),
        })
    }

    pub fn names(&self) -> &FlagNames {
        &self.names
    }

    pub fn stickiness(&self) -> &Stickiness {
        &self.stickiness
    }

    /// The SDK client (for `register`).
    pub fn client(&self) -> &SdkClient {
        &self.client
    }

    /// Makes `snapshot` the state every later decision uses.
    pub fn load(&self, snapshot: Snapshot) -> Result<(), FlagsError> {
        self.client
            .memoize(snapshot.features.clone())
            .map_err(|e| FlagsError::Sdk(format!("the SDK rejected the flag state: {e}")))?;
        let features = &snapshot.features;
        let remember = memo::deterministic(features, &self.names, &self.stickiness);
        // A constant is the SDK's answer for one key; any key gives the same.
        let constant = |name: &str| {
            (remember && memo::key_independent(features, name, &self.stickiness))
                .then(|| self.sdk_is_on(name, "cutover-probe"))
        };
        let (serve, shadow) = (constant(&self.names.serve), constant(&self.names.shadow));
        *self.snapshot.write().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(snapshot));
        self.new_generation(remember, serve, shadow);
        Ok(())
    }

    /// Hands a raw SDK update (a full state or a delta, as the client API's
    /// delta endpoint sends) to the SDK. cutover's own sources always load
    /// full states through [`Evaluator::load`]; this is for tools and the
    /// conformance suite's delta cases. No snapshot is kept for `status`.
    pub fn load_update(&self, message: unleash_yggdrasil::UpdateMessage) -> Result<(), FlagsError> {
        self.client
            .memoize_update_message(message)
            .map_err(|e| FlagsError::Sdk(format!("the SDK rejected the flag update: {e}")))?;
        self.new_generation(false, None, None);
        Ok(())
    }

    /// Puts a new plan in force (after the SDK has the new state). A thread
    /// still on the old plan decides as under the old state, or asks the SDK.
    fn new_generation(&self, remember: bool, serve: Option<bool>, shadow: Option<bool>) {
        let generation = self.plan.load().generation + 1;
        self.plan.store(Arc::new(Plan {
            generation,
            remember,
            serve,
            shadow,
        }));
        self.loaded.store(true, Ordering::Release);
    }

    /// What deciding needs under the current state.
    pub fn plan(&self) -> Plan {
        **self.plan.load()
    }

    /// Whether decisions are being remembered per key for the current state.
    pub fn remembers_decisions(&self) -> bool {
        self.plan.load().remember
    }

    /// Whether a state has been loaded.
    pub fn is_loaded(&self) -> bool {
        self.loaded.load(Ordering::Acquire)
    }

    /// The state in use and where it came from, if any.
    pub fn snapshot(&self) -> Option<Arc<Snapshot>> {
        self.snapshot
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Who serves the request with this key, and whether the other side is
    /// mirrored.
    pub fn decide(&self, key: Option<&str>) -> Decision {
        let Some(key) = key else {
            return Decision::legacy_only(Basis::WithoutKey);
        };
        if !self.is_loaded() {
            return Decision::legacy_only(Basis::NoState);
        }
        let plan = **self.plan.load();
        if let (Some(serve), Some(shadow)) = (plan.serve, plan.shadow) {
            return Decision::from_flags(serve, shadow);
        }
        if plan.remember {
            return MEMO.with(|memo| {
                memo.borrow_mut()
                    .get_or(self.id, plan.generation, key, || self.ask_sdk(&plan, key))
            });
        }
        self.ask_sdk(&plan, key)
    }

    /// Both flags for `key`: the plan's constants, the SDK for the rest.
    fn ask_sdk(&self, plan: &Plan, key: &str) -> Decision {
        let serve = plan
            .serve
            .unwrap_or_else(|| self.sdk_is_on(&self.names.serve, key));
        let shadow = plan
            .shadow
            .unwrap_or_else(|| self.sdk_is_on(&self.names.shadow, key));
        Decision::from_flags(serve, shadow)
    }

    /// One flag for `key`, from the SDK.
    fn sdk_is_on(&self, flag: &str, key: &str) -> bool {
        CONTEXT.with(|cell| {
            let mut ctx = cell.borrow_mut();
            self.put_key(&mut ctx, key);
            self.client.is_enabled_str(flag, Some(&ctx), false)
        })
    }

    /// Whether `flag` is on for `key`, asking the SDK every time (false
    /// with no state).
    pub fn is_on(&self, flag: &str, key: &str) -> bool {
        self.sdk_is_on(flag, key)
    }

    /// The SDK's answer for any flag and context (the conformance suite's
    /// entry point; [`Evaluator::decide`] takes the same path).
    pub fn is_enabled(&self, flag: &str, ctx: &Context) -> bool {
        self.client.is_enabled_str(flag, Some(ctx), false)
    }

    /// The SDK's variant for any flag and context.
    pub fn variant(&self, flag: &str, ctx: &Context) -> unleash_api_client::client::Variant {
        self.client.get_variant_str(flag, ctx)
    }

    /// Rewrites the thread's context so that it carries `key` in the
    /// stickiness field and nothing else.
    fn put_key(&self, ctx: &mut Context, key: &str) {
        fn set(slot: &mut Option<String>, key: &str) {
            match slot {
                Some(s) => {
                    s.clear();
                    s.push_str(key);
                }
                None => *slot = Some(key.to_owned()),
            }
        }
        match &self.stickiness {
            Stickiness::UserId => {
                set(&mut ctx.user_id, key);
                ctx.session_id = None;
                ctx.properties.clear();
            }
            Stickiness::SessionId => {
                set(&mut ctx.session_id, key);
                ctx.user_id = None;
                ctx.properties.clear();
            }
            Stickiness::Property(name) => {
                ctx.user_id = None;
                ctx.session_id = None;
                if ctx.properties.len() == 1 {
                    if let Some(slot) = ctx.properties.get_mut(name) {
                        slot.clear();
                        slot.push_str(key);
                        return;
                    }
                }
                ctx.properties.clear();
                ctx.properties.insert(name.clone(), key.to_owned());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::state::{parse_features, Origin};
    use super::*;
    use crate::model::Side;

    fn snapshot(json: &str) -> Snapshot {
        Snapshot {
            features: parse_features(json.as_bytes()).unwrap(),
            origin: Origin::File {
                path: "test".into(),
            },
            fetched_at: chrono::Utc::now(),
        }
    }

    fn rollout(name: &str, pct: u32, stickiness: &str) -> String {
        format!(
            r#"{{"name":"{name}","enabled":true,"strategies":[{{"name":"flexibleRollout","parameters":{{"rollout":"{pct}","stickiness":"{stickiness}","groupId":"{name}"}}}}]}}"#
        )
    }

    #[test]
    fn no_state_and_no_key_mean_legacy_only() {
        let names = FlagNames::derived("m");
        let e = Evaluator::offline(names.clone(), Stickiness::UserId).unwrap();
        assert_eq!(e.decide(Some("u1")), Decision::legacy_only(Basis::NoState));
        e.load(snapshot(&format!(
            r#"{{"version":2,"features":[{},{}]}}"#,
            rollout(&names.serve, 100, "userId"),
            rollout(&names.shadow, 100, "userId")
        )))
        .unwrap();
        let on = e.decide(Some("u1"));
        assert_eq!((on.serving, on.mirrored), (Side::Candidate, true));
        assert_eq!(e.decide(None), Decision::legacy_only(Basis::WithoutKey));
    }

    #[test]
    fn stickiness_field_is_the_configured_one() {
        let names = FlagNames::derived("m");
        let doc = format!(
            r#"{{"version":2,"features":[{}]}}"#,
            rollout(&names.serve, 100, "tenant")
        );
        let by_property = Evaluator::offline(names.clone(), Stickiness::parse("tenant")).unwrap();
        by_property.load(snapshot(&doc)).unwrap();
        assert_eq!(by_property.decide(Some("t1")).serving, Side::Candidate);
        // The same rollout with the key as userId: the property is missing,
        // so the SDK keeps the flag off.
        let by_user = Evaluator::offline(names, Stickiness::UserId).unwrap();
        by_user.load(snapshot(&doc)).unwrap();
        assert_eq!(by_user.decide(Some("t1")).serving, Side::Legacy);
        // The two share this thread's context: neither leaks into the other.
        assert_eq!(by_property.decide(Some("t2")).serving, Side::Candidate);
        assert_eq!(by_user.decide(Some("t2")).serving, Side::Legacy);
    }

    #[test]
    fn remembered_decisions_are_the_sdks_and_a_new_state_replaces_them() {
        let names = FlagNames::derived("m");
        let e = Evaluator::offline(names.clone(), Stickiness::UserId).unwrap();
        let doc = |serve: u32, stickiness: &str, shadow: u32| {
            format!(
                r#"{{"version":2,"features":[{},{}]}}"#,
                rollout(&names.serve, serve, stickiness),
                rollout(&names.shadow, shadow, "userId")
            )
        };
        let sdk = |e: &Evaluator, k: &str| {
            Decision::from_flags(e.is_on(&names.serve, k), e.is_on(&names.shadow, k))
        };
        // (serve %, its stickiness, shadow %, remembered, constants).
        for (serve, stickiness, shadow, remembers, constants) in [
            (25, "userId", 50, true, (None, None)),
            (60, "userId", 100, true, (None, Some(true))),
            (0, "userId", 100, true, (Some(false), Some(true))),
            (100, "default", 0, true, (Some(true), Some(false))),
            (100, "random", 100, false, (None, None)),
        ] {
            e.load(snapshot(&doc(serve, stickiness, shadow))).unwrap();
            let plan = e.plan();
            assert_eq!(plan.remember, remembers, "{serve}% {stickiness}");
            assert_eq!(
                (plan.serve, plan.shadow),
                constants,
                "{serve}% {stickiness}"
            );
            for pass in 0..2 {
                for i in 0..2000 {
                    let k = format!("user-{i}");
                    if remembers {
                        assert_eq!(e.decide(Some(&k)), sdk(&e, &k), "pass {pass}, {serve}%");
                    } else {
                        // Random stickiness: not remembered, and not stable.
                        e.decide(Some(&k));
                    }
                }
            }
        }
    }

    #[test]
    fn a_missing_flag_is_off() {
        let e = Evaluator::offline(FlagNames::derived("m"), Stickiness::UserId).unwrap();
        e.load(snapshot(r#"{"version":2,"features":[]}"#)).unwrap();
        assert_eq!(e.decide(Some("u")), Decision::from_flags(false, false));
    }
}
