//! The command line as it is given (ripgrep's "low-level arguments"): every
//! clap struct of every command, and the defaults `--help` shows.
//!
//! # Contract
//! - Every default is declared on its flag, so `--help` shows it; the ones
//!   another command shares (the capture, the reports directory, the record
//!   limit, the columns) are constants here, used by both.
//! - Nothing here is resolved: what a flag means together with
//!   `cutover.toml` is [`super::settings`]' work, which asks clap's matches
//!   whether a flag was given explicitly.
//! - The enums of the library a flag takes ([`Side`], [`Format`],
//!   [`Role`]) get their clap names here, so only `cli/` knows clap.

use super::text::style::ColorMode;
use crate::compare::GroupBy;
use crate::flags::{settings, Role};
use crate::model::Side;
use crate::traffic::Format;
use clap::builder::PossibleValue;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::time::Duration;

/// The bundled capture of the worked migration.
pub const DEFAULT_TRAFFIC: &str = "fixtures/normalize/capture.jsonl";
/// The wrapped legacy service of the worked migration.
pub const DEFAULT_LEGACY: &str = "worker:python3 legacy/worker.py";
/// The new implementation of the worked migration.
pub const DEFAULT_CANDIDATE: &str = "builtin:normalize";
/// Longest capture line and response accepted, in bytes.
pub const DEFAULT_MAX_RECORD_BYTES: usize = 4 << 20;
/// CSV column holding the record id.
pub const DEFAULT_ID_COLUMN: &str = "id";
/// CSV column holding the routing key.
pub const DEFAULT_KEY_COLUMN: &str = "key";
/// Parent directory of run reports.
pub const DEFAULT_REPORTS_DIR: &str = "reports";

fn positive(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}

fn positive_f64(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(n) if n.is_finite() && n > 0.0 => Ok(n),
        Ok(_) => Err("must be a number above 0".into()),
        Err(e) => Err(e.to_string()),
    }
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Default `--concurrency` of `recheck`, and of a replay with a side that is
/// a program per call or an HTTP service: 64 records in flight per core.
pub fn default_concurrency() -> usize {
    64 * cores()
}

/// Default `--concurrency` of a replay whose sides both queue calls here
/// ([`crate::sides::SideSpec::queues_here`]: `builtin:`, `worker:`, `pipe:`,
/// `recorded`): 512 records in flight per core. Deeper queues let each
/// worker read and answer whole 64 KiB chunks of requests: a worker replay
/// on 2 cores took 10% less time at 512 than at 128, and 3% less again at
/// 1,024, where builtin replays took the same (README "Performance"). Peak
/// memory grew 2.4 MiB from 512 to 1,024; 2,048 gained 1% more and took 6
/// MiB more.
pub fn default_local_concurrency() -> usize {
    512 * cores()
}

/// `--concurrency`'s help, with this machine's defaults.
fn concurrency_help() -> String {
    format!(
        "Records in flight at most [default: {} (512 per core) when both sides are builtin:, \
         worker:, pipe: or recorded; {} (64 per core) when a side is exec:, http(s):// or \
         upstream:]",
        default_local_concurrency(),
        default_concurrency()
    )
}

/// Default `--max-inflight-bytes`: 1/32 of memory, within 64 MiB..512 MiB.
pub fn default_inflight_bytes() -> u64 {
    crate::model::budget::default_limit()
}

fn positive_bytes(text: &str) -> Result<u64, String> {
    match text.parse::<u64>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(format!("{e} (write a number of bytes, e.g. 268435456)")),
    }
}

/// Default `--workers`: one worker process per core.
pub fn default_workers() -> usize {
    cores()
}

#[derive(Debug, Parser)]
#[command(
    name = "cutover",
    version,
    about = "Shadow-migration comparison harness: replay traffic through the legacy and the new implementation, diff the answers, report.",
    after_help = "Exit status: 0 every record matched, 1 differences/errors/timeouts/rejected lines found, 2 the run could not happen, 130 interrupted by SIGINT (Ctrl-C), 143 by SIGTERM. A replay's first SIGINT or SIGTERM stops reading, finishes the records in flight and writes a consistent partial report; a second signal quits at once."
)]
pub struct Cli {
    /// Config file with the same settings as the flags (flags win) [default: ./cutover.toml if it exists]
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// More log output on stderr (-v info, -vv debug incl. worker stderr)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Replay captured traffic through both implementations and report the differences.
    #[command(
        after_help = "Exit status: 0 every record matched, 1 differences/errors/timeouts/rejected lines found, 2 the run could not happen, 130 interrupted by SIGINT (Ctrl-C), 143 by SIGTERM.\n\nThe first SIGINT or SIGTERM stops reading, lets the records in flight finish and writes a consistent partial report (state `interrupted`); a second signal of either kind quits at once. exec: targets run at most --workers processes at once."
    )]
    Replay(Box<ReplayArgs>),
    /// Take part in the cluster runs of a NATS JetStream server: pull their
    /// chunks, run them through both sides, publish the results (see
    /// `replay --cluster`). Runs until SIGINT or SIGTERM.
    #[command(
        after_help = "Both sides' command lines must work on this machine, in the directory the run names (its spec's cwd): each is called once when the replayer joins a run.\n\nExit status: 2 it could not work (NATS unreachable at start, a side that cannot work here), 130 stopped by SIGINT, 143 by SIGTERM (chunks in hand are not acked: they go to another replayer)."
    )]
    Replayer(Box<ReplayerArgs>),
    /// List the builtin targets.
    Builtins,
    /// Convert a HAR or GoReplay (.gor) capture to cutover's JSON Lines of
    /// HTTP exchanges (replay also reads .har and .gor files directly).
    #[command(
        after_help = "Exit status: 0 every entry converted, 1 some entries rejected (each said on stderr with its position and reason), 2 the import could not happen."
    )]
    Import(Box<ImportArgs>),
    /// Cut over with Unleash flags: status, set, promote on evidence, rollback.
    Flags(Box<FlagsArgs>),
    /// Review a run: summary, groups and rule audit; `show`, `group` and
    /// `diff` for records, groups and two runs.
    Report(Box<ReportArgs>),
    /// Shrink a non-matching record's input while both sides still fail the
    /// same way (delta debugging on the JSON), and print it with its diff.
    Minimize(Box<MinimizeArgs>),
    /// Minimize a record and save it under fixtures/regressions/ as a
    /// regression case the test suite replays.
    Pin(Box<PinArgs>),
    /// Re-run every non-matching record K times; label each deterministic or flaky.
    Recheck(Box<RecheckArgs>),
    /// Behaviour contracts: `infer` drafts one from what a run's legacy answered.
    #[command(subcommand)]
    Contract(ContractCommand),
    /// Serve live traffic: the flags pick who answers each request, the
    /// other side is mirrored off the response path and compared into a
    /// live report, with metrics and an automatic rollback.
    #[command(
        after_help = "Function mode (sides of replay's kinds): POST / with a JSON body answers the serving side's output (200), or its error as {\"error\": {\"type\", \"message\"}} (422 the implementation's error, 502 the side could not be called, 504 timeout); 400 a body that is not JSON, 413 a body over --max-body.\n\nListening on anything but a loopback address (127.0.0.0/8, ::1) needs --public (or `public = true` under [serve]).\n\nMetrics (OpenMetrics), /healthz and /readyz are on --admin-listen.\n\nThe first SIGINT or SIGTERM closes the listener, answers the requests in flight, lets mirrors finish for --shutdown-grace, writes the report; exit status 130 (SIGINT) or 143 (SIGTERM). A second signal quits at once."
    )]
    Serve(Box<ServeArgs>),
}

#[derive(Debug, Subcommand)]
pub enum ContractCommand {
    /// Draft an output schema (types, required keys, enums where few values
    /// were seen) and a `[contract]` section with the error types seen, from
    /// what the legacy answered in RUN (its legacy-shape.json): a starting
    /// point to edit.
    #[command(
        after_help = "Writes DIR/output.schema.json and DIR/contract.toml (a draft [contract] section naming it). Exit status: 0 written, 2 the run cannot be read or the files cannot be written."
    )]
    Infer(Box<InferArgs>),
}

#[derive(Debug, Args)]
pub struct InferArgs {
    /// The run: `latest`, a run id under --reports-dir, or a run directory.
    #[arg(value_name = "RUN", default_value = "latest")]
    pub run: String,
    /// Where to write the draft [default: RUN/contract-draft]
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub runs: RunsArgs,
}

/// Default `--key-header`.
pub const DEFAULT_KEY_HEADER: &str = "X-Cutover-Key";

fn socket_addr(text: &str) -> Result<std::net::SocketAddr, String> {
    text.parse()
        .map_err(|e| format!("{e}; write an IP address and a port, e.g. 127.0.0.1:8080"))
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address the service listens on.
    #[arg(long, value_name = "ADDR", default_value = crate::serve::DEFAULT_LISTEN, value_parser = socket_addr)]
    pub listen: std::net::SocketAddr,
    /// Address of /metrics, /healthz and /readyz.
    #[arg(long, value_name = "ADDR", default_value = crate::serve::DEFAULT_ADMIN_LISTEN, value_parser = socket_addr)]
    pub admin_listen: std::net::SocketAddr,
    /// Allow --listen / --admin-listen on an address other than loopback.
    #[arg(long)]
    pub public: bool,
    /// Request header holding the key (user or session id).
    #[arg(long, value_name = "NAME", default_value = DEFAULT_KEY_HEADER)]
    pub key_header: String,
    /// Cookie holding the key when the header is missing [default: none]
    #[arg(long, value_name = "NAME")]
    pub key_cookie: Option<String>,
    /// Query parameter holding the key when header and cookie are missing [default: none]
    #[arg(long, value_name = "NAME")]
    pub key_query: Option<String>,
    /// Top-level field of the JSON body holding the key, last resort [default: none]
    #[arg(long, value_name = "NAME")]
    pub key_field: Option<String>,
    /// The legacy side: builtin:NAME, worker:COMMAND, exec:COMMAND or an
    /// http(s):// URL (function mode), or upstream:http://HOST:PORT (proxy
    /// mode: both sides upstream:).
    #[arg(long, value_name = "TARGET", default_value = DEFAULT_LEGACY)]
    pub legacy: String,
    /// The new side, same forms as --legacy.
    #[arg(long, value_name = "TARGET", default_value = DEFAULT_CANDIDATE)]
    pub candidate: String,
    /// Directory of the live report [default: REPORTS_DIR/<run-id>]
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Parent directory of run reports.
    #[arg(long, value_name = "DIR", default_value = DEFAULT_REPORTS_DIR)]
    pub reports_dir: PathBuf,
    /// Append each request to FILE as a capture record (`input`, what was
    /// served as `recorded`; in proxy mode an HTTP exchange), which
    /// `cutover replay` replays [default: none]
    #[arg(long, value_name = "FILE")]
    pub capture: Option<PathBuf>,
    /// Share of requests captured, 0 to 1.
    #[arg(long, value_name = "SHARE", default_value_t = 1.0)]
    pub capture_sample: f64,
    /// Size past which the capture moves to FILE.1 and starts anew.
    #[arg(long, value_name = "BYTES", default_value_t = 1 << 30)]
    pub capture_max_bytes: u64,
    /// JSON field (any depth) written as "<redacted>" in the capture; repeatable [default: none]
    #[arg(long, value_name = "NAME")]
    pub redact_field: Vec<String>,
    /// Proxy mode: query parameter written as "<redacted>" in the capture
    /// (besides the --redact-headers and set-cookie); repeatable [default: none]
    #[arg(long, value_name = "NAME")]
    pub redact_query: Vec<String>,
    /// Processes per worker: side (one per core by default).
    #[arg(long, value_name = "N", default_value_t = default_workers(), value_parser = positive)]
    pub workers: usize,
    /// Per-call timeout of the serving side (worker, exec, http).
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
    /// How long a new worker process may take to give its first answer.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = humantime::parse_duration)]
    pub startup_timeout: Duration,
    /// Times a call is re-sent after the worker serving it died.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub retries: u32,
    /// Longest request body accepted, in bytes (413 beyond).
    #[arg(long, value_name = "BYTES", default_value_t = 4 << 20, value_parser = positive)]
    pub max_body: usize,
    /// Longest request body mirrored, in bytes (larger: served, not mirrored, counted).
    #[arg(long, value_name = "BYTES", default_value_t = 1 << 20)]
    pub mirror_max_body: usize,
    /// Mirrored calls in flight at most; beyond, mirrors are shed and counted.
    #[arg(long, value_name = "N", default_value_t = 64, value_parser = positive)]
    pub mirrors: usize,
    /// Mirrors on threads of their own, this much lower in CPU priority
    /// than serving (a nice increment, 1-19): on saturated cores serving
    /// goes first and mirrors are shed. 0: mirrors share serving's threads
    /// (less latency at light load).
    #[arg(long, value_name = "N", default_value_t = crate::serve::DEFAULT_MIRROR_NICE, value_parser = clap::value_parser!(u8).range(0..=19))]
    pub mirror_nice: u8,
    /// Comparisons queued for the live report at most; beyond, dropped and counted.
    #[arg(long, value_name = "N", default_value_t = 1024, value_parser = positive)]
    pub mirror_queue: usize,
    /// Bound on one mirrored call (no retries).
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = humantime::parse_duration)]
    pub mirror_timeout: Duration,
    /// How often the live report is written.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = humantime::parse_duration)]
    pub flush_interval: Duration,
    /// How long mirrors in flight may finish after a signal.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = humantime::parse_duration)]
    pub shutdown_grace: Duration,
    /// Unified diffs written to diffs.txt at most.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub max_diffs: usize,
    /// Do not write index.html.
    #[arg(long)]
    pub no_html: bool,
    /// Never roll back automatically.
    #[arg(long)]
    pub no_rollback: bool,
    /// Compared mirrors needed in the window before a rollback can happen.
    #[arg(long, value_name = "N", default_value_t = 200)]
    pub min_samples: u64,
    /// Length of the rollback's sliding window.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = humantime::parse_duration)]
    pub rollback_window: Duration,
    /// Roll back once the Wilson 95% upper bound on the share of mirrors
    /// against the candidate exceeds this [default: [flags] max_mismatch_bound, else 0.005]
    #[arg(long, value_name = "RATE")]
    pub rollback_bound: Option<f64>,
    /// After a rollback, no new rollback (and no release of the override) for this long.
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = humantime::parse_duration)]
    pub rollback_cooldown: Duration,
    /// Do not evaluate flags: the legacy serves every key, nothing is mirrored.
    #[arg(long)]
    pub no_flags: bool,
    /// Proxy mode: also mirror requests of this route (`METHOD PATTERN`,
    /// `*` within one path segment, e.g. "POST /normalize"); repeatable.
    /// Only GET, HEAD and OPTIONS are mirrored otherwise [default: none]
    #[arg(long, value_name = "ROUTE")]
    pub mirror_route: Vec<String>,
    /// Learn the legacy's noise live: each mirrored request is also sent to
    /// the legacy once more (as a shadow), and paths where its two answers
    /// differ are noise, as replay's --noise-probe treats them.
    #[arg(long)]
    pub noise_probe: bool,
    /// Function mode: a JSON input each side must answer (an output or its
    /// own error) for /readyz to say ready [default: none: each side's own
    /// readiness check]
    #[arg(long, value_name = "JSON")]
    pub ready_input: Option<String>,
    /// Proxy mode: the header (value 1) every mirrored request carries.
    #[arg(long, value_name = "NAME", default_value = "X-Cutover-Shadow")]
    pub shadow_header: String,
    #[command(flatten)]
    pub upstream: UpstreamArgs,
    #[command(flatten)]
    pub flags: FlagOptions,
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// Capture files (JSON Lines or CSV); `-` reads stdin.
    #[arg(value_name = "TRAFFIC", default_value = DEFAULT_TRAFFIC)]
    pub traffic: Vec<String>,
    /// Capture format; auto reads `.csv` as CSV and everything else as JSON Lines.
    #[arg(long, value_enum, default_value_t = Format::Auto)]
    pub format: Format,
    /// The legacy side: builtin:NAME, worker:COMMAND, pipe:COMMAND, exec:COMMAND, an
    /// http(s):// URL (POST the input), upstream:http(s)://HOST:PORT (an HTTP
    /// service sent each exchange's whole request), or recorded (the
    /// responses the capture recorded).
    #[arg(long, value_name = "TARGET", default_value = DEFAULT_LEGACY)]
    pub legacy: String,
    /// The new side, same forms as --legacy.
    #[arg(long, value_name = "TARGET", default_value = DEFAULT_CANDIDATE)]
    pub candidate: String,
    #[arg(long, value_name = "N", value_parser = positive, help = concurrency_help())]
    pub concurrency: Option<usize>,
    /// Start at most N records per second (a token bucket of one token),
    /// within --concurrency; the summary reports the rate achieved
    /// [default: as fast as --concurrency allows]
    #[arg(long, value_name = "N", value_parser = positive_f64, conflicts_with = "speed")]
    pub rate: Option<f64>,
    /// Replay at the captured timing (each record's `timestamp`) sped up X
    /// times (0.5 is half speed), within --concurrency [default: off]
    #[arg(long, value_name = "X", value_parser = positive_f64)]
    pub speed: Option<f64>,
    /// Processes per worker: target, and exec: processes run at once (one per core by default).
    #[arg(long, value_name = "N", default_value_t = default_workers(), value_parser = positive)]
    pub workers: usize,
    /// Per-call timeout for worker, exec and http targets (e.g. 500ms, 10s, 1m).
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
    /// How long a new worker process may take to give its first answer: calls
    /// sent to it wait until then if that is later than --timeout.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = humantime::parse_duration)]
    pub startup_timeout: Duration,
    /// Times a call is re-sent after the worker serving it died.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub retries: u32,
    /// Longest capture line and longest response accepted, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_RECORD_BYTES)]
    pub max_record_bytes: usize,
    /// Bytes of memory the records in flight may hold, about: each record is
    /// counted from when it is read until its report is written, as its line
    /// times the memory per byte that records have shown (8 until one of
    /// 64 KiB or more is answered), then as its input and answers really
    /// take. When full, reading waits; a record bigger than this runs alone.
    /// Default: 1/32 of memory (physical, or the cgroup limit when lower),
    /// within 64 MiB..512 MiB; 256 MiB when memory cannot be read.
    #[arg(long, value_name = "BYTES", default_value_t = default_inflight_bytes(), value_parser = positive_bytes)]
    pub max_inflight_bytes: u64,
    /// Unified diffs written to diffs.txt at most (mismatches.csv always has every record).
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub max_diffs: usize,
    /// CSV column holding the record id.
    #[arg(long, value_name = "NAME", default_value = DEFAULT_ID_COLUMN)]
    pub id_column: String,
    /// CSV column holding the routing key.
    #[arg(long, value_name = "NAME", default_value = DEFAULT_KEY_COLUMN)]
    pub key_column: String,
    /// Parent directory of run reports; each run writes REPORTS_DIR/<run-id>/.
    #[arg(long, value_name = "DIR", default_value = DEFAULT_REPORTS_DIR)]
    pub reports_dir: PathBuf,
    /// Write this run's report into exactly this directory instead [default: REPORTS_DIR/<run-id>]
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Do not compare the value at this JSON Pointer (`*` = any index or key);
    /// repeatable. Audited like an `ignore` rule from cutover.toml.
    #[arg(long = "ignore", value_name = "POINTER")]
    pub ignore: Vec<String>,
    /// Call the legacy twice per record and treat paths where its two answers
    /// differ as noise for that record (outcome `noisy`; rates in summary.json)
    /// [default: off, or `noise_probe` in cutover.toml]
    #[arg(long, overrides_with = "no_noise_probe")]
    pub noise_probe: bool,
    /// Do not probe for noise, even when cutover.toml turns it on.
    #[arg(long, overrides_with = "noise_probe")]
    pub no_noise_probe: bool,
    /// What splits mismatch groups besides what differs: `signature`
    /// (content alone), `key` (the record's routing key), `input:/POINTER`
    /// (the value at that JSON Pointer into the input) or `output:/POINTER`
    /// (that value in the legacy's output, else the candidate's). A group is
    /// then that value and the content signature.
    #[arg(long, value_name = "HOW", default_value = "signature", value_parser = clap::value_parser!(GroupBy))]
    pub group_by: GroupBy,
    /// Never draw the progress bar (it is only drawn when stderr is a terminal anyway).
    #[arg(long)]
    pub no_progress: bool,
    #[command(flatten)]
    pub flags: FlagOptions,
    /// Do not evaluate the rollout's flags (no `rollout` section in
    /// summary.json). Without a configured flag source and without the
    /// default flags.json, there is nothing to evaluate and nothing is said.
    #[arg(long)]
    pub no_flags: bool,
    /// Sides whose http(s):// target follows redirects, and only within the
    /// URL's origin (same scheme, host and port); a redirect elsewhere is not
    /// followed. Without it a 3xx is the side's answer. Repeatable or
    /// comma-separated [default: none]
    #[arg(long, value_name = "SIDE", value_enum, value_delimiter = ',')]
    pub follow_redirects: Vec<Side>,
    #[command(flatten)]
    pub upstream: UpstreamArgs,
    /// Also write the run as JUnit XML (one test case per mismatch group) to FILE.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Do not write index.html, the self-contained HTML report every run
    /// writes by default.
    #[arg(long)]
    pub no_html: bool,
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

/// How `replay --cluster` shares the run out (NATS JetStream; see
/// `cutover replayer`).
#[derive(Debug, Clone, clap::Args)]
pub struct ClusterArgs {
    /// Share the run out over the `cutover replayer` processes of the NATS
    /// JetStream server at URL (nats://HOST:PORT) and merge their results
    /// into this run's report, as a local replay would write it.
    #[arg(long, value_name = "URL")]
    pub cluster: Option<String>,
    /// With --cluster: capture lines per chunk at most (a chunk is also kept
    /// under 512 KiB).
    #[arg(long, value_name = "N", default_value_t = 100, value_parser = positive, requires = "cluster")]
    pub chunk_records: usize,
    /// With --cluster: how long a replayer may hold a chunk without a sign
    /// of life (it sends in-progress acks every third of it) before the
    /// chunk goes to another replayer.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = humantime::parse_duration, requires = "cluster")]
    pub ack_wait: Duration,
    /// With --cluster: deliveries of one chunk at most; a chunk that fails
    /// that often makes the run `incomplete` (exit 1).
    #[arg(long, value_name = "N", default_value_t = 5, value_parser = positive, requires = "cluster")]
    pub max_deliver: usize,
    /// With --cluster: how long NATS may be unreachable before the run stops
    /// with what came back (exit 2).
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = humantime::parse_duration, requires = "cluster")]
    pub cluster_wait: Duration,
}

/// `cutover replayer`.
#[derive(Debug, Args)]
pub struct ReplayerArgs {
    /// The NATS JetStream server the coordinators publish to (nats://HOST:PORT).
    #[arg(long, value_name = "URL")]
    pub cluster: String,
    /// Chunks of one run this process runs at once.
    #[arg(long, value_name = "N", default_value_t = 2, value_parser = positive)]
    pub chunks_in_flight: usize,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The HAR (.har) or GoReplay (.gor) file.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Where the JSON Lines capture goes (`-`: stdout).
    #[arg(long, value_name = "PATH")]
    pub out: PathBuf,
    /// The file's format; auto tells it by the extension.
    #[arg(long, value_enum, default_value_t = Format::Auto)]
    pub format: Format,
    /// Headers whose values are replaced with <redacted>, in requests and
    /// responses (comma-separated; an empty value redacts none).
    #[arg(
        long,
        value_name = "LIST",
        value_delimiter = ',',
        default_value = "authorization,cookie"
    )]
    pub redact_headers: Vec<String>,
    /// Longest entry accepted, in bytes (.gor payloads).
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_RECORD_BYTES)]
    pub max_record_bytes: usize,
}

/// The options of `upstream:` sides, shared by `replay` and `serve`.
#[derive(Debug, Clone, Args)]
pub struct UpstreamArgs {
    /// Requests in flight (and pooled keep-alive connections) per
    /// upstream: side at most; each side has its own pool.
    #[arg(long, value_name = "N", default_value_t = crate::sides::upstream::DEFAULT_MAX_CONNECTIONS, value_parser = positive)]
    pub max_connections: usize,
    /// Headers of HTTP exchanges that belong to one connection: never
    /// forwarded to an upstream: side, never compared (comma-separated,
    /// case-insensitive; a trailing `*` matches a prefix).
    #[arg(long, value_name = "LIST", value_delimiter = ',', default_value = DEFAULT_HOP_BY_HOP)]
    pub hop_by_hop_headers: Vec<String>,
    /// Headers of HTTP exchanges that differ on every answer: forwarded,
    /// never compared (comma-separated, as --hop-by-hop-headers; give an
    /// empty value to compare them all).
    #[arg(long, value_name = "LIST", value_delimiter = ',', default_value = DEFAULT_VOLATILE)]
    pub volatile_headers: Vec<String>,
    /// Request headers of HTTP exchanges sent as recorded but written as
    /// <redacted> wherever the report shows the request (comma-separated;
    /// an empty value redacts none). Re-running such a record (minimize,
    /// recheck) sends the redacted value.
    #[arg(long, value_name = "LIST", value_delimiter = ',', default_value = DEFAULT_REDACTED)]
    pub redact_headers: Vec<String>,
    #[command(flatten)]
    pub legacy_rewrite: LegacyRewrite,
    #[command(flatten)]
    pub candidate_rewrite: CandidateRewrite,
}

/// Default `--hop-by-hop-headers`.
pub const DEFAULT_HOP_BY_HOP: &str =
    "connection,keep-alive,proxy-*,te,trailer,transfer-encoding,upgrade,content-length,http2-settings";
/// Default `--redact-headers` of `replay`.
pub const DEFAULT_REDACTED: &str = "authorization,cookie,proxy-authorization";
/// Default `--volatile-headers`.
pub const DEFAULT_VOLATILE: &str = "date,server,age,via";

/// How an upstream: side rewrites each request, as one side's flags give it.
#[derive(Debug, Clone, Default)]
pub struct Rewriting {
    pub host: Option<String>,
    pub headers: Vec<String>,
    pub secret_headers: Vec<String>,
    pub path_prefix: Option<String>,
    pub ca_file: Option<std::path::PathBuf>,
}

macro_rules! rewrite_args {
    ($name:ident, $side:literal, $host:literal, $header:literal, $secret:literal, $prefix:literal, $ca:literal) => {
        #[derive(Debug, Clone, Args)]
        pub struct $name {
            #[doc = concat!("The `host` header sent to the ", $side, " upstream: side instead of the recorded one [default: as recorded]")]
            #[arg(long = $host, id = $host, value_name = "HOST")]
            pub host: Option<String>,
            #[doc = concat!("A header set on every request to the ", $side, " upstream: side, replacing the recorded ones of that name: 'NAME: VALUE' (repeatable)")]
            #[arg(long = $header, id = $header, value_name = "NAME: VALUE")]
            pub headers: Vec<String>,
            #[doc = concat!("A header set on every request to the ", $side, " upstream: side from an environment variable, NAME=VARIABLE (repeatable); the value is never written or printed")]
            #[arg(long = $secret, id = $secret, value_name = "NAME=VARIABLE")]
            pub secret_headers: Vec<String>,
            #[doc = concat!("Put before every request path sent to the ", $side, " upstream: side (e.g. /v2) [default: none]")]
            #[arg(long = $prefix, id = $prefix, value_name = "PATH")]
            pub path_prefix: Option<String>,
            #[doc = concat!("PEM file of CA certificates the ", $side, " upstream:https:// side trusts besides the platform's roots (a private CA) [default: the platform's roots only]")]
            #[arg(long = $ca, id = $ca, value_name = "PATH")]
            pub ca_file: Option<std::path::PathBuf>,
        }

        impl $name {
            pub fn rewriting(&self) -> Rewriting {
                Rewriting {
                    host: self.host.clone(),
                    headers: self.headers.clone(),
                    secret_headers: self.secret_headers.clone(),
                    path_prefix: self.path_prefix.clone(),
                    ca_file: self.ca_file.clone(),
                }
            }
        }
    };
}

rewrite_args!(
    LegacyRewrite,
    "legacy",
    "legacy-host",
    "legacy-header",
    "legacy-secret-header",
    "legacy-path-prefix",
    "legacy-ca-file"
);
rewrite_args!(
    CandidateRewrite,
    "candidate",
    "candidate-host",
    "candidate-header",
    "candidate-secret-header",
    "candidate-path-prefix",
    "candidate-ca-file"
);

/// Options shared by `cutover replay` and `cutover flags`.
#[derive(Debug, Clone, clap::Args)]
pub struct FlagOptions {
    /// Migration whose flags are used: `cutover.<NAME>.shadow` and `cutover.<NAME>.serve`.
    #[arg(long, value_name = "NAME", default_value = settings::DEFAULT_MIGRATION, global = true)]
    pub migration: String,
    /// Flag state: a local file in Unleash's client-features shape, or the
    /// Unleash API URL (http://host:4242/api; token from UNLEASH_CLIENT_SECRET).
    /// Without this option and without [flags] source, UNLEASH_API_URL is used
    /// when set.
    #[arg(long, value_name = "PATH|URL", default_value = settings::DEFAULT_SOURCE, global = true)]
    pub flags_source: String,
    /// Unleash context field that carries the request key: userId, sessionId or a custom property.
    #[arg(long, value_name = "FIELD", default_value = "userId", global = true)]
    pub stickiness: String,
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
    /// Capture whose keys are checked against the flags (read as `replay`
    /// reads it: `[replay]`'s record limit and columns apply).
    #[arg(long, value_name = "TRAFFIC", default_value = DEFAULT_TRAFFIC)]
    pub traffic: Vec<String>,
    /// Capture format; auto reads `.csv` as CSV and everything else as JSON Lines.
    #[arg(long, value_enum, default_value_t = Format::Auto)]
    pub format: Format,
    /// CSV column holding the routing key.
    #[arg(long, value_name = "NAME", default_value = DEFAULT_KEY_COLUMN)]
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
    #[arg(long, value_name = "DIR", default_value = DEFAULT_REPORTS_DIR)]
    pub reports_dir: PathBuf,
}

/// Where runs are looked up.
#[derive(Debug, Clone, Args)]
pub struct RunsArgs {
    /// Parent directory of run reports [default: `reports_dir` under
    /// [replay] in cutover.toml, else reports]
    #[arg(long, value_name = "DIR")]
    pub reports_dir: Option<PathBuf>,
}

/// How output is printed.
#[derive(Debug, Clone, Args)]
pub struct OutputArgs {
    /// Print JSON for machines instead of text (never coloured, never paged).
    #[arg(long)]
    pub json: bool,
    /// When to colour: auto colours only when stdout is a terminal and
    /// NO_COLOR is not set.
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = ColorMode::Auto)]
    pub color: ColorMode,
    /// Never use a pager (text is paged only when stdout is a terminal,
    /// through $PAGER, else `less`).
    #[arg(long)]
    pub no_pager: bool,
}

/// How diffs are laid out.
#[derive(Debug, Clone, Args)]
pub struct LayoutArgs {
    /// Show diffs side by side (legacy left, candidate right) instead of unified.
    #[arg(long, short = 'y')]
    pub side_by_side: bool,
    /// Columns for --side-by-side [default: the terminal's width, else 160]
    #[arg(long, value_name = "N")]
    pub width: Option<usize>,
}

/// What commands that print records share: where runs are, how diffs are
/// laid out, how output is printed.
#[derive(Debug, Clone, Args)]
pub struct RecordsArgs {
    #[command(flatten)]
    pub layout: LayoutArgs,
    #[command(flatten)]
    pub runs: RunsArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

const REPORT_EXIT: &str = "Exit status: 0 the run found no differences, 1 it found some (mismatches, errors, timeouts or rejected lines), 2 the run cannot be found or read.";

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, after_help = REPORT_EXIT)]
pub struct ReportArgs {
    #[command(subcommand)]
    pub action: Option<ReportAction>,
    /// The run: `latest`, a run id under --reports-dir, or a run directory.
    #[arg(value_name = "RUN", default_value = "latest")]
    pub run: String,
    /// Mismatch groups listed, largest first.
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub top: usize,
    /// Also write the run as JUnit XML (one test case per group) to FILE.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Make the run's index.html again from its files (recheck does it itself).
    #[arg(long)]
    pub html: bool,
    #[command(flatten)]
    pub runs: RunsArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Subcommand)]
pub enum ReportAction {
    /// Print non-matching records by id: input, group and a coloured diff.
    #[command(
        after_help = "Exit status: 0 shown, 1 no non-matching record has that id (it matched, or is not in the capture), 2 the run cannot be found or read."
    )]
    Show(ShowArgs),
    /// Print a mismatch group: its signature, counts and its first records.
    #[command(
        after_help = "Exit status: 0 shown, 2 no such group, or the run cannot be found or read."
    )]
    Group(GroupArgs),
    /// Compare the mismatch groups of two runs over the same traffic, matched
    /// by signature: appeared, disappeared (fixed), grew, shrank, unchanged.
    #[command(
        after_help = "Exit status: 0 no group appeared or grew, 1 some group appeared or grew, 2 a run cannot be found or read."
    )]
    Diff(DiffArgs),
    /// Merge partial reports of one run (each a directory with partial.json
    /// and events.jsonl, as cluster replayers write them) into one run
    /// directory, identical to a single-process run over the same traffic.
    #[command(
        after_help = "Records in two partials are kept once (the first partial given wins) and counted as `merge.redelivered_duplicates` in summary.json; partials of different runs are refused.\n\nExit status: as `cutover replay`'s for the merged run: 0 every record matched, 1 differences found (or the run is incomplete), 2 the partials cannot be read or belong to different runs."
    )]
    Merge(MergeArgs),
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The partial report directories, in priority order for duplicates.
    #[arg(value_name = "RUN_DIR", required = true, num_args = 1..)]
    pub partials: Vec<PathBuf>,
    /// The merged run directory to write (must not be in use by a run).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The run: `latest`, a run id under --reports-dir, or a run directory.
    #[arg(value_name = "RUN")]
    pub run: String,
    /// The record id (every non-matching record with this id is shown).
    #[arg(value_name = "ID")]
    pub id: String,
    /// Records shown at most when several share the id.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub limit: usize,
    #[command(flatten)]
    pub view: RecordsArgs,
}

#[derive(Debug, Args)]
pub struct GroupArgs {
    /// The run: `latest`, a run id under --reports-dir, or a run directory.
    #[arg(value_name = "RUN")]
    pub run: String,
    /// The group: its label in this run (g1, g2, ...) or its exact signature.
    #[arg(value_name = "GROUP")]
    pub group: String,
    /// Records shown at most (the first ones, in capture order).
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub limit: usize,
    #[command(flatten)]
    pub view: RecordsArgs,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The earlier run (before the fix).
    #[arg(value_name = "RUN_A")]
    pub run_a: String,
    /// The later run (after the fix).
    #[arg(value_name = "RUN_B")]
    pub run_b: String,
    /// Also write the comparison as JUnit XML to FILE (a failing case per
    /// new or changed record, and per group that appeared or grew).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    #[command(flatten)]
    pub runs: RunsArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// What minimize and pin share.
#[derive(Debug, Args)]
pub struct MinimizeCommon {
    /// Re-runs of both sides at most; the smallest input so far is kept when
    /// it runs out.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub max_steps: usize,
    /// Time spent at most (e.g. 30s, 5m).
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = humantime::parse_duration)]
    pub max_time: Duration,
    /// Processes per worker target while minimizing (calls are sequential).
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub workers: usize,
    /// What a smaller input must keep: `differences`, the record's own
    /// signature (paths, kinds and the edit shapes of changed strings), or
    /// `group`, the paths and kinds alone (looser: the search may wander to
    /// another bug that touches the same paths).
    #[arg(long, value_enum, default_value_t = Same::Differences)]
    pub same: Same,
    /// Keep a smaller input when CMD exits 0 on it (C-Reduce's
    /// interestingness test): the input is on its stdin and in
    /// $CUTOVER_INPUT; CMD is split like a shell would, but run without one
    /// (write `sh -c '...'` for a shell). The sides then run only for the
    /// final input.
    #[arg(long, value_name = "CMD", conflicts_with = "same")]
    pub test: Option<String>,
    /// Directory of pinned regression cases.
    #[arg(long, value_name = "DIR", default_value = crate::reproduce::pin::PIN_DIR)]
    pub pin_dir: PathBuf,
    /// File name of the pinned case [default: the signature, slugified]
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    #[command(flatten)]
    pub trust: TrustArgs,
    #[command(flatten)]
    pub view: RecordsArgs,
}

/// What `minimize --same` keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Same {
    Differences,
    Group,
}

/// Whether to start targets the run names but the config does not.
#[derive(Debug, Args)]
pub struct TrustArgs {
    /// Start the run's targets even when cutover.toml does not name them:
    /// their command lines (or URLs) come from the run's summary.json, so
    /// only for runs you trust [default: `trust_run` under [reproduce] in
    /// cutover.toml, else off; builtins and the config's own legacy and
    /// candidate always start]
    #[arg(long)]
    pub trust_run: bool,
}

#[derive(Debug, Args)]
#[command(
    after_help = "Exit status: 0 minimized (and pinned with --pin), 2 the record cannot be found, does not fail the same way when re-run, or a target cannot run."
)]
pub struct MinimizeArgs {
    /// The run: `latest`, a run id under --reports-dir, or a run directory.
    #[arg(value_name = "RUN")]
    pub run: String,
    /// The record id (the first non-matching record with this id).
    #[arg(value_name = "ID")]
    pub id: String,
    #[command(flatten)]
    pub common: MinimizeCommon,
    /// Also save the smallest input as a regression case (like `cutover pin`).
    #[arg(long)]
    pub pin: bool,
}

#[derive(Debug, Args)]
#[command(
    after_help = "Exit status: 0 pinned, 2 the record cannot be found, does not fail the same way when re-run, or a target cannot run.\n\nWith --check [DIR]: 0 every pinned case still shows its pinned signature, 1 some changed (each named, with both signatures), 2 the check could not run (DIR unreadable or without cases, a case unreadable, a target that cannot run)."
)]
pub struct PinArgs {
    /// The run: `latest`, a run id under --reports-dir, or a run directory.
    #[arg(value_name = "RUN", required_unless_present = "check")]
    pub run: Option<String>,
    /// The record id (the first non-matching record with this id).
    #[arg(value_name = "ID", required_unless_present = "check")]
    pub id: Option<String>,
    /// Replay every pinned case of DIR instead (each must still show
    /// exactly its pinned signature, edit shapes included), from the
    /// current directory, as the cases' targets expect.
    #[arg(long, value_name = "DIR", num_args = 0..=1, default_missing_value = crate::reproduce::pin::PIN_DIR, conflicts_with_all = ["run", "id", "max_steps", "max_time", "same", "test", "pin_dir", "name", "trust_run", "workers"])]
    pub check: Option<PathBuf>,
    /// With --check: also write the result as JUnit XML to FILE (one test
    /// case per pinned case, failing when it changed).
    #[arg(long, value_name = "FILE", requires = "check")]
    pub junit: Option<PathBuf>,
    #[command(flatten)]
    pub common: MinimizeCommon,
}

#[derive(Debug, Args)]
#[command(
    after_help = "Exit status: 0 every checked record is deterministic, 1 some are flaky, 2 the run cannot be read or a target cannot run."
)]
pub struct RecheckArgs {
    /// The run: `latest`, a run id under --reports-dir, or a run directory.
    #[arg(value_name = "RUN", default_value = "latest")]
    pub run: String,
    /// Re-runs per non-matching record.
    #[arg(long, value_name = "K", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub times: u32,
    /// Records re-run at once at most (64 per core by default).
    #[arg(long, value_name = "N", default_value_t = default_concurrency())]
    pub concurrency: usize,
    /// Processes per worker target [default: the run's --workers]
    #[arg(long, value_name = "N")]
    pub workers: Option<usize>,
    /// Only this group (label or signature); the others are `unchecked`.
    #[arg(long, value_name = "GROUP")]
    pub group: Option<String>,
    /// Check only the first N records (in capture order); the rest are
    /// `unchecked` [default: every non-matching record]
    #[arg(long, value_name = "N")]
    pub max_records: Option<u64>,
    /// Never draw the progress bar.
    #[arg(long)]
    pub no_progress: bool,
    #[command(flatten)]
    pub trust: TrustArgs,
    #[command(flatten)]
    pub runs: RunsArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// `--follow-redirects legacy,candidate`.
impl ValueEnum for Side {
    fn value_variants<'a>() -> &'a [Self] {
        &Side::BOTH
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(PossibleValue::new(self.as_str()))
    }
}

/// `--format`.
impl ValueEnum for Format {
    fn value_variants<'a>() -> &'a [Self] {
        &[
            Format::Auto,
            Format::Jsonl,
            Format::Csv,
            Format::Har,
            Format::Gor,
        ]
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        let help = match self {
            Format::Auto => "`.csv` files are CSV, `.har` HAR, `.gor` GoReplay, everything else (and stdin) JSON Lines",
            Format::Jsonl => "one JSON object per line: {\"id\"?: string, \"key\"?: string, \"input\": any}",
            Format::Csv => "a header row, then one record per row; the row (minus id/key columns) is the input object",
            Format::Har => "HAR 1.2 (browser DevTools, Playwright, mitmproxy): each entry an HTTP exchange",
            Format::Gor => "GoReplay: payloads separated by a line 🐵🙈🙉, requests and responses paired by id",
        };
        Some(PossibleValue::new(self.as_str()).help(help))
    }
}

/// `flags set shadow|serve`.
impl ValueEnum for Role {
    fn value_variants<'a>() -> &'a [Self] {
        &[Role::Shadow, Role::Serve]
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(PossibleValue::new(match self {
            Role::Shadow => "shadow",
            Role::Serve => "serve",
        }))
    }
}
