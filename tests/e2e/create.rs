//! The create flow as a person uses it: a repo becomes a reachable app.

use anyhow::Context;
use paas_tests::apps::hello;
use paas_tests::repo::file_url;
use paas_tests::steps::{
    app, body, create, deployed, deployments, instance_url, statuses_until_settled,
};
use paas_tests::{TestDb, TestServer, git_repo};
use serde_json::json;

use crate::on_both_databases;

async fn python_app_goes_live(db: TestDb) -> anyhow::Result<()> {
    let repo = git_repo(&[("app.py", &hello())])?;
    let mut server = TestServer::spawn(db, &[]).await?;
    let alice = server.user("alice").await?;

    // Step 1 of the flow: the client checks repository, branch and name first.
    let check = alice
        .data(
            "query($url: String!) { repository(url: $url) { exists branchExists defaultBranch }
               nameAvailable(name: \"hello\") }",
            json!({ "url": file_url(repo.path()) }),
        )
        .await?;
    assert_eq!(
        check["repository"],
        json!({"exists": true, "branchExists": true, "defaultBranch": "main"})
    );
    assert_eq!(check["nameAvailable"], true);

    let id = create(
        &alice,
        json!({
            "name": "hello",
            "repository": { "url": file_url(repo.path()) },
            "env": [{ "key": "GREETING", "value": "hi from paas" }],
        }),
    )
    .await?;
    let seen = statuses_until_settled(&alice, &id).await?;
    assert_eq!(seen, ["PENDING", "BUILDING", "STARTING", "RUNNING"]);

    let shown = app(&alice, &id).await?;
    assert_eq!(shown["language"], "PYTHON");
    assert_eq!(
        shown["env"],
        json!([{ "key": "GREETING" }]),
        "env values are never returned"
    );
    assert_eq!(shown["repository"]["branch"], "main");
    let deployments = shown["deployments"].as_array().cloned().unwrap_or_default();
    assert_eq!(deployments.len(), 1);
    assert_eq!(deployments[0]["status"], "RUNNING");
    assert_eq!(deployments[0]["buildAttempts"], 1);
    assert_eq!(deployments[0]["commit"].as_str().map(str::len), Some(40));

    // The stable URL, through the router; and the instance at its own address.
    assert_eq!(
        shown["endpoint"]["url"],
        format!(
            "http://hello.localhost:{}/",
            server.router.map_or(0, |r| r.port())
        )
    );
    assert_eq!(body(&alice, &id).await?, "hi from paas");
    let url = instance_url(&alice, &id).await?;
    assert_eq!(reqwest::get(&url).await?.text().await?, "hi from paas");

    let check = alice
        .data("{ nameAvailable(name: \"hello\") }", json!({}))
        .await?;
    assert_eq!(check["nameAvailable"], false);

    // Ctrl-C stops the server and the app it started, and says so on the app.
    let status = server.stop().await?;
    assert!(status.success(), "paas serve exited with {status}");
    assert!(
        reqwest::get(&url).await.is_err(),
        "the app still answers after shutdown"
    );
    Ok(())
}
on_both_databases!(python_app_goes_live);

/// A static site serves its files and nothing of its repository: the build's checkout keeps
/// the commit's files, not `.git`, and the commit is still recorded.
async fn a_static_site_serves_its_files_and_not_its_repository(db: TestDb) -> anyhow::Result<()> {
    let server = TestServer::spawn(db, &[]).await?;
    let alice = server.user("alice").await?;
    let files = [
        ("index.html", "<h1>home</h1>\n"),
        ("docs/page.html", "<p>page</p>\n"),
    ];
    let (_repo, id) = deployed(&alice, "site", &files).await?;
    let shown = app(&alice, &id).await?;
    assert_eq!(shown["language"], "STATIC");
    let deps = deployments(&alice, &id).await?;
    assert_eq!(deps[0]["commit"].as_str().map(str::len), Some(40));
    assert!(deps[0]["commitMessage"].as_str().is_some(), "{}", deps[0]);
    assert_eq!(body(&alice, &id).await?, "<h1>home</h1>\n");

    let url = shown["endpoint"]["url"].as_str().unwrap_or_default();
    let router = alice.router().context("no router")?;
    let (status, text) = paas_tests::router::get(router, &format!("{url}docs/page.html")).await?;
    assert_eq!((status, text.as_str()), (200, "<p>page</p>\n"));
    for path in [".git/HEAD", ".git/config", ".git/"] {
        let (status, _) = paas_tests::router::get(router, &format!("{url}{path}")).await?;
        assert_eq!(status, 404, "{path} is served");
    }
    Ok(())
}
on_both_databases!(a_static_site_serves_its_files_and_not_its_repository);

/// The check names the language a build of the branch would detect (what the create wizard
/// shows), from the branch's own top-level files: a directory named like a manifest is no
/// manifest; a missing branch has none.
async fn the_check_names_the_branch_language(db: TestDb) -> anyhow::Result<()> {
    let python = git_repo(&[("app.py", &hello())])?;
    {
        let r = git2::Repository::open(python.path())?;
        let head = r.head()?.peel_to_commit()?;
        r.branch("rusty", &head, false)?;
        r.set_head("refs/heads/rusty")?;
        paas_tests::repo::commit(&r, python.path(), &[("Cargo.toml", "[package]\n")], "rust")?;
        r.set_head("refs/heads/main")?;
    }
    let site = git_repo(&[
        ("index.html", "<p>hi</p>"),
        ("Cargo.toml/notes.txt", "a dir"),
    ])?;
    let server = TestServer::spawn(db, &[]).await?;
    let alice = server.user("alice").await?;
    let check = "query($u: String!, $b: String) { repository(url: $u, branch: $b) { branchExists language } }";
    let cases = [
        (
            file_url(python.path()),
            None,
            json!({ "branchExists": true, "language": "PYTHON" }),
        ),
        (
            file_url(python.path()),
            Some("rusty"),
            json!({ "branchExists": true, "language": "RUST" }),
        ),
        (
            file_url(python.path()),
            Some("nope"),
            json!({ "branchExists": false, "language": null }),
        ),
        (
            file_url(site.path()),
            None,
            json!({ "branchExists": true, "language": "STATIC" }),
        ),
    ];
    for (url, branch, want) in cases {
        let seen = alice.data(check, json!({ "u": url, "b": branch })).await?;
        assert_eq!(seen["repository"], want, "{url} at {branch:?}");
    }
    Ok(())
}
on_both_databases!(the_check_names_the_branch_language);

async fn fixed_port_and_procfile(db: TestDb) -> anyhow::Result<()> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let repo = git_repo(&[
        ("server.py", &hello()),
        (
            "Procfile",
            "web: GREETING=from-procfile python3 server.py\n",
        ),
    ])?;
    let server = TestServer::spawn(db, &[]).await?;
    let alice = server.user("alice").await?;
    let id = create(
        &alice,
        json!({
            "name": "fixed",
            "repository": { "url": file_url(repo.path()), "branch": "main" },
            "language": "PYTHON",
            "port": port,
        }),
    )
    .await?;
    let seen = statuses_until_settled(&alice, &id).await?;
    assert_eq!(seen.last().map(String::as_str), Some("RUNNING"), "{seen:?}");
    let shown = app(&alice, &id).await?;
    assert_eq!(shown["instances"][0]["port"], port);
    let body = reqwest::get(format!("http://127.0.0.1:{port}/"))
        .await?
        .text()
        .await?;
    assert_eq!(body, "from-procfile");
    Ok(())
}
on_both_databases!(fixed_port_and_procfile);

/// Answers "main" on `$PORT` and "extra" on `$EXTRA_PORT`.
const TWO_PORTS: &str = r#"import http.server, os, threading

def serve(port, text):
    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", str(len(text)))
            self.end_headers()
            self.wfile.write(text.encode())
    http.server.HTTPServer(("127.0.0.1", int(port)), H).serve_forever()

threading.Thread(target=serve, args=(os.environ["EXTRA_PORT"], "extra"), daemon=True).start()
serve(os.environ["PORT"], "main")
"#;

async fn extra_port_bindings_reach_the_app(db: TestDb) -> anyhow::Result<()> {
    let extra = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let repo = git_repo(&[("app.py", TWO_PORTS)])?;
    let server = TestServer::spawn(db, &[]).await?;
    let alice = server.user("alice").await?;
    let id = create(
        &alice,
        json!({
            "name": "two-ports",
            "repository": { "url": file_url(repo.path()) },
            "ports": [{ "env": "EXTRA_PORT", "hostPort": extra }],
            "resources": { "cpuMillis": 500, "memoryMb": 256 },
        }),
    )
    .await?;
    let seen = statuses_until_settled(&alice, &id).await?;
    assert_eq!(seen.last().map(String::as_str), Some("RUNNING"), "{seen:?}");
    let shown = alice
        .data(
            "query($id: ID!) { application(id: $id) {
                resources { cpuMillis memoryMb }
                portBindings { env hostPort count protocol } } }",
            json!({ "id": id }),
        )
        .await?;
    assert_eq!(
        shown["application"]["resources"],
        json!({ "cpuMillis": 500, "memoryMb": 256 })
    );
    assert_eq!(
        shown["application"]["portBindings"],
        json!([{ "env": "EXTRA_PORT", "hostPort": extra, "count": 1, "protocol": "TCP" }])
    );
    let body = reqwest::get(format!("http://127.0.0.1:{extra}/"))
        .await?
        .text()
        .await?;
    assert_eq!(body, "extra");
    Ok(())
}
on_both_databases!(extra_port_bindings_reach_the_app);
