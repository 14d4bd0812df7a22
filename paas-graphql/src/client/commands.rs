//! The client's commands, one file per group, and what they share: the server and token a
//! command talks to, and an app found by its name.

mod apps;
mod auth;
mod env;
mod git;
mod history;
mod lifecycle;
mod logs;
mod status;

use super::cli::{ClientCommand, ClientOptions, EnvCommand};
use super::credentials;
use super::failure::Failure;
use super::http::Api;
use super::output::Output;
use super::queries::{AppShow, app_show};

/// What every command but `login` works with.
pub(super) struct Ctx<'a> {
    pub api: Api,
    pub out: &'a Output,
}

pub(super) async fn run(
    options: &ClientOptions,
    out: &Output,
    command: ClientCommand,
) -> Result<(), Failure> {
    match command {
        ClientCommand::Login { server_url } => return auth::login(options, out, &server_url).await,
        ClientCommand::Logout => return auth::logout(out),
        _ => {}
    }
    let (server, token) = credentials::resolve(options)?;
    let ctx = Ctx {
        api: Api::new(&server, Some(token))?,
        out,
    };
    match command {
        ClientCommand::Login { .. } | ClientCommand::Logout => Ok(()),
        ClientCommand::Apps => apps::list(&ctx).await,
        ClientCommand::Create(args) => apps::create(&ctx, args).await,
        ClientCommand::Delete { app, yes } => apps::delete(&ctx, &app, yes).await,
        ClientCommand::Open { app } => apps::open(&ctx, &app).await,
        ClientCommand::Status { app, watch } => status::show(&ctx, &app, watch).await,
        ClientCommand::Deploy {
            app,
            commit,
            no_wait,
        } => lifecycle::deploy(&ctx, &app, commit, no_wait).await,
        ClientCommand::Restart { app, no_wait } => lifecycle::restart(&ctx, &app, no_wait).await,
        ClientCommand::Rollback {
            app,
            deployment,
            no_wait,
        } => lifecycle::rollback(&ctx, &app, deployment, no_wait).await,
        ClientCommand::Logs(args) => logs::run(&ctx, args).await,
        ClientCommand::Webhook { app, delete } => git::webhook(&ctx, &app, delete).await,
        ClientCommand::GitToken {
            provider,
            base_url,
            remove,
        } => git::token(&ctx, &provider, base_url, remove).await,
        ClientCommand::Repos {
            provider,
            search,
            limit,
        } => git::repos(&ctx, &provider, search, limit).await,
        ClientCommand::Env { command } => match command {
            EnvCommand::List { app } => env::list(&ctx, &app).await,
            EnvCommand::Set { app, vars, no_wait } => env::set(&ctx, &app, vars, no_wait).await,
            EnvCommand::Unset { app, keys, no_wait } => env::unset(&ctx, &app, keys, no_wait).await,
        },
    }
}

/// The app named `name` as `paas status` shows it, with the API's data as it came.
pub(super) async fn find_app(
    ctx: &Ctx<'_>,
    name: &str,
) -> Result<(app_show::AppShowApplication, serde_json::Value), Failure> {
    let answer = ctx
        .api
        .run::<AppShow>(app_show::Variables {
            name: name.to_owned(),
        })
        .await?;
    match answer.data.application {
        Some(app) => Ok((app, answer.raw)),
        None => Err(Failure::not_found(name)),
    }
}
