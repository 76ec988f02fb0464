//! How text reaches a person: stdout, through a pager on a terminal.
//!
//! # Contract
//! - Pager: only when stdout is a terminal and the caller allows it (no
//!   `--no-pager`): the text goes through `$PAGER` (split like a shell
//!   splits words, never run through a shell), or `less` when `PAGER` is
//!   unset; with `LESS` unset it gets `FRX` (quit when the text fits one
//!   screen, pass colours, keep the screen). `PAGER=""` or `PAGER=cat` means
//!   no pager. A pager that cannot start is not an error: the text is
//!   printed directly. Never a pager when stdout is not a terminal (pipes,
//!   files, tests).
//! - A closed stdout (`cutover … | head`) is not an error: the output ends
//!   quietly. Any other write error is returned, for the caller to report.

use std::io::{IsTerminal, Write};

/// The pager command for a terminal, `None` for none.
fn pager_command() -> Option<Vec<String>> {
    let text = std::env::var("PAGER").unwrap_or_else(|_| "less".to_owned());
    let words = shell_words::split(&text).ok()?;
    match words.first().map(String::as_str) {
        None | Some("cat") => None,
        Some(_) => Some(words),
    }
}

/// Prints `text` to stdout, through the pager when `pager` is allowed and
/// stdout is a terminal.
pub fn emit(text: &str, pager: bool) -> std::io::Result<()> {
    if pager && std::io::stdout().is_terminal() {
        if let Some(words) = pager_command() {
            let mut command = std::process::Command::new(&words[0]);
            command
                .args(&words[1..])
                .stdin(std::process::Stdio::piped());
            if std::env::var_os("LESS").is_none() {
                command.env("LESS", "FRX");
            }
            if let Ok(mut child) = command.spawn() {
                if let Some(mut stdin) = child.stdin.take() {
                    // The reader may quit early (q in less): not an error.
                    let _ = stdin.write_all(text.as_bytes());
                }
                child.wait()?;
                return Ok(());
            }
        }
    }
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}
