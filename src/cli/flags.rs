//! `cutover flags`: status, set, promote, rollback, import.
//!
//! # Contract
//! - `status` shows, per flag: the source, enabled, strategy and
//!   percentage, stickiness, when the state was fetched, and the share of the
//!   traffic's records (by key) the flag is on for, streaming the capture as
//!   `replay` reads it.
//! - `set shadow|serve PCT` changes the local file atomically, or the server
//!   through the Admin API (creating the flag at 0% first).
//! - `promote` moves `serve` one ladder step up only if the latest replay
//!   report of this migration passes the evidence gate
//!   ([`crate::flags::evidence::promotion`], a pure function); otherwise it
//!   prints the numbers and what is needed and exits 1. `--force` moves
//!   anyway and is logged as forced. Whose run a report is comes from its
//!   spec.
//! - `rollback` sets `serve` to 0 at once.
//! - `import FILE` creates the file's flags on the server (an existing flag
//!   is left alone), so a team that outgrows the file keeps its rollout.
//! - Every change is appended to the audit log.
//! - The options `flags` shares with `replay` (`status --traffic`,
//!   `--format`, `--key-column`; `promote --reports-dir`) and the ones it
//!   does not have (the record limit, the id column) go through the one
//!   `[replay]` resolution ([`settings::capture`]), so both commands look at
//!   the same capture and reports. Output shows URLs without userinfo, and a
//!   problem quoting a server through [`crate::util::redact::text`].
//! - Exit status: 0 done; 1 promotion refused (the evidence is
//!   insufficient, like `diff` finding differences); 2 could not run (bad
//!   config or flag file, a server that cannot be reached or refuses the
//!   token for an admin call, a report that cannot be read), with a message
//!   naming the file, flag or variable.

use super::args::{Action, FlagsArgs, PromoteArgs};
use super::settings::{self, given, Capture, CaptureFlags};
use super::Exit;
use crate::flags::admin::{Admin, Imported};
use crate::flags::audit_log::{self, Entry, EvidenceUsed};
use crate::flags::evidence::{promotion, Evidence, Gate, Promotion};
use crate::flags::local_write::{self, Change};
use crate::flags::state::{percent_text, FlagView};
use crate::flags::{file_source, Evaluator, FlagSettings, FlagsError, Role, Source, Stickiness};
use crate::model::RunState;
use crate::traffic::SourceItem;
use crate::util::text::counted;
use anyhow::Context;
use clap::ArgMatches;
use std::path::Path;

/// `println!` for command output that returns write errors instead of
/// panicking; a closed pipe is not an error (see [`super::text::pager`]).
macro_rules! outln {
    ($($arg:tt)*) => {
        super::print(&format!("{}\n", format_args!($($arg)*)))
    };
}

/// Runs `cutover flags ...`.
pub fn run(args: FlagsArgs, matches: &ArgMatches, config: Option<&Path>) -> anyhow::Result<Exit> {
    let loaded = super::config::load(config)?;
    let settings = settings::flag_settings(
        &args.options,
        matches,
        &loaded.config.flags,
        &loaded.file_name(),
        |k| std::env::var(k).ok(),
    )?;
    let replay = &loaded.config.replay;
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    let exit = runtime.block_on(async {
        match args.action {
            Action::Status(status) => {
                let m = matches.subcommand_matches("status").unwrap_or(matches);
                let capture = settings::capture(
                    CaptureFlags {
                        traffic: given(m, "traffic", status.traffic),
                        format: given(m, "format", status.format),
                        key_column: given(m, "key_column", status.key_column),
                        ..CaptureFlags::default()
                    },
                    replay,
                );
                self::status(&settings, &capture).await
            }
            Action::Set { flag, percent } => {
                set(&settings, flag, percent, "set", false, None).await?;
                Ok(Exit::Clean)
            }
            Action::Promote(promote) => {
                let m = matches.subcommand_matches("promote").unwrap_or(matches);
                let reports_dir = settings::capture(
                    CaptureFlags {
                        reports_dir: given(m, "reports_dir", promote.reports_dir.clone()),
                        ..CaptureFlags::default()
                    },
                    replay,
                )
                .reports_dir;
                self::promote(&settings, &promote, &reports_dir).await
            }
            Action::Rollback => {
                set(&settings, Role::Serve, 0, "rollback", false, None).await?;
                Ok(Exit::Clean)
            }
            Action::Import { file } => import(&settings, &file).await,
        }
    });
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    exit
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
        Source::File(path) => match file_source::read(path) {
            Ok(snapshot) => FlagView::of(&snapshot.features, flag).percent,
            Err(FlagsError::ReadFile { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                Some(0.0)
            }
            Err(e) => return Err(e.into()),
        },
        Source::Server { url, .. } => {
            Admin::from_env(settings, url)?
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
            Admin::from_env(settings, url)?
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

async fn import(settings: &FlagSettings, file: &Path) -> anyhow::Result<Exit> {
    let Source::Server { url, .. } = &settings.source else {
        anyhow::bail!(
            "`cutover flags import` copies a flag file to an Unleash server, but the flag source is {}; set [flags] source (or UNLEASH_API_URL) to the server's API URL",
            settings.source
        );
    };
    let snapshot = file_source::read(file)?;
    let admin = Admin::from_env(settings, url)?;
    for feature in &snapshot.features.features {
        let outcome = admin.import_feature(feature).await?;
        let view = FlagView::of(&snapshot.features, &feature.name);
        let what = match outcome {
            Imported::Created => format!(
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
            Imported::Exists => "exists on the server; left as it is".into(),
        };
        outln!("{}: {what}", feature.name)?;
        if outcome == Imported::Created {
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
    Ok(Exit::Clean)
}

async fn promote(
    settings: &FlagSettings,
    args: &PromoteArgs,
    reports_dir: &Path,
) -> anyhow::Result<Exit> {
    let dir = crate::report::resolve_run(reports_dir, &args.run)?;
    let summary = crate::report::read_summary(&dir)?;
    let summary_path = dir.join(crate::report::SUMMARY_FILE);
    // Whose run it is comes from how it was made (its spec): the flags it
    // evaluated.
    let migration = summary.spec.flags.as_ref().map(|f| f.migration.as_str());
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
    let complete = summary.status.state == RunState::Complete;
    match promotion(&evidence, complete, &settings.ladder, from, args.force) {
        Promotion::AtTop { current } => {
            outln!(
                "{}: already at {}%, the top of the ladder {:?}; nothing to promote",
                settings.names.serve,
                percent_text(current),
                settings.ladder
            )?;
            Ok(Exit::Clean)
        }
        Promotion::Refused {
            from,
            to,
            incomplete,
        } => {
            outln!(
                "promote refused: {} stays at {}%, not {to}%",
                settings.names.serve,
                percent_text(from)
            )?;
            outln!(
                "  evidence: {} ({})",
                summary_path.display(),
                summary.run_id
            )?;
            outln!("  {numbers}")?;
            if incomplete {
                outln!(
                    "  the run is {}, not complete: replay the whole capture",
                    summary.status.state
                )?;
            }
            if let Some(needed) = &evidence.needed {
                outln!("  {needed}")?;
            }
            outln!("  (`cutover flags promote --force` moves anyway and is recorded as forced)")?;
            Ok(Exit::Found)
        }
        Promotion::Move { to, forced, .. } => {
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
            set(settings, Role::Serve, to, "promote", forced, Some(used)).await?;
            Ok(Exit::Clean)
        }
    }
}

async fn status(settings: &FlagSettings, capture: &Capture) -> anyhow::Result<Exit> {
    let opened = crate::flags::open::open(settings).await;
    if let Some(e) = opened.file_error {
        return Err(e.into());
    }
    let eval = &opened.evaluator;
    outln!("migration:  {}", settings.migration)?;
    outln!("source:     {}", settings.source)?;
    if let Some(problem) = &opened.problem {
        outln!("problem:    {}", crate::util::redact::text(problem))?;
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
    let share = traffic_share(settings, capture, eval).await?;
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
        let by_property = matches!(settings.stickiness, Stickiness::Property(_));
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
            capture
                .traffic
                .iter()
                .map(|t| t.display_name())
                .collect::<Vec<_>>()
                .join(", "),
            share.without_key
        )?;
    }
    Ok(Exit::Clean)
}

#[derive(Debug, Default)]
struct Share {
    with_key: u64,
    without_key: u64,
    serve_on: u64,
    shadow_on: u64,
}

/// Streams the capture, read as `replay` reads it (the same record limit
/// and columns: what `replay` rejects is not counted here either), and
/// counts, per flag, the records whose key it is on for.
async fn traffic_share(
    settings: &FlagSettings,
    capture: &Capture,
    eval: &Evaluator,
) -> anyhow::Result<Share> {
    let sources = crate::traffic::open_sources(&capture.traffic)?;
    // Records are counted and dropped at once: the budget never fills.
    let mut reader = crate::traffic::spawn_reader(
        sources,
        capture.read.clone(),
        4,
        1024,
        tokio_util::sync::CancellationToken::new(),
        crate::model::Budget::new(crate::model::budget::default_limit()),
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
