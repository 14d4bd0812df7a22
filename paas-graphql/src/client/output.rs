//! What the client prints: aligned tables and coloured statuses for people (colours only on a
//! terminal and without `NO_COLOR`), one JSON document per answer and one JSON object per line
//! for streams with `--json`. A closed stdout (`paas logs | head`) ends the command quietly.

use std::io::{IsTerminal, Write};

use serde_json::{Value, json};

use super::failure::Failure;

/// Where and how to print.
pub struct Output {
    /// `--json`: the API's data, for scripts.
    pub json: bool,
    /// ANSI colours on stdout.
    color: bool,
    /// Stdout is a terminal (spinners, prompts).
    pub tty: bool,
}

/// A colour for a piece of text.
#[derive(Clone, Copy)]
pub enum Tone {
    Plain,
    Good,
    Busy,
    Bad,
    Dim,
}

impl Output {
    pub fn detect(json: bool) -> Self {
        let tty = std::io::stdout().is_terminal();
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Self {
            json,
            color: tty && !no_color && !json,
            tty,
        }
    }

    /// One line on stdout.
    pub fn line(&self, text: &str) {
        let mut out = std::io::stdout().lock();
        if writeln!(out, "{text}").and_then(|()| out.flush()).is_err() {
            // Nobody reads any more: nothing left to do.
            std::process::exit(0);
        }
    }

    /// One JSON value on one line.
    pub fn json_line(&self, value: &Value) {
        self.line(&value.to_string());
    }

    /// `text` in `tone` (when colours are on).
    pub fn paint(&self, text: &str, tone: Tone) -> String {
        let code = match tone {
            Tone::Plain => return text.to_owned(),
            Tone::Good => "32",
            Tone::Busy => "33",
            Tone::Bad => "31",
            Tone::Dim => "2",
        };
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }

    /// An app status in its colour.
    pub fn status(&self, status: &str) -> String {
        self.paint(status, tone_of(status))
    }

    /// Rows under a header, each column as wide as its widest cell.
    pub fn table(&self, header: &[&str], rows: &[Vec<(String, Tone)>]) {
        let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
        for row in rows {
            for (i, (cell, _)) in row.iter().enumerate() {
                if let Some(w) = widths.get_mut(i) {
                    *w = (*w).max(cell.chars().count());
                }
            }
        }
        let render = |cells: Vec<(String, Tone)>| {
            let last = cells.len().saturating_sub(1);
            cells
                .into_iter()
                .enumerate()
                .map(|(i, (cell, tone))| {
                    let pad = if i == last {
                        String::new()
                    } else {
                        " ".repeat(widths[i].saturating_sub(cell.chars().count()) + 2)
                    };
                    format!("{}{pad}", self.paint(&cell, tone))
                })
                .collect::<String>()
        };
        self.line(&render(
            header
                .iter()
                .map(|h| ((*h).to_owned(), Tone::Dim))
                .collect(),
        ));
        for row in rows {
            self.line(&render(row.clone()));
        }
    }

    /// A command's failure on stderr: `paas: <CODE>: <message>`, or JSON with `--json`.
    pub fn failure(&self, failure: &Failure) {
        if self.json {
            eprintln!(
                "{}",
                json!({ "error": { "code": failure.code(), "message": failure.message() } })
            );
        } else {
            eprintln!("paas: {}: {}", failure.code(), failure.message());
        }
    }

    /// A note for people on stderr (never mixed into the data on stdout).
    pub fn note(&self, text: &str) {
        if !self.json {
            eprintln!("{text}");
        }
    }
}

/// The colour of an app status.
pub fn tone_of(status: &str) -> Tone {
    match status {
        "RUNNING" => Tone::Good,
        "PENDING" | "BUILDING" | "STARTING" | "DELETING" => Tone::Busy,
        "FAILED" => Tone::Bad,
        _ => Tone::Dim,
    }
}

/// A time as `HH:MM:SS` (UTC), or as given when it is not RFC 3339.
pub fn clock(at: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(at)
        .map(|t| t.to_utc().format("%H:%M:%S").to_string())
        .unwrap_or_else(|_| at.to_owned())
}
