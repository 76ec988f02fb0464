//! Integration tests: the real `cutover` binary against the real Python legacy.
//!
//! One test binary (as ripgrep does), one module per area. Every test runs the
//! binary from the repository root with its report in a temporary directory.

mod adapters;

mod browser;
mod cluster;
mod config;
mod contracts;
mod defects;
mod fast_path;
mod faults;
mod flags;
mod groups;
mod har;
mod http_services;
mod leaks;
mod legacy_worker;
mod limits;
mod merge;
mod output;
mod pipes;
mod processes;
mod recorded;
mod replay;
mod report_files;
mod reproduce;
mod review;
mod rules;
mod serve;
mod services;
mod signals;
mod strings;
mod targets;
mod terminal;
mod text;
mod tls;
mod traffic;
mod unleash;
mod upstream;
mod util;
