//! The user's repositories on GitHub and Gitea, read through their APIs (servers in the test
//! that speak the documented shapes, `git_hosts.rs`) with the token each user stored for the
//! host: newest update first across the host's pages and ours, search, branches by latest
//! commit, the host's refusals as codes, and private clones with the host's token.

use chrono::{DateTime, Duration, TimeZone, Utc};
use paas_tests::apps::hello;
use paas_tests::git_hosts::{FakeGitHost, FakeRepo, Flavor};
use paas_tests::git_http::PrivateGitServer;
use paas_tests::repo::file_url;
use paas_tests::server::{open_temp_dir, paas_bin};
use paas_tests::steps::{body, create, statuses_until_settled};
use paas_tests::{Client, TestApp, TestDb, TestServer, git_repo};
use sea_orm::{ConnectionTrait, Database, Statement};
use serde_json::{Value, json};

use crate::on_both_databases;

const SET: &str = "mutation($p: GitHostKind!, $t: String, $u: String) {
    setGitHostToken(provider: $p, token: $t, baseUrl: $u) }";
const LIST: &str = "query($p: GitHostKind!, $s: String, $f: Int, $a: String) {
    gitRepositories(provider: $p, search: $s, first: $f, after: $a) {
        edges { cursor node { name fullName url private defaultBranch updatedAt } }
        pageInfo { hasNextPage hasPreviousPage endCursor } } }";
const BRANCHES: &str = "query($p: GitHostKind!, $s: String) {
    gitRepositories(provider: $p, search: $s, first: 1) {
        edges { node { fullName branches(first: 2) { name commit updatedAt } } } } }";
const HOSTS: &str = "{ gitHosts { provider configured baseUrl } }";

fn at(hours: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or_default()
        + Duration::hours(hours)
}

/// `count` repositories of `owner`, updated in an order unlike their names' (37 is prime to
/// every count used), the odd ones private.
fn repos(owner: &str, count: i64) -> Vec<FakeRepo> {
    (0..count)
        .map(|i| FakeRepo {
            full_name: format!("{owner}/repo-{i:03}"),
            private: i % 2 == 1,
            updated_at: at((i * 37) % count),
            clone_url: format!("https://git.example/{owner}/repo-{i:03}.git"),
            branches: vec![
                ("main".into(), format!("{:040x}", i * 3 + 1), at(1)),
                ("dev".into(), format!("{:040x}", i * 3 + 2), at(2)),
                ("feature".into(), format!("{:040x}", i * 3 + 3), at(3)),
            ],
        })
        .collect()
}

/// Full names, newest update first: what the listing must answer.
fn newest_first(repos: &[FakeRepo]) -> Vec<String> {
    let mut sorted = repos.to_vec();
    sorted.sort_by_key(|r| std::cmp::Reverse(r.updated_at));
    sorted.into_iter().map(|r| r.full_name).collect()
}

/// Every repository through our cursor, `first` at a time; checks each page's `pageInfo`.
async fn all_pages(client: &Client, provider: &str, first: i64) -> anyhow::Result<Vec<Value>> {
    let mut seen = Vec::new();
    let mut after = Value::Null;
    loop {
        let vars = json!({ "p": provider, "f": first, "a": after });
        let page = client.data(LIST, vars).await?["gitRepositories"].clone();
        let edges = page["edges"].as_array().cloned().unwrap_or_default();
        assert_eq!(page["pageInfo"]["hasPreviousPage"], !after.is_null());
        seen.extend(edges.iter().map(|e| e["node"].clone()));
        if page["pageInfo"]["hasNextPage"] != true {
            return Ok(seen);
        }
        assert_eq!(edges.len() as i64, first, "a page before the last is full");
        after = page["pageInfo"]["endCursor"].clone();
        assert!(seen.len() < 1000, "the cursor does not move on");
    }
}

fn names(nodes: &[Value]) -> Vec<String> {
    nodes
        .iter()
        .map(|n| n["fullName"].as_str().unwrap_or_default().to_owned())
        .collect()
}

async fn stored_token_cells(database_url: &str) -> anyhow::Result<Vec<String>> {
    let db = Database::connect(database_url).await?;
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT token FROM git_host_tokens",
        ))
        .await?;
    let mut out = Vec::new();
    for row in rows {
        out.push(row.try_get_by_index::<String>(0)?);
    }
    db.close().await?;
    Ok(out)
}

async fn github_repositories_newest_first_across_pages(db: TestDb) -> anyhow::Result<()> {
    let fixture = repos("octo", 130);
    let github = FakeGitHost::start(Flavor::GitHub, "ghp_alice", fixture.clone()).await?;
    let server = TestApp::spawn(db, &[]).await?;
    let alice = server.user("alice").await?;
    let bob = server.user("bob").await?;

    let code = alice.error_code(LIST, json!({ "p": "GITHUB" })).await?;
    assert_eq!(code, "GIT_HOST_NOT_CONFIGURED");
    let vars = json!({ "p": "GITHUB", "t": "ghp_alice", "u": github.base_url() });
    assert_eq!(alice.data(SET, vars).await?["setGitHostToken"], true);
    assert_eq!(
        alice.data(HOSTS, json!({})).await?["gitHosts"],
        json!([
            { "provider": "GITHUB", "configured": true, "baseUrl": github.base_url() },
            { "provider": "GITEA", "configured": false, "baseUrl": null },
        ])
    );

    // 130 repositories: GitHub's pages of 100 behind ours of 50, newest update first.
    let nodes = all_pages(&alice, "GITHUB", 50).await?;
    assert_eq!(names(&nodes), newest_first(&fixture));
    assert!(
        github.pages_seen().contains(&2),
        "{:?}",
        github.pages_seen()
    );
    let first = &nodes[0];
    let repo = fixture
        .iter()
        .find(|r| Some(r.full_name.as_str()) == first["fullName"].as_str())
        .expect("a repository of the fixture");
    assert_eq!(first["name"], repo.full_name.trim_start_matches("octo/"));
    assert_eq!(first["url"], repo.clone_url);
    assert_eq!(first["private"], repo.private);
    assert_eq!(first["defaultBranch"], "main");
    let updated: DateTime<Utc> = first["updatedAt"].as_str().unwrap_or_default().parse()?;
    assert_eq!(updated, repo.updated_at);

    // Search keeps the order; 10 of them hold "repo-01".
    let found = alice
        .data(LIST, json!({ "p": "GITHUB", "s": "REPO-01", "f": 100 }))
        .await?;
    let found: Vec<Value> = found["gitRepositories"]["edges"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|e| e["node"].clone())
        .collect();
    let want: Vec<String> = newest_first(&fixture)
        .into_iter()
        .filter(|n| n.contains("repo-01"))
        .collect();
    assert_eq!(want.len(), 10);
    assert_eq!(names(&found), want);

    // Branches by latest commit (GitHub's list has no dates: each head commit is asked).
    let b = alice
        .data(BRANCHES, json!({ "p": "GITHUB", "s": "octo/repo-007" }))
        .await?;
    assert_eq!(
        b["gitRepositories"]["edges"][0]["node"]["branches"],
        json!([
            { "name": "feature", "commit": format!("{:040x}", 24), "updatedAt": at(3).to_rfc3339() },
            { "name": "dev", "commit": format!("{:040x}", 23), "updatedAt": at(2).to_rfc3339() },
        ])
    );
    let auth = github.auth_seen();
    assert!(auth.iter().all(|a| a == "Bearer ghp_alice"), "{auth:?}");

    // The token is sealed at rest, never returned, and alice's alone.
    let cells = stored_token_cells(&server.database_url).await?;
    assert_eq!(cells.len(), 1);
    assert!(cells[0].starts_with("paas:v1:") && !cells[0].contains("ghp_alice"));
    assert_eq!(
        bob.error_code(LIST, json!({ "p": "GITHUB" })).await?,
        "GIT_HOST_NOT_CONFIGURED"
    );
    let bobs = bob.data(HOSTS, json!({})).await?;
    assert_eq!(bobs["gitHosts"][0]["configured"], false);
    let vars = json!({ "p": "GITHUB", "t": "ghp_bob", "u": github.base_url() });
    bob.data(SET, vars).await?;
    assert_eq!(
        bob.error_code(LIST, json!({ "p": "GITHUB" })).await?,
        "GIT_HOST_UNAUTHORIZED"
    );

    // Removed, it is gone.
    alice.data(SET, json!({ "p": "GITHUB", "t": "" })).await?;
    let code = alice.error_code(LIST, json!({ "p": "GITHUB" })).await?;
    assert_eq!(code, "GIT_HOST_NOT_CONFIGURED");
    Ok(())
}
on_both_databases!(github_repositories_newest_first_across_pages);

async fn gitea_repositories_sorted_and_private_ones_cloned_with_its_token(
    db: TestDb,
) -> anyhow::Result<()> {
    let work = git_repo(&[("app.py", &hello())])?;
    let root = tempfile::tempdir()?;
    git2::Repository::clone(&file_url(work.path()), root.path().join("app.git"))?;
    let git = PrivateGitServer::start(root.path(), "gitea_alice").await?;
    let url = git.url("app.git");

    let mut fixture = repos("alice", 71);
    fixture.push(FakeRepo {
        full_name: "alice/app".into(),
        private: true,
        updated_at: at(500),
        clone_url: url.clone(),
        branches: vec![
            ("main".into(), "a".repeat(40), at(10)),
            ("old".into(), "b".repeat(40), at(5)),
            ("next".into(), "c".repeat(40), at(20)),
        ],
    });
    let gitea = FakeGitHost::start(Flavor::Gitea, "gitea_alice", fixture.clone()).await?;
    let server = TestApp::spawn(db, &[]).await?;
    let alice = server.user("alice").await?;
    let bob = server.user("bob").await?;

    // Gitea needs its URL.
    let code = alice
        .error_code(SET, json!({ "p": "GITEA", "t": "gitea_alice" }))
        .await?;
    assert_eq!(code, "INVALID_ARGUMENT");
    let vars = json!({ "p": "GITEA", "t": "gitea_alice", "u": gitea.base_url() });
    alice.data(SET, vars).await?;

    // Gitea lists by name, 50 a page: every page is read and sorted here.
    let nodes = all_pages(&alice, "GITEA", 30).await?;
    assert_eq!(names(&nodes), newest_first(&fixture));
    assert_eq!(nodes[0]["fullName"], "alice/app");
    assert_eq!(nodes[0]["url"], url);
    assert_eq!(nodes[0]["private"], true);
    assert!(gitea.pages_seen().contains(&2), "{:?}", gitea.pages_seen());
    let b = alice
        .data(BRANCHES, json!({ "p": "GITEA", "s": "alice/app" }))
        .await?;
    let branches = &b["gitRepositories"]["edges"][0]["node"]["branches"];
    assert_eq!(branches[0]["name"], "next");
    assert_eq!(branches[1]["name"], "main");
    assert_eq!(branches[0]["commit"], "c".repeat(40));
    let auth = gitea.auth_seen();
    assert!(auth.iter().all(|a| a == "token gitea_alice"), "{auth:?}");

    // The clone URL is on the host: its token reads the private repository, for alice only.
    let check = "query($u: String!) { repository(url: $u) { exists branchExists } }";
    let r = alice.data(check, json!({ "u": url })).await?;
    assert_eq!(
        r["repository"],
        json!({ "exists": true, "branchExists": true })
    );
    let r = bob.data(check, json!({ "u": url })).await?;
    assert_eq!(r["repository"]["exists"], false);
    let id = create(
        &alice,
        json!({ "name": "from-gitea", "repository": { "url": url } }),
    )
    .await?;
    let seen = statuses_until_settled(&alice, &id).await?;
    assert_eq!(seen.last().map(String::as_str), Some("RUNNING"), "{seen:?}");
    assert_eq!(body(&alice, &id).await?, "hello");
    Ok(())
}
on_both_databases!(gitea_repositories_sorted_and_private_ones_cloned_with_its_token);

async fn host_refusals_come_back_as_codes(db: TestDb) -> anyhow::Result<()> {
    let github = FakeGitHost::start(Flavor::GitHub, "ghp_right", repos("octo", 3)).await?;
    let gitea = FakeGitHost::start(Flavor::Gitea, "gitea_right", repos("me", 3)).await?;
    // The server's GitHub is the one in the test (as a GitHub Enterprise would be).
    let github_url = github.base_url();
    let server = TestApp::spawn(db, &["--github-api-url", &github_url]).await?;
    let alice = server.user("alice").await?;

    alice
        .data(SET, json!({ "p": "GITHUB", "t": "ghp_wrong" }))
        .await?;
    let r = alice.gql(LIST, json!({ "p": "GITHUB" })).await?;
    assert_eq!(
        r["errors"][0]["extensions"]["code"], "GIT_HOST_UNAUTHORIZED",
        "{r}"
    );

    // A spent rate limit says when it resets, in the message and in extensions.
    alice
        .data(SET, json!({ "p": "GITHUB", "t": "ghp_right" }))
        .await?;
    let hosts = alice.data(HOSTS, json!({})).await?;
    assert_eq!(hosts["gitHosts"][0]["baseUrl"], github_url);
    assert_eq!(all_pages(&alice, "GITHUB", 10).await?.len(), 3);
    let reset = 1_893_456_000;
    github.rate_limit(Some(reset));
    let r = alice.gql(LIST, json!({ "p": "GITHUB" })).await?;
    let error = &r["errors"][0];
    let when = Utc
        .timestamp_opt(reset, 0)
        .single()
        .unwrap_or_default()
        .to_rfc3339();
    assert_eq!(error["extensions"]["code"], "GIT_HOST_RATE_LIMITED", "{r}");
    assert_eq!(error["extensions"]["resetAt"], when);
    assert!(
        error["message"]
            .as_str()
            .unwrap_or_default()
            .contains(&when),
        "{r}"
    );

    // Gitea's 429 with Retry-After: reset that many seconds from now.
    let vars = json!({ "p": "GITEA", "t": "gitea_right", "u": gitea.base_url() });
    alice.data(SET, vars).await?;
    gitea.rate_limit(Some(120));
    let before = Utc::now();
    let r = alice.gql(LIST, json!({ "p": "GITEA" })).await?;
    assert_eq!(
        r["errors"][0]["extensions"]["code"], "GIT_HOST_RATE_LIMITED",
        "{r}"
    );
    let reset: DateTime<Utc> = r["errors"][0]["extensions"]["resetAt"]
        .as_str()
        .unwrap_or_default()
        .parse()?;
    assert!(reset >= before + Duration::seconds(119), "{reset}");
    assert!(reset <= Utc::now() + Duration::seconds(121), "{reset}");

    // A host that does not answer, and cursors this list did not hand out.
    let dead = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let dead_url = format!("http://{}", dead.local_addr()?);
    drop(dead);
    alice
        .data(
            SET,
            json!({ "p": "GITHUB", "t": "ghp_right", "u": dead_url }),
        )
        .await?;
    let code = alice.error_code(LIST, json!({ "p": "GITHUB" })).await?;
    assert_eq!(code, "GIT_HOST_UNAVAILABLE");
    let code = alice
        .error_code(LIST, json!({ "p": "GITEA", "a": "not-a-cursor" }))
        .await?;
    assert_eq!(code, "INVALID_CURSOR");
    let code = alice
        .error_code(LIST, json!({ "p": "GITEA", "f": 101 }))
        .await?;
    assert_eq!(code, "INVALID_ARGUMENT");
    let code = alice
        .error_code(SET, json!({ "p": "GITHUB", "t": "x", "u": "file:///etc" }))
        .await?;
    assert_eq!(code, "INVALID_ARGUMENT");
    Ok(())
}
on_both_databases!(host_refusals_come_back_as_codes);

/// `paas secrets rotate` seals host tokens again with the new key, and they still open.
async fn host_tokens_are_sealed_again_by_a_rotation(db: TestDb) -> anyhow::Result<()> {
    let github = FakeGitHost::start(Flavor::GitHub, "ghp_rotated", repos("octo", 2)).await?;
    let dir = open_temp_dir()?;
    let data = dir.path().join("data");
    let database_url = db.url_in(&data).await?;
    let mut server = TestServer::spawn_in(&data, &database_url, &[], &[]).await?;
    let alice = server.user("alice").await?;
    let vars = json!({ "p": "GITHUB", "t": "ghp_rotated", "u": github.base_url() });
    alice.data(SET, vars).await?;
    server.stop().await?;
    let before = stored_token_cells(&database_url).await?;

    let out = tokio::process::Command::new(paas_bin()?)
        .args(["secrets", "rotate", "--data-dir"])
        .arg(&data)
        .env("DATABASE_URL", &database_url)
        .output()
        .await?;
    assert!(
        out.status.success(),
        "paas secrets rotate failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let after = stored_token_cells(&database_url).await?;
    assert_eq!((before.len(), after.len()), (1, 1));
    let key_of = |s: &str| s.split(':').nth(2).map(str::to_owned);
    assert_ne!(
        key_of(&after[0]),
        key_of(&before[0]),
        "sealed with the old key"
    );

    let server = TestServer::spawn_in(&data, &database_url, &[], &[]).await?;
    let alice = Client::new(&server.url, alice.token().map(str::to_owned));
    assert_eq!(all_pages(&alice, "GITHUB", 10).await?.len(), 2);
    Ok(())
}
on_both_databases!(host_tokens_are_sealed_again_by_a_rotation);
