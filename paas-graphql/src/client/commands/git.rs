//! `paas webhook`, `paas git-token` and `paas repos`: an app's webhook for a git host, the
//! viewer's git host tokens, and the repositories those tokens see.

use serde_json::json;

use super::auth::read_secret;
use super::{Ctx, find_app};
use crate::client::failure::Failure;
use crate::client::output::Tone;
use crate::client::queries::{
    CreateWebhook, DeleteWebhook, GitRepos, SetGitHostToken, create_webhook, delete_webhook,
    git_repos, set_git_host_token,
};

/// Gives `app` a webhook (rotating any it had) and prints the full URL and the secret, or
/// removes it.
pub async fn webhook(ctx: &Ctx<'_>, app: &str, delete: bool) -> Result<(), Failure> {
    let (shown, _) = find_app(ctx, app).await?;
    if delete {
        let answer = ctx
            .api
            .run::<DeleteWebhook>(delete_webhook::Variables { app: shown.id })
            .await?;
        let removed = answer.data.delete_webhook;
        if ctx.out.json {
            ctx.out.json_line(&json!({ "deleted": removed }));
        } else if removed {
            ctx.out.line(&format!("Removed the webhook of {app}"));
        } else {
            ctx.out.note(&format!("`{app}` had no webhook"));
        }
        return Ok(());
    }
    let answer = ctx
        .api
        .run::<CreateWebhook>(create_webhook::Variables { app: shown.id })
        .await?;
    let created = answer.data.create_webhook;
    let url = format!("{}{}", ctx.api.server(), created.url);
    if ctx.out.json {
        ctx.out.json_line(&json!({
            "url": url,
            "secret": created.secret,
            "createdAt": created.webhook.created_at,
        }));
    } else {
        ctx.out.line(&format!("URL:    {url}"));
        ctx.out.line(&format!("Secret: {}", created.secret));
        ctx.out.note(
            "the secret is shown this once; give both to the git host (content type \
             application/json, push events); `paas webhook` again makes a new pair",
        );
    }
    Ok(())
}

/// Stores the viewer's token for `provider` (read without echo or from stdin), or removes it.
pub async fn token(
    ctx: &Ctx<'_>,
    provider: &str,
    base_url: Option<String>,
    remove: bool,
) -> Result<(), Failure> {
    let token = if remove {
        None
    } else {
        let token = read_secret(&format!("{provider} token: "))?;
        let token = token.trim().to_owned();
        if token.is_empty() {
            return Err(Failure::Usage("no token given".into()));
        }
        Some(token)
    };
    let provider_kind = match provider {
        "gitea" => set_git_host_token::GitHostKind::GITEA,
        _ => set_git_host_token::GitHostKind::GITHUB,
    };
    ctx.api
        .run::<SetGitHostToken>(set_git_host_token::Variables {
            provider: provider_kind,
            token,
            base_url,
        })
        .await?;
    if ctx.out.json {
        ctx.out
            .json_line(&json!({ "provider": provider, "configured": !remove }));
    } else if remove {
        ctx.out.line(&format!("Removed your {provider} token"));
    } else {
        ctx.out.line(&format!(
            "Stored your {provider} token (it is never shown again)"
        ));
    }
    Ok(())
}

/// Up to `limit` repositories, latest update first, as a table or `{"repositories": [...]}`.
pub async fn repos(
    ctx: &Ctx<'_>,
    provider: &str,
    search: Option<String>,
    limit: u32,
) -> Result<(), Failure> {
    let kind = || match provider {
        "gitea" => git_repos::GitHostKind::GITEA,
        _ => git_repos::GitHostKind::GITHUB,
    };
    let (mut repos, mut raw, mut after) = (Vec::new(), Vec::new(), None);
    while repos.len() < limit as usize {
        let want = limit as usize - repos.len();
        let answer = ctx
            .api
            .run::<GitRepos>(git_repos::Variables {
                provider: kind(),
                search: search.clone(),
                first: Some(i64::try_from(want.min(100)).unwrap_or(100)),
                after,
            })
            .await?;
        let page = answer.data.git_repositories;
        if let Some(nodes) = answer.raw["gitRepositories"]["nodes"].as_array() {
            raw.extend(nodes.iter().take(want).cloned());
        }
        repos.extend(page.nodes.into_iter().take(want));
        if !page.page_info.has_next_page || page.page_info.end_cursor.is_none() {
            break;
        }
        after = page.page_info.end_cursor;
    }
    if ctx.out.json {
        ctx.out.json_line(&json!({ "repositories": raw }));
        return Ok(());
    }
    if repos.is_empty() {
        ctx.out.note("no repositories");
        return Ok(());
    }
    let rows: Vec<_> = repos
        .iter()
        .map(|r| {
            vec![
                (r.full_name.clone(), Tone::Plain),
                (
                    if r.private { "private" } else { "public" }.to_owned(),
                    Tone::Plain,
                ),
                (r.default_branch.clone().unwrap_or_default(), Tone::Plain),
                (r.updated_at.clone(), Tone::Plain),
                (r.url.clone(), Tone::Plain),
            ]
        })
        .collect();
    ctx.out.table(
        &["REPOSITORY", "VISIBILITY", "BRANCH", "UPDATED", "URL"],
        &rows,
    );
    Ok(())
}
