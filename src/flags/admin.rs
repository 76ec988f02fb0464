//! The Unleash Admin API: create a flag, change its rollout, enable it.
//!
//! # Contract
//! - The admin token comes from `UNLEASH_ADMIN_TOKEN` only. It is sent in the
//!   `Authorization` header and nowhere else: it is never printed, logged,
//!   put in an error message, the audit log or a report. [`Admin`]'s `Debug`
//!   hides it, and it is registered with [`crate::util::redact`], so that a server
//!   or gateway echoing the `Authorization` header in an error body (quoted
//!   in the error) shows `<redacted>` instead. URLs in errors have no
//!   userinfo.
//! - [`Admin::set_percent`] makes `flag` one unconstrained flexibleRollout
//!   at `percent` in the configured environment, enabled: a missing flag is
//!   created, and given its 0% strategy **before** it is enabled (enabling
//!   an environment with no strategy would silently add a 100% rollout). A
//!   flag shaped otherwise (several strategies, constraints) is refused.
//! - [`Admin::import_feature`] creates a flag of a client-features document
//!   (the local flag file) on the server with its strategies, then enables
//!   it as the document says; a flag that already exists is left as it is
//!   (the server's state is never overwritten by an import).
//! - Every call has the `[flags] timeout` deadline. Any failure is a
//!   [`FlagsError::Admin`] naming the URL and what to do (exit 2).

use super::local_write::Change;
use super::state::percent_text;
use super::{FlagsError, Stickiness};
use serde::Deserialize;
use serde_json::{json, Value};

/// The environment variable holding the admin token.
pub const ENV_ADMIN_TOKEN: &str = "UNLEASH_ADMIN_TOKEN";

/// A client of one project's flags in one environment.
pub struct Admin {
    api: String,
    token: String,
    project: String,
    environment: String,
    http: reqwest::Client,
}

impl std::fmt::Debug for Admin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Admin")
            .field("api", &self.api)
            .field("token", &"<hidden>")
            .field("project", &self.project)
            .field("environment", &self.environment)
            .finish()
    }
}

#[derive(Debug, Deserialize)]
struct AdminStrategy {
    id: String,
    name: String,
    #[serde(default)]
    parameters: std::collections::HashMap<String, String>,
    #[serde(default)]
    constraints: Vec<Value>,
}

#[derive(Debug, Deserialize)]
struct AdminEnvironment {
    name: String,
    enabled: bool,
    #[serde(default)]
    strategies: Vec<AdminStrategy>,
}

#[derive(Debug, Deserialize)]
struct AdminFeature {
    #[serde(default)]
    environments: Vec<AdminEnvironment>,
}

impl Admin {
    /// A client for the server at `api` (ending in `/api`), with the token
    /// from [`ENV_ADMIN_TOKEN`].
    pub fn from_env(settings: &super::FlagSettings, api: &str) -> Result<Self, FlagsError> {
        let token = std::env::var(ENV_ADMIN_TOKEN)
            .ok()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| FlagsError::Admin {
                url: crate::util::redact::url(api),
                message: format!(
                    "{ENV_ADMIN_TOKEN} is not set: changing a flag on the server needs an admin API token in it (it is never printed or stored)"
                ),
            })?;
        crate::util::redact::register(&token);
        crate::util::redact::register_url(api);
        Ok(Admin {
            api: api.trim_end_matches('/').to_owned(),
            token,
            project: settings.project.clone(),
            environment: settings.environment.clone(),
            http: super::server_source::http_client(settings.timeout)?,
        })
    }

    fn features_url(&self) -> String {
        format!("{}/admin/projects/{}/features", self.api, self.project)
    }

    /// An error about this server, with its secrets and URL credentials
    /// taken out (the message may quote the server's answer).
    fn error(&self, message: String) -> FlagsError {
        FlagsError::Admin {
            url: crate::util::redact::url(&self.api),
            message: crate::util::redact::text(&message).into_owned(),
        }
    }

    /// Sends one call; a non-2xx status (other than `allow`) is an error.
    async fn call(
        &self,
        method: reqwest::Method,
        url: &str,
        body: Option<Value>,
        allow: Option<reqwest::StatusCode>,
    ) -> Result<(reqwest::StatusCode, Value), FlagsError> {
        let mut request = self
            .http
            .request(method.clone(), url)
            .header("Authorization", &self.token)
            .header("Accept", "application/json");
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.map_err(|e| {
            self.error(format!(
                "{method} {url}: cannot reach the server ({}); check the URL and that Unleash is running",
                crate::util::errors::chain(&e)
            ))
        })?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        if status.is_success() || Some(status) == allow {
            let value = serde_json::from_str(&text).unwrap_or(Value::Null);
            return Ok((status, value));
        }
        let hint = match status.as_u16() {
            401 | 403 => format!(" — the server rejected {ENV_ADMIN_TOKEN}; set it to an admin API token"),
            409 => " — the name is taken (an archived flag keeps its name until it is deleted from the archive)".into(),
            _ => String::new(),
        };
        let excerpt: String = text.chars().take(300).collect();
        Err(self.error(format!("{method} {url}: HTTP {status}{hint}: {excerpt}")))
    }

    async fn feature(&self, flag: &str) -> Result<Option<AdminFeature>, FlagsError> {
        let url = format!("{}/{flag}", self.features_url());
        let (status, value) = self
            .call(
                reqwest::Method::GET,
                &url,
                None,
                Some(reqwest::StatusCode::NOT_FOUND),
            )
            .await?;
        if status == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        serde_json::from_value(value)
            .map(Some)
            .map_err(|e| self.error(format!("GET {url}: unexpected answer: {e}")))
    }

    /// The flag's percentage in the environment (0 when absent or off,
    /// `None` when it is not one number).
    pub async fn current_percent(&self, flag: &str) -> Result<Option<f64>, FlagsError> {
        Ok(match self.feature(flag).await? {
            None => Some(0.0),
            Some(feature) => match feature
                .environments
                .iter()
                .find(|e| e.name == self.environment)
            {
                None => Some(0.0),
                Some(env) => percent_of(env),
            },
        })
    }

    /// Creates the flag if needed (0% first), sets the rollout, enables it.
    pub async fn set_percent(
        &self,
        flag: &str,
        percent: u8,
        stickiness: &Stickiness,
        description: &str,
    ) -> Result<Change, FlagsError> {
        let features = self.features_url();
        let mut created = false;
        let feature = match self.feature(flag).await? {
            Some(feature) => feature,
            None => {
                self.call(
                    reqwest::Method::POST,
                    &features,
                    Some(json!({"name": flag, "type": "release", "description": description})),
                    None,
                )
                .await?;
                created = true;
                self.feature(flag).await?.ok_or_else(|| {
                    self.error(format!("flag {flag:?} missing right after it was created"))
                })?
            }
        };
        let env_url = format!("{features}/{flag}/environments/{}", self.environment);
        let env = feature
            .environments
            .into_iter()
            .find(|e| e.name == self.environment)
            .ok_or_else(|| {
                self.error(format!(
                    "flag {flag:?} has no environment {:?}; set [flags] environment to one of the project's",
                    self.environment
                ))
            })?;
        let from = percent_of(&env);
        let strategy_id = match env.strategies.as_slice() {
            [] => {
                let (_, value) = self
                    .call(
                        reqwest::Method::POST,
                        &format!("{env_url}/strategies"),
                        Some(json!({
                            "name": "flexibleRollout",
                            "parameters": {"rollout": "0", "stickiness": stickiness.as_str(), "groupId": flag},
                            "constraints": []
                        })),
                        None,
                    )
                    .await?;
                value["id"]
                    .as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| self.error(format!("adding a strategy to {flag:?} returned no id")))?
            }
            [one] if one.name == "flexibleRollout" && one.constraints.is_empty() => one.id.clone(),
            _ => {
                return Err(self.error(format!(
                    "flag {flag:?} in {} is not one unconstrained flexibleRollout strategy, so one percentage cannot describe it; change it in the Unleash UI",
                    self.environment
                )))
            }
        };
        self.call(
            reqwest::Method::PATCH,
            &format!("{env_url}/strategies/{strategy_id}"),
            Some(json!([{"op": "replace", "path": "/parameters/rollout", "value": percent_text(f64::from(percent))}])),
            None,
        )
        .await?;
        if !env.enabled {
            self.call(reqwest::Method::POST, &format!("{env_url}/on"), None, None)
                .await?;
        }
        Ok(Change {
            from,
            to: f64::from(percent),
            created,
        })
    }
}

/// What importing one flag did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Imported {
    Created,
    /// The flag exists on the server; nothing was changed.
    Exists,
}

impl Admin {
    /// Creates `feature` on the server as the document describes it,
    /// strategies first, then enabled or not; leaves an existing flag alone.
    pub async fn import_feature(
        &self,
        feature: &unleash_types::client_features::ClientFeature,
    ) -> Result<Imported, FlagsError> {
        let name = &feature.name;
        if self.feature(name).await?.is_some() {
            return Ok(Imported::Exists);
        }
        let strategies = feature.strategies.clone().unwrap_or_default();
        if let Some(s) = strategies
            .iter()
            .find(|s| s.segments.as_ref().is_some_and(|g| !g.is_empty()))
        {
            return Err(self.error(format!(
                "flag {name:?}: its {} strategy uses segments, which an import cannot recreate; create it in the Unleash UI",
                s.name
            )));
        }
        let features = self.features_url();
        self.call(
            reqwest::Method::POST,
            &features,
            Some(json!({
                "name": name,
                "type": feature.feature_type.clone().unwrap_or_else(|| "release".into()),
                "description": feature.description.clone().unwrap_or_default(),
                "impressionData": feature.impression_data.unwrap_or(false),
            })),
            None,
        )
        .await?;
        let env_url = format!("{features}/{name}/environments/{}", self.environment);
        for strategy in &strategies {
            let mut body = json!({
                "name": strategy.name,
                "parameters": strategy.parameters.clone().unwrap_or_default(),
                "constraints": strategy.constraints.clone().unwrap_or_default(),
            });
            if let Some(variants) = strategy.variants.as_ref().filter(|v| !v.is_empty()) {
                body["variants"] = serde_json::to_value(variants).expect("variants serialise");
            }
            self.call(
                reqwest::Method::POST,
                &format!("{env_url}/strategies"),
                Some(body),
                None,
            )
            .await?;
        }
        if feature.enabled {
            if strategies.is_empty() {
                return Err(self.error(format!(
                    "flag {name:?} is enabled with no strategy; give it one (e.g. flexibleRollout at 100) before importing, so the server does not guess"
                )));
            }
            self.call(reqwest::Method::POST, &format!("{env_url}/on"), None, None)
                .await?;
        }
        Ok(Imported::Created)
    }
}

/// The environment's effective percentage, when it is one number.
fn percent_of(env: &AdminEnvironment) -> Option<f64> {
    if !env.enabled {
        return Some(0.0);
    }
    match env.strategies.as_slice() {
        [] => Some(100.0),
        [one] if one.constraints.is_empty() && one.name == "default" => Some(100.0),
        [one] if one.constraints.is_empty() => one
            .parameters
            .get("rollout")
            .and_then(|r| r.trim().parse().ok()),
        _ => None,
    }
}
