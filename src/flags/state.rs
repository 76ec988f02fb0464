//! Flag state: the Unleash client-features document, where it came from, and
//! what it says about one flag.
//!
//! # Contract
//! - [`parse_features`] parses the exact shape of Unleash's
//!   `GET /api/client/features` response into the SDK's
//!   [`ClientFeatures`]; an error gives the line and column. A rollout
//!   percentage (flexibleRollout's `rollout`, the gradualRollout
//!   strategies' `percentage`) must be written as Unleash writes it, a
//!   string of digits from `"0"` to `"100"`: anything else (`"50.5"`,
//!   `"101"`, `"-5"`) is an error naming the line, column and flag, because
//!   the SDK would not roll it out as written.
//! - [`FlagView::of`] describes one flag of a state for people (enabled,
//!   strategies, the rollout percentage when it is one simple
//!   flexibleRollout); it never evaluates anything (evaluation is
//!   [`super::Evaluator`]'s alone).

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::collections::HashMap;
use unleash_types::client_features::{ClientFeature, ClientFeatures};

/// Where a loaded state came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Origin {
    /// The local flag file.
    File { path: String },
    /// A fetch from the Unleash server.
    Server { url: String },
    /// The last-known-good copy on disk (the server was not reachable).
    Cache { path: String },
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::File { path } => write!(f, "file {path}"),
            Origin::Server { url } => write!(f, "server {url}"),
            Origin::Cache { path } => write!(f, "last-known-good cache {path}"),
        }
    }
}

/// A loaded state and its provenance.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub features: ClientFeatures,
    pub origin: Origin,
    /// When it was read or fetched (for a cache: when the cache was written).
    pub fetched_at: chrono::DateTime<chrono::Utc>,
}

/// Parses a client-features document; the error names line and column
/// (and the flag, for a percentage the SDK would not read as written).
pub fn parse_features(bytes: &[u8]) -> Result<ClientFeatures, String> {
    let features = serde_json::from_slice::<ClientFeatures>(bytes).map_err(|e| {
        format!(
            "line {}, column {}: {}",
            e.line(),
            e.column(),
            strip_position(&e.to_string())
        )
    })?;
    check_percentages(bytes)?;
    Ok(features)
}

/// The strategies whose parameter is a percentage of keys, and its name.
const PERCENT_PARAMETERS: &[(&str, &str)] = &[
    ("flexibleRollout", "rollout"),
    ("gradualRolloutUserId", "percentage"),
    ("gradualRolloutSessionId", "percentage"),
    ("gradualRolloutRandom", "percentage"),
];

/// The parts of a document a percentage check reads, each parameter value
/// borrowed from the text so that its position is known.
#[derive(Deserialize)]
struct Located<'a> {
    #[serde(borrow)]
    features: Vec<LocatedFeature<'a>>,
}

#[derive(Deserialize)]
struct LocatedFeature<'a> {
    name: String,
    #[serde(borrow, default)]
    strategies: Option<Vec<LocatedStrategy<'a>>>,
}

#[derive(Deserialize)]
struct LocatedStrategy<'a> {
    name: String,
    #[serde(borrow, default)]
    parameters: Option<HashMap<String, &'a RawValue>>,
}

/// Every percentage parameter is a string of digits in 0..=100.
fn check_percentages(bytes: &[u8]) -> Result<(), String> {
    let doc: Located = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    for feature in &doc.features {
        for strategy in feature.strategies.iter().flatten() {
            let Some((_, key)) = PERCENT_PARAMETERS.iter().find(|(s, _)| *s == strategy.name)
            else {
                continue;
            };
            let Some(raw) = strategy.parameters.as_ref().and_then(|p| p.get(*key)) else {
                continue;
            };
            let value: String = serde_json::from_str(raw.get()).map_err(|e| e.to_string())?;
            let whole = !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit());
            if whole && value.parse::<u32>().is_ok_and(|p| p <= 100) {
                continue;
            }
            // The value is a slice of `bytes`: its offset gives the position.
            let offset = (raw.get().as_ptr() as usize).saturating_sub(bytes.as_ptr() as usize);
            let before = &bytes[..offset.min(bytes.len())];
            let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
            let column = before.len()
                - before
                    .iter()
                    .rposition(|&b| b == b'\n')
                    .map_or(0, |i| i + 1)
                + 1;
            return Err(format!(
                "line {line}, column {column}: flag {:?}: {} {key} {value:?} is not a percentage the SDK reads as written; write a whole number from \"0\" to \"100\" as a string, e.g. \"25\"",
                feature.name, strategy.name
            ));
        }
    }
    Ok(())
}

fn strip_position(message: &str) -> &str {
    message
        .rfind(" at line ")
        .map_or(message, |at| &message[..at])
}

/// One strategy of a flag, as people read it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StrategyView {
    pub name: String,
    /// `rollout` (flexibleRollout) or `percentage` (gradualRollout*).
    pub percent: Option<f64>,
    pub stickiness: Option<String>,
    pub group_id: Option<String>,
    pub constraints: usize,
}

/// What a state says about one flag.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FlagView {
    pub name: String,
    /// The flag exists in the state.
    pub present: bool,
    pub enabled: bool,
    pub strategies: Vec<StrategyView>,
    /// The share of keys the flag is on for, when the state says it simply:
    /// 0 when absent or disabled, the rollout of a single unconstrained
    /// flexibleRollout, 100 for an enabled flag with no strategy or a
    /// `default` strategy; `None` when it takes more than one number.
    pub percent: Option<f64>,
}

impl FlagView {
    pub fn of(features: &ClientFeatures, name: &str) -> Self {
        let Some(feature) = features.features.iter().find(|f| f.name == name) else {
            return FlagView {
                name: name.to_owned(),
                present: false,
                enabled: false,
                strategies: Vec::new(),
                percent: Some(0.0),
            };
        };
        let strategies = strategies(feature);
        let percent = if !feature.enabled {
            Some(0.0)
        } else {
            match strategies.as_slice() {
                [] => Some(100.0),
                [one] if one.constraints == 0 && one.name == "default" => Some(100.0),
                [one] if one.constraints == 0 => one.percent,
                _ => None,
            }
        };
        FlagView {
            name: name.to_owned(),
            present: true,
            enabled: feature.enabled,
            strategies,
            percent,
        }
    }

    /// The stickiness of the flag's rollout strategy, if it has one.
    pub fn stickiness(&self) -> Option<&str> {
        self.strategies.iter().find_map(|s| s.stickiness.as_deref())
    }
}

fn strategies(feature: &ClientFeature) -> Vec<StrategyView> {
    feature
        .strategies
        .iter()
        .flatten()
        .map(|s| {
            let param = |k: &str| s.parameters.as_ref().and_then(|p| p.get(k)).cloned();
            StrategyView {
                name: s.name.clone(),
                percent: param("rollout")
                    .or_else(|| param("percentage"))
                    .and_then(|p| p.trim().parse().ok()),
                stickiness: param("stickiness"),
                group_id: param("groupId"),
                constraints: s.constraints.as_ref().map_or(0, Vec::len),
            }
        })
        .collect()
}

/// A flag percentage as Unleash writes it (`"25"`, `"0.5"`).
pub fn percent_text(percent: f64) -> String {
    if percent.fract() == 0.0 {
        format!("{}", percent as i64)
    } else {
        format!("{percent}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_document_names_line_and_column() {
        let e = parse_features(b"{\"version\": 2,\n \"features\": [}").unwrap_err();
        assert!(e.starts_with("line 2, column 15: "), "{e}");
    }

    #[test]
    fn a_percentage_the_sdk_would_not_read_names_line_column_and_flag() {
        let doc = |rollout: &str| {
            format!(
                "{{\"version\": 2, \"features\": [\n  {{\"name\": \"f\", \"enabled\": true, \"strategies\": [\n    {{\"name\": \"flexibleRollout\", \"parameters\": {{\"rollout\": {rollout}}}}}]}}]}}"
            )
        };
        for good in ["\"0\"", "\"25\"", "\"100\""] {
            assert!(parse_features(doc(good).as_bytes()).is_ok(), "{good}");
        }
        for bad in ["\"50.5\"", "\"101\"", "\"-5\"", "\"\"", "\" 5\"", "\"5%\""] {
            let e = parse_features(doc(bad).as_bytes()).unwrap_err();
            assert!(
                e.starts_with(&format!(
                    "line 3, column 59: flag \"f\": flexibleRollout rollout {bad} "
                )),
                "{e}"
            );
        }
        let gradual = r#"{"version":2,"features":[{"name":"g","enabled":true,"strategies":[{"name":"gradualRolloutRandom","parameters":{"percentage":"200"}}]}]}"#;
        assert!(parse_features(gradual.as_bytes())
            .unwrap_err()
            .contains("flag \"g\": gradualRolloutRandom percentage \"200\""));
        let other = r#"{"version":2,"features":[{"name":"o","enabled":true,"strategies":[{"name":"userWithId","parameters":{"userIds":"a,b"}}]}]}"#;
        assert!(parse_features(other.as_bytes()).is_ok());
    }

    #[test]
    fn views_report_the_simple_percentage() {
        let features = parse_features(
            br#"{"version":2,"features":[
              {"name":"a","enabled":true,"strategies":[{"name":"flexibleRollout","parameters":{"rollout":"25","stickiness":"userId","groupId":"a"}}]},
              {"name":"b","enabled":false,"strategies":[{"name":"flexibleRollout","parameters":{"rollout":"25"}}]},
              {"name":"c","enabled":true,"strategies":[]},
              {"name":"d","enabled":true,"strategies":[{"name":"flexibleRollout","parameters":{"rollout":"5"},"constraints":[{"contextName":"x","operator":"IN","values":["1"]}]}]}
            ]}"#,
        )
        .unwrap();
        let a = FlagView::of(&features, "a");
        assert_eq!((a.percent, a.stickiness()), (Some(25.0), Some("userId")));
        assert_eq!(FlagView::of(&features, "b").percent, Some(0.0));
        assert_eq!(FlagView::of(&features, "c").percent, Some(100.0));
        assert_eq!(FlagView::of(&features, "d").percent, None);
        let missing = FlagView::of(&features, "zzz");
        assert_eq!((missing.present, missing.percent), (false, Some(0.0)));
        assert_eq!(percent_text(25.0), "25");
        assert_eq!(percent_text(0.5), "0.5");
    }
}
