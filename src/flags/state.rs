//! Flag state: the Unleash client-features document, where it came from, and
//! what it says about one flag.
//!
//! # Contract
//! - [`parse_features`] parses the exact shape of Unleash's
//!   `GET /api/client/features` response into the SDK's
//!   [`ClientFeatures`]; an error gives the line and column.
//! - [`FlagView::of`] describes one flag of a state for people (enabled,
//!   strategies, the rollout percentage when it is one simple
//!   flexibleRollout); it never evaluates anything (evaluation is
//!   [`super::Evaluator`]'s alone).

use serde::Serialize;
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

/// Parses a client-features document; the error names line and column.
pub fn parse_features(bytes: &[u8]) -> Result<ClientFeatures, String> {
    serde_json::from_slice::<ClientFeatures>(bytes).map_err(|e| {
        format!(
            "line {}, column {}: {}",
            e.line(),
            e.column(),
            strip_position(&e.to_string())
        )
    })
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
