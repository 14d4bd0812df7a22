//! `paas` as a client of a paas server: the subcommands a person or a script runs against the
//! GraphQL API (`login`, `apps`, `create`, `deploy`, `status`, `logs`, `env`, …).
//!
//! ## Layout
//! - [`cli`]: the commands and the client's global options (clap).
//! - `credentials`: where `paas login` keeps the server and its token (a 0600 file in the
//!   user's config dir) and how a command finds them (flags and variables first).
//! - `failure`: what went wrong, shown as `paas: <CODE>: <message>`, and the exit code it gives.
//! - `http`: GraphQL over HTTP; `ws`: subscriptions over graphql-transport-ws. Both take the
//!   typed operations of `queries` (`graphql_client`, checked against `schema.graphql`).
//! - `output`: tables and colours for people, JSON for scripts.
//! - `follow`: following an app's status (and the task a command started) until it settles.
//! - `commands`: one file per group of commands.

pub mod cli;
mod commands;
mod credentials;
mod failure;
mod follow;
mod http;
mod output;
mod queries;
mod ws;

use std::process::ExitCode;

pub use cli::{ClientCommand, ClientOptions};

/// Runs one client command; errors are printed (on stderr) and become the exit code.
pub async fn run(options: ClientOptions, command: ClientCommand) -> ExitCode {
    let out = output::Output::detect(options.json);
    match commands::run(&options, &out, command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            out.failure(&failure);
            ExitCode::from(failure.exit_code())
        }
    }
}
