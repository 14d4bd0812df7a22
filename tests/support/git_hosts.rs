//! GitHub's and Gitea's repository APIs inside the test process, for the part the platform
//! reads: the documented JSON shapes and headers of
//! - GitHub (docs.github.com/rest): `GET /user/repos?sort=updated&direction=desc&per_page&page`
//!   (newest first, `per_page` up to 100, `Link: <…>; rel="next", <…>; rel="last"`),
//!   `GET /repos/{owner}/{repo}/branches` (name, `commit.sha`, no date) and
//!   `GET /repos/{owner}/{repo}/commits/{sha}` (`commit.committer.date`); `Authorization:
//!   Bearer`, 401 `Bad credentials`, a spent rate limit as 403 with `x-ratelimit-remaining: 0`
//!   and `x-ratelimit-reset` (epoch seconds).
//! - Gitea/Forgejo (`/api/v1`, its swagger): `GET /user/repos?page&limit` (in name order,
//!   `limit` capped at 50, `Link` and `X-Total-Count`), `GET /repos/{owner}/{repo}/branches`
//!   (`commit.id`, `commit.timestamp`); `Authorization: token`, 429 with `Retry-After`.
//!
//! It records every `Authorization` header and every page of repositories asked, for tests to
//! assert on.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

/// Which API the server speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    GitHub,
    Gitea,
}

/// A repository the fake host holds.
#[derive(Clone, Debug)]
pub struct FakeRepo {
    pub full_name: String,
    pub private: bool,
    pub updated_at: DateTime<Utc>,
    /// The clone URL served (a real git server for clone tests).
    pub clone_url: String,
    /// `(name, sha, committed at)`; the default branch is the first.
    pub branches: Vec<(String, String, DateTime<Utc>)>,
}

#[derive(Default)]
struct Shared {
    repos: Vec<FakeRepo>,
    /// Answer every request as rate limited: `x-ratelimit-reset` (GitHub) or `Retry-After`
    /// seconds (Gitea).
    rate_limited: Option<i64>,
    auth_seen: Vec<String>,
    pages_seen: Vec<u32>,
}

/// A running fake host; stops with the test's runtime.
#[derive(Clone)]
pub struct FakeGitHost {
    flavor: Flavor,
    token: String,
    addr: SocketAddr,
    shared: Arc<Mutex<Shared>>,
}

impl FakeGitHost {
    /// Serves `repos` to requests carrying `token`.
    pub async fn start(flavor: Flavor, token: &str, repos: Vec<FakeRepo>) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let host = Self {
            flavor,
            token: token.to_owned(),
            addr: listener.local_addr()?,
            shared: Arc::new(Mutex::new(Shared {
                repos,
                ..Shared::default()
            })),
        };
        let app = match flavor {
            Flavor::GitHub => Router::new()
                .route("/user/repos", get(github_repos))
                .route("/repos/{owner}/{repo}/branches", get(branches))
                .route("/repos/{owner}/{repo}/commits/{sha}", get(github_commit)),
            Flavor::Gitea => Router::new()
                .route("/api/v1/user/repos", get(gitea_repos))
                .route("/api/v1/repos/{owner}/{repo}/branches", get(branches)),
        }
        .with_state(host.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(host)
    }

    /// The API's base URL, as a user gives it to `setGitHostToken`.
    pub fn base_url(&self) -> String {
        match self.flavor {
            Flavor::GitHub => format!("http://{}", self.addr),
            Flavor::Gitea => format!("http://{}/api/v1", self.addr),
        }
    }

    /// From now on every request is answered as over the rate limit (`None`: served again).
    pub fn rate_limit(&self, reset: Option<i64>) {
        self.lock().rate_limited = reset;
    }

    /// Every `Authorization` header received.
    pub fn auth_seen(&self) -> Vec<String> {
        self.lock().auth_seen.clone()
    }

    /// Every page of repositories asked for, in order.
    pub fn pages_seen(&self) -> Vec<u32> {
        self.lock().pages_seen.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The refusal of a request, if any: a wrong token or a spent rate limit.
    fn refuse(&self, headers: &HeaderMap) -> Option<Response> {
        let auth = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let mut shared = self.lock();
        shared.auth_seen.push(auth.clone());
        let scheme = match self.flavor {
            Flavor::GitHub => "Bearer",
            Flavor::Gitea => "token",
        };
        if auth != format!("{scheme} {}", self.token) {
            let body = match self.flavor {
                Flavor::GitHub => json!({
                    "message": "Bad credentials",
                    "documentation_url": "https://docs.github.com/rest",
                    "status": "401"
                }),
                Flavor::Gitea => json!({ "message": "user does not exist", "url": "" }),
            };
            return Some((StatusCode::UNAUTHORIZED, axum::Json(body)).into_response());
        }
        let reset = shared.rate_limited?;
        Some(match self.flavor {
            Flavor::GitHub => (
                StatusCode::FORBIDDEN,
                [
                    ("x-ratelimit-limit", "5000".to_owned()),
                    ("x-ratelimit-remaining", "0".to_owned()),
                    ("x-ratelimit-used", "5000".to_owned()),
                    ("x-ratelimit-reset", reset.to_string()),
                ],
                axum::Json(json!({
                    "message": "API rate limit exceeded for user ID 1.",
                    "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"
                })),
            )
                .into_response(),
            Flavor::Gitea => (
                StatusCode::TOO_MANY_REQUESTS,
                [("retry-after", reset.to_string())],
                "Too Many Requests",
            )
                .into_response(),
        })
    }

    fn repo(&self, owner: &str, repo: &str) -> Option<FakeRepo> {
        let full = format!("{owner}/{repo}");
        self.lock()
            .repos
            .iter()
            .find(|r| r.full_name == full)
            .cloned()
    }
}

fn repo_json(flavor: Flavor, r: &FakeRepo, base: &str) -> Value {
    let (owner, name) = r.full_name.split_once('/').unwrap_or(("", &r.full_name));
    let updated = r
        .updated_at
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let default = r.branches.first().map(|b| b.0.clone());
    match flavor {
        Flavor::GitHub => json!({
            "id": 1, "node_id": "R_1", "name": name, "full_name": r.full_name,
            "owner": { "login": owner, "id": 1, "type": "User" },
            "private": r.private, "html_url": format!("https://github.example/{}", r.full_name),
            "description": null, "fork": false, "url": format!("{base}/repos/{}", r.full_name),
            "clone_url": r.clone_url, "default_branch": default,
            "created_at": "2020-01-01T00:00:00Z", "updated_at": updated, "pushed_at": updated,
            "visibility": if r.private { "private" } else { "public" },
            "permissions": { "admin": true, "push": true, "pull": true }
        }),
        Flavor::Gitea => json!({
            "id": 1, "name": name, "full_name": r.full_name,
            "owner": { "id": 1, "login": owner, "username": owner },
            "private": r.private, "empty": r.branches.is_empty(), "fork": false,
            "html_url": format!("http://gitea.example/{}", r.full_name),
            "clone_url": r.clone_url, "ssh_url": "", "default_branch": default.unwrap_or_default(),
            "created_at": "2020-01-01T00:00:00Z", "updated_at": updated,
            "permissions": { "admin": true, "push": true, "pull": true }
        }),
    }
}

/// `Link` to the pages around `page` of `last`, as both hosts write it.
fn link(base_path: &str, query: &str, page: u32, last: u32) -> String {
    let at = |p: u32| format!("<{base_path}?{query}page={p}>");
    let mut parts = Vec::new();
    if page < last {
        parts.push(format!("{}; rel=\"next\"", at(page + 1)));
        parts.push(format!("{}; rel=\"last\"", at(last)));
    }
    if page > 1 {
        parts.push(format!("{}; rel=\"first\"", at(1)));
        parts.push(format!("{}; rel=\"prev\"", at(page - 1)));
    }
    parts.join(", ")
}

fn number(q: &std::collections::HashMap<String, String>, key: &str, default: u32) -> u32 {
    q.get(key)
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
        .max(1)
}

async fn github_repos(
    State(host): State<FakeGitHost>,
    Query(q): Query<std::collections::HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if let Some(refused) = host.refuse(&headers) {
        return refused;
    }
    let per_page = number(&q, "per_page", 30).min(100);
    let page = number(&q, "page", 1);
    let mut repos = host.lock().repos.clone();
    if q.get("sort").map(String::as_str) == Some("updated") {
        repos.sort_by_key(|r| std::cmp::Reverse(r.updated_at));
    }
    host.lock().pages_seen.push(page);
    serve_page(
        &host,
        repos,
        per_page,
        page,
        &format!("sort=updated&direction=desc&per_page={per_page}&"),
        "/user/repos",
    )
}

async fn gitea_repos(
    State(host): State<FakeGitHost>,
    Query(q): Query<std::collections::HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if let Some(refused) = host.refuse(&headers) {
        return refused;
    }
    // Gitea's MAX_RESPONSE_ITEMS; its /user/repos lists by name.
    let limit = number(&q, "limit", 30).min(50);
    let page = number(&q, "page", 1);
    let mut repos = host.lock().repos.clone();
    repos.sort_by(|a, b| a.full_name.cmp(&b.full_name));
    host.lock().pages_seen.push(page);
    serve_page(
        &host,
        repos,
        limit,
        page,
        &format!("limit={limit}&"),
        "/api/v1/user/repos",
    )
}

fn serve_page(
    host: &FakeGitHost,
    repos: Vec<FakeRepo>,
    size: u32,
    page: u32,
    query: &str,
    path: &str,
) -> Response {
    let base = format!("http://{}", host.addr);
    let total = repos.len();
    let last = (total as u32).div_ceil(size).max(1);
    let body: Vec<Value> = repos
        .iter()
        .skip(((page - 1) * size) as usize)
        .take(size as usize)
        .map(|r| repo_json(host.flavor, r, &base))
        .collect();
    let link = link(&format!("{base}{path}"), query, page, last);
    let mut response = axum::Json(body).into_response();
    let h = response.headers_mut();
    if !link.is_empty()
        && let Ok(v) = link.parse()
    {
        h.insert("link", v);
    }
    if let Ok(v) = total.to_string().parse() {
        h.insert("x-total-count", v);
    }
    response
}

async fn branches(
    State(host): State<FakeGitHost>,
    Path((owner, repo)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if let Some(refused) = host.refuse(&headers) {
        return refused;
    }
    let Some(r) = host.repo(&owner, &repo) else {
        return (
            StatusCode::NOT_FOUND,
            axum::Json(json!({ "message": "Not Found" })),
        )
            .into_response();
    };
    let base = format!("http://{}", host.addr);
    let body: Vec<Value> = r
        .branches
        .iter()
        .map(|(name, sha, at)| match host.flavor {
            Flavor::GitHub => json!({
                "name": name,
                "commit": { "sha": sha, "url": format!("{base}/repos/{}/commits/{sha}", r.full_name) },
                "protected": false
            }),
            Flavor::Gitea => json!({
                "name": name,
                "commit": {
                    "id": sha, "message": "a commit\n",
                    "url": format!("http://gitea.example/{}/commit/{sha}", r.full_name),
                    "author": { "name": "a", "email": "a@example.com", "username": "a" },
                    "committer": { "name": "a", "email": "a@example.com", "username": "a" },
                    "timestamp": at.to_rfc3339()
                },
                "protected": false
            }),
        })
        .collect();
    axum::Json(body).into_response()
}

async fn github_commit(
    State(host): State<FakeGitHost>,
    Path((owner, repo, sha)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    if let Some(refused) = host.refuse(&headers) {
        return refused;
    }
    let found = host
        .repo(&owner, &repo)
        .and_then(|r| r.branches.into_iter().find(|b| b.1 == sha));
    let Some((_, sha, at)) = found else {
        return (
            StatusCode::NOT_FOUND,
            axum::Json(json!({ "message": "Not Found" })),
        )
            .into_response();
    };
    let date = at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    axum::Json(json!({
        "sha": sha,
        "commit": {
            "author": { "name": "a", "email": "a@example.com", "date": date },
            "committer": { "name": "a", "email": "a@example.com", "date": date },
            "message": "a commit"
        },
        "parents": []
    }))
    .into_response()
}
