//! `cutover flags`: status, set, promote, rollback.
//!
//! # Contract
//! - `status` shows, per flag: the source, enabled, strategy and
//!   percentage, stickiness, when the state was fetched, and the share of the
//!   traffic's records (by key) the flag is on for, streaming the capture.
//! - `set shadow|serve PCT` changes the local file atomically, or the server
//!   through the Admin API (creating the flag at 0% first).
//! - `promote` moves `serve` one ladder step up only if the latest replay
//!   report of this migration passes the evidence gate
//!   ([`super::evidence`]); otherwise it prints the numbers and what is
//!   needed and exits 1. `--force` moves anyway and is logged as forced.
//! - `rollback` sets `serve` to 0 at once.
//! - `import FILE` creates the file's flags on the server (an existing flag
//!   is left alone), so a team that outgrows the file keeps its rollout.
//! - Every change is appended to the audit log.
//! - The options `flags` shares with `replay` (`status --traffic`,
//!   `--format`, `--key-column`; `promote --reports-dir`) fall back to
//!   `[replay]` in `cutover.toml`, so both commands look at the same capture
//!   and reports. Output shows URLs without userinfo, and a problem quoting
//!   a server through [`crate::redact::text`].
//! - Exit status: 0 done; 1 promotion refused (the evidence is
//!   insufficient, like `diff` finding differences); 2 could not run (bad
//!   config or flag file, a server that cannot be reached or refuses the
//!   token for an admin call, a report that cannot be read), with a message
//!   naming the file, flag or variable.

use super::audit_log::{self, Entry, EvidenceUsed};
use super::evidence::{next_step, Evidence, Gate};
use super::local_write::{self, Change};
use super::settings::{self, FlagOptions, FlagSettings};
use super::state::{percent_text, FlagView};
use super::{FlagsError, Role, Source};
use crate::cli::{pick, DEFAULT_TRAFFIC};
use crate::terminal::counted;
use crate::traffic::{Format, ReadOptions, SourceItem, TrafficSpec};
use clap::{ArgMatches, Args, Subcommand};
use std::path::{Path, PathBuf};

/// `println!` for command output that returns write errors instead of
/// panicking; a closed pipe is not an error (see `review::style::emit`).
macro_rules! outln {
    ($($arg:tt)*) => {
        crate::review::style::emit(&format!("{}\n", format_args!($($arg)*)), false)
            .map_err(|e| anyhow::Error::new(e).context("cannot write <stdout>"))
    };
}

#[derive(Debug, Args)]
#[command(
    after_help = "Config-only settings ([flags] in cutover.toml): shadow_flag, serve_flag \
(default cutover.<migration>.shadow/.serve), client_secret (UNLEASH_CLIENT_SECRET wins), \
project (default \"default\"), environment (default \"development\"), ladder (default [1, 5, 25, 50, 100]), \
min_records (default 1000), max_mismatch_bound (default 0.005), cache (default .cutover/unleash-cache.json), \
audit_log (default .cutover/flags-audit.jsonl), poll_interval (default 5s), timeout (default 5s).\n\
Exit status: 0 done, 1 promotion refused (evidence insufficient), 2 could not run."
)]
pub struct FlagsArgs {
    #[command(flatten)]
    pub options: FlagOptions,
    #[command(subcommand)]
    pub action: Action,
}

#[derive(Debug, Subcommand)]
pub enum Action {
    /// Show each flag: source, enabled, strategy and percentage, stickiness, when fetched, and the share of the traffic that is on.
    Status(StatusArgs),
    /// Set a flag's rollout percentage (the local file atomically, or the server via the Admin API).
    Set {
        /// Which flag.
        #[arg(value_enum)]
        flag: Role,
        /// The percentage of keys it is on for, 0..=100.
        #[arg(value_parser = clap::value_parser!(u8).range(0..=100))]
        percent: u8,
    },
    /// Move `serve` one ladder step up if the latest replay report's evidence allows it.
    Promote(PromoteArgs),
    /// Set `serve` to 0% at once: the legacy serves every key again.
    Rollback,
    /// Create the flags of a local flag file on the Unleash server (Admin API); existing flags are left alone.
    Import {
        /// The flag file (the Unleash client-features shape).
        #[arg(value_name = "FILE", default_value = settings::DEFAULT_SOURCE)]
        file: PathBuf,
    },
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Capture whose keys are checked against the flags.
    #[arg(long, value_name = "TRAFFIC", default_value = DEFAULT_TRAFFIC)]
    pub traffic: Vec<String>,
    /// Capture format; auto reads `.csv` as CSV and everything else as JSON Lines.
    #[arg(long, value_enum, default_value_t = Format::Auto)]
    pub format: Format,
    /// CSV column holding the routing key.
    #[arg(long, value_name = "NAME", default_value = "key")]
    pub key_column: String,
}

#[derive(Debug, Args)]
pub struct PromoteArgs {
    /// Move even if the evidence is insufficient (recorded as forced in the audit log).
    #[arg(long)]
    pub force: bool,
    /// The replay report to judge: `latest`, a run id, or a run directory.
    #[arg(long, value_name = "RUN", default_value = "latest")]
    pub run: String,
    /// Parent directory of run reports.
    #[arg(long, value_name = "DIR", default_value = "reports")]
    pub reports_dir: PathBuf,
}

/// Runs `cutover flags ...`; returns the exit status.
pub fn run(args: FlagsArgs, matches: &ArgMatches, config: Option<&Path>) -> anyhow::Result<u8> {
    let loaded = crate::config::load(config)?;
    let file_name = loaded
        .path
        .as_ref()
        .map_or_else(String::new, |p| p.display().to_string());
    let settings = settings::resolve(
        &args.options,
        matches,
        &loaded.config.flags,
        &file_name,
        |k| std::env::var(k).ok(),
    )?;
    let replay = &loaded.config.replay;
    let action = match args.action {
        Action::Status(status) => {
            let m = matches.subcommand_matches("status").unwrap_or(matches);
            Action::Status(StatusArgs {
                traffic: pick(m, "traffic", status.traffic, replay.traffic.clone()),
                format: pick(m, "format", status.format, replay.format),
                key_column: pick(
                    m,
                    "key_column",
                    status.key_column,
                    replay.key_column.clone(),
                ),
            })
        }
        Action::Promote(promote) => {
            let m = matches.subcommand_matches("promote").unwrap_or(matches);
            Action::Promote(PromoteArgs {
                reports_dir: pick(
                    m,
                    "reports_dir",
                    promote.reports_dir,
                    replay.reports_dir.clone(),
                ),
                ..promote
            })
        }
        other => other,
    };
    let runtime = tokio::runtime::Runtime::new()?;
    let code = runtime.block_on(async {
        match action {
            Action::Status(status) => self::status(&settings, status).await,
            Action::Set { flag, percent } => {
                set(&settings, flag, percent, "set", false, None).await?;
                Ok(0)
            }
            Action::Promote(promote) => self::promote(&settings, promote).await,
            Action::Rollback => {
                set(&settings, Role::Serve, 0, "rollback", false, None).await?;
                Ok(0)
            }
            Action::Import { file } => import(&settings, &file).await,
        }
    });
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    code
}

fn description(role: Role, migration: &str) -> String {
    match role {
        Role::Shadow => {
            format!("cutover {migration}: mirror the side that does not serve and compare")
        }
        Role::Serve => format!("cutover {migration}: serve the candidate's answer"),
    }
}

/// The current percentage of a flag at the source.
async fn current(settings: &FlagSettings, role: Role) -> anyhow::Result<Option<f64>> {
    let flag = settings.names.of(role);
    Ok(match &settings.source {
        Source::File(path) => match super::file_source::read(path) {
            Ok(snapshot) => FlagView::of(&snapshot.features, flag).percent,
            Err(FlagsError::ReadFile { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                Some(0.0)
            }
            Err(e) => return Err(e.into()),
        },
        Source::Server { url, .. } => {
            super::admin::Admin::from_env(settings, url)?
                .current_percent(flag)
                .await?
        }
    })
}

/// Changes one flag at the source and logs it.
async fn set(
    settings: &FlagSettings,
    role: Role,
    percent: u8,
    action: &str,
    forced: bool,
    evidence: Option<EvidenceUsed>,
) -> anyhow::Result<Change> {
    let flag = settings.names.of(role);
    let description = description(role, &settings.migration);
    let change = match &settings.source {
        Source::File(path) => {
            local_write::set_percent(path, flag, percent, &settings.stickiness, &description)?
        }
        Source::Server { url, .. } => {
            super::admin::Admin::from_env(settings, url)?
                .set_percent(flag, percent, &settings.stickiness, &description)
                .await?
        }
    };
    let mut entry = Entry::now(
        &settings.migration,
        flag,
        action,
        settings.source.to_string(),
    );
    entry.from = change.from;
    entry.to = change.to;
    entry.forced = forced;
    entry.evidence = evidence;
    audit_log::append(&settings.audit_log, &entry)?;
    outln!(
        "{flag}: {} -> {}% ({}{}){}",
        change
            .from
            .map_or_else(|| "mixed".into(), |p| format!("{}%", percent_text(p))),
        percent_text(change.to),
        settings.source,
        if change.created { ", created" } else { "" },
        if forced { " FORCED" } else { "" }
    )?;
    Ok(change)
}

async fn import(settings: &FlagSettings, file: &Path) -> anyhow::Result<u8> {
    let Source::Server { url, .. } = &settings.source else {
        anyhow::bail!(
            "`cutover flags import` copies a flag file to an Unleash server, but the flag source is {}; set [flags] source (or UNLEASH_API_URL) to the server's API URL",
            settings.source
        );
    };
    let snapshot = super::file_source::read(file)?;
    let admin = super::admin::Admin::from_env(settings, url)?;
    for feature in &snapshot.features.features {
        let outcome = admin.import_feature(feature).await?;
        let view = FlagView::of(&snapshot.features, &feature.name);
        let what = match outcome {
            super::admin::Imported::Created => format!(
                "created ({}, {})",
                if feature.enabled {
                    "enabled"
                } else {
                    "disabled"
                },
                view.percent.map_or_else(
                    || "several strategies".into(),
                    |p| format!("{}%", percent_text(p))
                )
            ),
            super::admin::Imported::Exists => "exists on the server; left as it is".into(),
        };
        outln!("{}: {what}", feature.name)?;
        if outcome == super::admin::Imported::Created {
            let mut entry = Entry::now(
                &settings.migration,
                &feature.name,
                "import",
                settings.source.to_string(),
            );
            entry.to = view.percent.unwrap_or(0.0);
            audit_log::append(&settings.audit_log, &entry)?;
        }
    }
    Ok(0)
}

async fn promote(settings: &FlagSettings, args: PromoteArgs) -> anyhow::Result<u8> {
    let dir = crate::report::resolve_run(&args.reports_dir, &args.run).map_err(FlagsError::from)?;
    let summary = crate::report::read_summary(&dir).map_err(FlagsError::from)?;
    let summary_path = dir.join(crate::report::SUMMARY_FILE);
    let migration = summary.rollout.as_ref().map(|r| r.migration.as_str());
    if migration != Some(settings.migration.as_str()) {
        anyhow::bail!(
            "{} is not a replay of migration {:?} ({}); run `cutover replay --migration {}` first, or pass --run with a report of it",
            summary_path.display(),
            settings.migration,
            match migration {
                Some(m) => format!("it is of {m:?}"),
                None => "it was made with --no-flags or by an older cutover".into(),
            },
            settings.migration
        );
    }
    let gate = Gate {
        min_records: settings.min_records,
        max_mismatch_bound: settings.max_mismatch_bound,
    };
    let evidence = Evidence::judge(&summary.counts, gate);
    let from = current(settings, Role::Serve).await?.unwrap_or(0.0);
    let Some(step) = next_step(&settings.ladder, from) else {
        outln!(
            "{}: already at {}%, the top of the ladder {:?}; nothing to promote",
            settings.names.serve,
            percent_text(from),
            settings.ladder
        )?;
        return Ok(0);
    };
    let numbers = format!(
        "{}, {} against the candidate (mismatched + errors + timeouts), rate {:.4}%, upper 95% bound {:.4}% (max {:.4}%, min {})",
        counted(
            evidence.records,
            "record with an outcome",
            "records with an outcome"
        ),
        evidence.against,
        evidence.mismatch_rate * 100.0,
        evidence.upper_bound * 100.0,
        evidence.max_mismatch_bound * 100.0,
        counted(evidence.min_records, "record", "records")
    );
    let complete = summary.status.state == "complete";
    let refused = !evidence.passes || !complete;
    if refused && !args.force {
        outln!(
            "promote refused: {} stays at {}%, not {step}%",
            settings.names.serve,
            percent_text(from)
        )?;
        outln!(
            "  evidence: {} ({})",
            summary_path.display(),
            summary.run_id
        )?;
        outln!("  {numbers}")?;
        if !complete {
            outln!(
                "  the run is {}, not complete: replay the whole capture",
                summary.status.state
            )?;
        }
        if let Some(needed) = &evidence.needed {
            outln!("  {needed}")?;
        }
        outln!("  (`cutover flags promote --force` moves anyway and is recorded as forced)")?;
        return Ok(1);
    }
    outln!(
        "evidence: {} ({}): {numbers}",
        summary_path.display(),
        summary.run_id
    )?;
    let used = EvidenceUsed {
        report: dir.display().to_string(),
        run_id: summary.run_id.clone(),
        evidence,
    };
    set(settings, Role::Serve, step, "promote", refused, Some(used)).await?;
    Ok(0)
}

async fn status(settings: &FlagSettings, args: StatusArgs) -> anyhow::Result<u8> {
    let opened = super::open::open(settings).await;
    if let Some(e) = opened.file_error {
        return Err(e.into());
    }
    let eval = &opened.evaluator;
    outln!("migration:  {}", settings.migration)?;
    outln!("source:     {}", settings.source)?;
    if let Some(problem) = &opened.problem {
        outln!("problem:    {}", crate::redact::text(problem))?;
    }
    let snapshot = eval.snapshot();
    match &snapshot {
        Some(s) => outln!(
            "state:      from {}, fetched {}",
            s.origin,
            s.fetched_at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        )?,
        None => outln!("state:      none: the legacy serves every key and nothing is mirrored")?,
    }
    if let Some(health) = &opened.health {
        if let Some(at) = health.last_ok {
            outln!(
                "server:     last answered {}",
                at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            )?;
        }
    }
    let share = traffic_share(settings, &args, eval).await?;
    for role in [Role::Shadow, Role::Serve] {
        let name = settings.names.of(role);
        outln!("{name}  ({role})")?;
        let Some(snapshot) = &snapshot else {
            outln!("  unknown (no state)")?;
            continue;
        };
        let view = FlagView::of(&snapshot.features, name);
        if !view.present {
            outln!("  not defined in the state: off for every key")?;
        } else {
            outln!("  enabled     {}", if view.enabled { "yes" } else { "no" })?;
            if view.strategies.is_empty() {
                outln!("  strategy    none (on for everyone when enabled)")?;
            }
            for s in &view.strategies {
                outln!(
                    "  strategy    {}{}{}{}",
                    s.name,
                    s.percent
                        .map_or_else(String::new, |p| format!(" {}%", percent_text(p))),
                    s.group_id
                        .as_deref()
                        .map_or_else(String::new, |g| format!(" groupId {g}")),
                    if s.constraints > 0 {
                        format!(
                            ", {}",
                            counted(s.constraints as u64, "constraint", "constraints")
                        )
                    } else {
                        String::new()
                    }
                )?;
            }
        }
        outln!(
            "  percentage  {}",
            view.percent.map_or_else(
                || "not one number (see the strategies)".into(),
                |p| format!("{}%", percent_text(p))
            )
        )?;
        let stickiness = view.stickiness().unwrap_or("n/a");
        let ours = settings.stickiness.as_str();
        let by_property = matches!(settings.stickiness, super::Stickiness::Property(_));
        let warn = match stickiness {
            _ if !view.present => String::new(),
            "n/a" => String::new(),
            s if s == ours => String::new(),
            "default" | "" if !by_property => String::new(),
            "default" | "" => format!(
                " — WARNING: with the key in the property {ours}, default stickiness finds no userId or sessionId and picks keys at random; set the flag's stickiness to {ours}"
            ),
            _ => format!(
                " — WARNING: cutover puts the key in {ours}, so a rollout on {stickiness} finds no value and is off for every key"
            ),
        };
        outln!(
            "  stickiness  {stickiness} (cutover's key goes to {}){warn}",
            settings.stickiness.as_str()
        )?;
        let on = match role {
            Role::Shadow => share.shadow_on,
            Role::Serve => share.serve_on,
        };
        outln!(
            "  traffic     on for {on} of {} ({:.2}%) in {}; {} without a key (legacy only)",
            counted(share.with_key, "record with a key", "records with a key"),
            if share.with_key == 0 {
                0.0
            } else {
                on as f64 * 100.0 / share.with_key as f64
            },
            args.traffic.join(", "),
            share.without_key
        )?;
    }
    Ok(0)
}

#[derive(Debug, Default)]
struct Share {
    with_key: u64,
    without_key: u64,
    serve_on: u64,
    shadow_on: u64,
}

/// Streams the capture and counts, per flag, the records whose key it is on for.
async fn traffic_share(
    settings: &FlagSettings,
    args: &StatusArgs,
    eval: &super::Evaluator,
) -> anyhow::Result<Share> {
    let specs: Vec<TrafficSpec> = args
        .traffic
        .iter()
        .map(|t| TrafficSpec::from_arg(t, args.format))
        .collect();
    let sources = crate::traffic::open_sources(&specs)?;
    let options = ReadOptions {
        max_record_bytes: 4 << 20,
        id_column: "id".into(),
        key_column: args.key_column.clone(),
    };
    // Records are counted and dropped at once: the budget never fills.
    let mut reader = crate::traffic::spawn_reader(
        sources,
        options,
        4,
        1024,
        tokio_util::sync::CancellationToken::new(),
        crate::traffic::Budget::new(crate::traffic::budget::default_limit()),
    );
    let mut share = Share::default();
    while let Some(batch) = reader.items.recv().await {
        for item in batch {
            let SourceItem::Record(record) = item else {
                continue;
            };
            match record.key.as_deref() {
                None => share.without_key += 1,
                Some(key) => {
                    share.with_key += 1;
                    share.serve_on += u64::from(eval.is_on(&settings.names.serve, key));
                    share.shadow_on += u64::from(eval.is_on(&settings.names.shadow, key));
                }
            }
        }
    }
    reader.done.await??;
    Ok(share)
}
