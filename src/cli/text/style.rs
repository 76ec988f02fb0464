//! How text looks on a terminal: colour and width.
//!
//! # Contract
//! - Colour ([`ColorMode`]): `auto` (the default) colours only when stdout
//!   is a terminal and `NO_COLOR` is unset (also honouring `CLICOLOR=0`,
//!   `CLICOLOR_FORCE` and `TERM=dumb`, as decided by `anstream`); `always` and
//!   `never` are for the user to force. Output for machines (`--json`) never
//!   has colour.
//! - Width (side by side): `--width`, else the terminal's, else
//!   [`DEFAULT_WIDTH`].
//! - Painted text is escaped ([`crate::util::escape::escape`]), so what a
//!   [`Palette`] paints never carries escape sequences but its own.

use crate::report::model::Tone;
use anstyle::{AnsiColor, Effects, Style};
use std::io::IsTerminal;

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

impl From<Tone> for Role {
    fn from(tone: Tone) -> Role {
        match tone {
            Tone::Good => Role::Good,
            Tone::Bad => Role::Bad,
            Tone::Warn => Role::Warn,
            Tone::Muted | Tone::Plain => Role::Muted,
        }
    }
}

impl Palette {
    /// Colour when `mode` says so for stdout.
    pub fn for_stdout(mode: ColorMode) -> Palette {
        Palette {
            color: mode.enabled(),
        }
    }

    /// `text` in the style of `role`, escaped for the terminal
    /// ([`crate::util::escape::escape`]): the only escape sequences painted text
    /// holds are the palette's own.
    pub fn paint(&self, role: Role, text: &str) -> String {
        let text = crate::util::escape::escape(text);
        if !self.color || text.is_empty() {
            return text.into_owned();
        }
        let style = role.style();
        format!("{style}{text}{style:#}")
    }
}

/// Appends `text` as a heading line.
pub fn heading(out: &mut String, p: Palette, text: &str) {
    out.push_str(&p.paint(Role::Heading, text));
    out.push('\n');
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
