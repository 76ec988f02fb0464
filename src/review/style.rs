//! How review output reaches a person: colour, width and the pager.
//!
//! # Contract
//! - Colour ([`ColorMode`]): `auto` (the default) colours only when stdout
//!   is a terminal and `NO_COLOR` is unset (also honouring `CLICOLOR=0`,
//!   `CLICOLOR_FORCE` and `TERM=dumb`, as decided by `anstream`); `always` and
//!   `never` are for the user to force. Output for machines (`--json`) never
//!   has colour.
//! - Pager: only when stdout is a terminal and `--no-pager` is not given: the
//!   text goes through `$PAGER` (split like a shell splits words, never run
//!   through a shell), or `less` when `PAGER` is unset; with `LESS` unset it
//!   gets `FRX` (quit when the text fits one screen, pass colours, keep the
//!   screen). `PAGER=""` or `PAGER=cat` means no pager. A pager that cannot
//!   start is not an error: the text is printed directly. Never a pager when
//!   stdout is not a terminal (pipes, files, tests).
//! - Width (side by side): `--width`, else the terminal's, else
//!   [`DEFAULT_WIDTH`].
//! - Painted text is escaped ([`crate::terminal::escape`]), so what a
//!   [`Palette`] paints never carries escape sequences but its own.

use anstyle::{AnsiColor, Effects, Style};
use std::io::{IsTerminal, Write};

/// Columns assumed when stdout is not a terminal and `--width` is not given.
pub const DEFAULT_WIDTH: usize = 160;

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorMode {
    Auto,
    Always,
    Never,
}

impl ColorMode {
    /// Whether to colour stdout.
    pub fn enabled(self) -> bool {
        match self {
            ColorMode::Always => true,
            ColorMode::Never => false,
            ColorMode::Auto => !matches!(
                anstream::AutoStream::choice(&std::io::stdout()),
                anstream::ColorChoice::Never
            ),
        }
    }
}

/// The styles of review output; all plain when colour is off.
#[derive(Debug, Clone, Copy)]
pub struct Palette {
    pub color: bool,
}

/// What a piece of text is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Heading,
    Muted,
    Removed,
    RemovedWord,
    Added,
    AddedWord,
    Hunk,
    Bad,
    Good,
    Warn,
    Id,
}

impl Role {
    fn style(self) -> Style {
        let fg = |c: AnsiColor| Style::new().fg_color(Some(c.into()));
        match self {
            Role::Heading => Style::new().effects(Effects::BOLD),
            Role::Muted => Style::new().effects(Effects::DIMMED),
            Role::Removed => fg(AnsiColor::Red),
            Role::RemovedWord => fg(AnsiColor::BrightWhite)
                .bg_color(Some(AnsiColor::Red.into()))
                .effects(Effects::BOLD),
            Role::Added => fg(AnsiColor::Green),
            Role::AddedWord => fg(AnsiColor::BrightWhite)
                .bg_color(Some(AnsiColor::Green.into()))
                .effects(Effects::BOLD),
            Role::Hunk => fg(AnsiColor::Cyan),
            Role::Bad => fg(AnsiColor::Red).effects(Effects::BOLD),
            Role::Good => fg(AnsiColor::Green).effects(Effects::BOLD),
            Role::Warn => fg(AnsiColor::Yellow).effects(Effects::BOLD),
            Role::Id => fg(AnsiColor::Blue),
        }
    }
}

impl Palette {
    /// `text` in the style of `role`, escaped for the terminal
    /// ([`crate::terminal::escape`]): the only escape sequences painted text
    /// holds are the palette's own.
    pub fn paint(&self, role: Role, text: &str) -> String {
        let text = crate::terminal::escape(text);
        if !self.color || text.is_empty() {
            return text.into_owned();
        }
        let style = role.style();
        format!("{style}{text}{style:#}")
    }
}

/// The columns to lay side-by-side output in.
pub fn width(flag: Option<usize>) -> usize {
    flag.or_else(|| {
        std::io::stdout()
            .is_terminal()
            .then(|| terminal_size::terminal_size().map(|(w, _)| w.0 as usize))
            .flatten()
    })
    .unwrap_or(DEFAULT_WIDTH)
    .max(40)
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_colour_means_the_text_unchanged() {
        let plain = Palette { color: false };
        assert_eq!(plain.paint(Role::Bad, "x"), "x");
        let coloured = Palette { color: true };
        let text = coloured.paint(Role::Added, "x");
        assert!(text.starts_with('\u{1b}') && text.contains('x') && text.ends_with('m'));
    }
}
