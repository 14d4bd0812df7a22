//! The platform on Nomad, through the real binary: `--runtime nomad` with `NOMAD_ADDR`,
//! `NOMAD_TOKEN` and `NOMAD_NAMESPACE` pointing at the Nomad API served by the test
//! (`paas_tests::nomad`), images built with the real Podman and pushed to a real registry
//! (`PAAS_REGISTRY`). Status goes PENDING → BUILDING → STARTING → RUNNING; the app answers on
//! the allocation's address; its output reaches the log; restart restarts the allocation in
//! place; a crash the job cannot recover from fails the app with Nomad's reason; a deployment
//! Nomad has no room for is taken back (the job reverted) while the live one serves; delete
//! deregisters the job.

use std::time::Duration;

use paas_tests::apps::hello;
use paas_tests::nomad::{FakeNomad, NextAlloc};
use paas_tests::podman::{Cleanup, serve_args};
use paas_tests::repo::file_url;
use paas_tests::steps::{app, body, create, show, statuses_until_settled};
use paas_tests::{TestDb, TestServer, git_repo};
use serde_json::json;

use paas_tests::eventually;

pub(crate) const TOKEN: &str = "e2e-nomad-token";
pub(crate) const NAMESPACE: &str = "paas-apps";

const LOGS: &str = "query($app: ID!) {
  logs(appId: $app, streams: [STDOUT, STDERR, SYSTEM], limit: 1000) { lines { stream text } }
}";

/// The real registry scripts/setup-registry.sh serves: images are pushed there.
fn registry() -> String {
    std::env::var("PAAS_TEST_REGISTRY").unwrap_or_else(|_| "127.0.0.1:5000".into())
}

/// `paas serve --runtime nomad` (SQLite in a new directory, kept as long as the server) on
/// the test's Nomad API `fake` (token [`TOKEN`], namespace [`NAMESPACE`]), pushing images to
/// the registry; images are still built on Podman.
pub(crate) async fn serve_on_nomad(
    fake: &FakeNomad,
) -> anyhow::Result<(TestServer, tempfile::TempDir)> {
    let registry = registry();
    let mut args = serve_args();
    assert_eq!(args[0], "--runtime");
    args[1] = "nomad".into();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let dir = tempfile::tempdir()?;
    let database_url = TestDb::Sqlite.url(dir.path()).await?;
    let server = TestServer::spawn_in(
        dir.path(),
        &database_url,
        &args,
        &[
            ("NOMAD_ADDR", fake.address.as_str()),
            ("NOMAD_TOKEN", TOKEN),
            ("NOMAD_NAMESPACE", NAMESPACE),
            ("PAAS_REGISTRY", registry.as_str()),
            ("PAAS_REGISTRY_TLS_VERIFY", "false"),
        ],
    )
    .await?;
    Ok((server, dir))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apps_run_as_nomad_jobs() -> anyhow::Result<()> {
    let fake = FakeNomad::start(Some(TOKEN), Some(NAMESPACE)).await?;
    let (server, _dir) = serve_on_nomad(&fake).await?;
    let alice = server.user("alice").await?;
    let cleanup = Cleanup::default();

    let repo = git_repo(&[("app.py", &hello())])?;
    let id = create(
        &alice,
        json!({ "name": "on-nomad", "repository": { "url": file_url(repo.path()) },
                "resources": { "cpuMillis": 250, "memoryMb": 64 } }),
    )
    .await?;
    cleanup.track(&id);
    let seen = statuses_until_settled(&alice, &id).await?;
    assert_eq!(seen, ["PENDING", "BUILDING", "STARTING", "RUNNING"]);
    // The fake's allocation answers at the address Nomad allocated, through the router at the
    // app's stable URL: the route's backend is the allocation's address.
    assert_eq!(body(&alice, &id).await?, "hello from nomad");
    let job_id = format!("paas-{id}");
    let shown = show(&alice, &id).await?;
    assert!(
        shown["endpoint"]["url"]
            .as_str()
            .is_some_and(|u| u.starts_with("http://on-nomad.localhost:")),
        "{shown}"
    );
    let alloc = fake.allocs_of(&job_id)[0].clone();
    let serving = &shown["instances"][0];
    assert_eq!(serving["id"], alloc.id.as_str(), "{shown}");
    assert_eq!(
        (serving["host"].as_str(), serving["port"].as_u64()),
        (Some("127.0.0.1"), Some(u64::from(alloc.port))),
        "the allocation's address"
    );
    let job = fake.job(&job_id).ok_or_else(|| anyhow::anyhow!("no job"))?;
    let task = &job.job["TaskGroups"][0]["Tasks"][0];
    let image = task["Config"]["image"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let registry = registry();
    let pushed = format!("{registry}/paas/on-nomad:");
    assert!(image.starts_with(&pushed), "the pushed image: {task}");
    let tags: serde_json::Value =
        reqwest::get(format!("http://{registry}/v2/paas/on-nomad/tags/list"))
            .await?
            .error_for_status()?
            .json()
            .await?;
    let tag = image.trim_start_matches(&pushed);
    assert!(
        tags["tags"]
            .as_array()
            .is_some_and(|t| t.iter().any(|x| x == tag)),
        "the registry has it: {tags}"
    );
    assert_eq!(job.job["Namespace"], NAMESPACE);
    assert_eq!(task["Resources"]["CPU"], 250);
    assert_eq!(task["Resources"]["MemoryMB"], 64);

    // Its output reaches the app's log.
    eventually(Duration::from_secs(20), || async {
        let data = alice.data(LOGS, json!({ "app": id })).await?;
        let lines = data["logs"]["lines"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        Ok(lines
            .iter()
            .any(|l| l["stream"] == "STDOUT" && l["text"] == "listening")
            .then_some(()))
    })
    .await?;

    // Restart: the allocation is restarted in place.
    let alloc = fake.allocs_of(&job_id)[0].id.clone();
    alice
        .data(
            "mutation($id: ID!) { restartApplication(id: $id) { status } }",
            json!({ "id": id }),
        )
        .await?;
    let shown = eventually(Duration::from_secs(30), || async {
        let a = show(&alice, &id).await?;
        Ok((a["status"] == "RUNNING" && a["tasks"][0]["state"] == "SUCCEEDED").then_some(a))
    })
    .await?;
    assert_eq!(shown["tasks"][0]["kind"], "RESTART");
    assert_eq!(fake.alloc(&alloc).map(|a| a.restarts), Some(1));
    assert_eq!(fake.allocs_of(&job_id).len(), 1, "no new allocation");

    // A crash Nomad gave up on: the platform starts the job again (a new allocation).
    fake.crash(&alloc, 2, "Traceback: KeyError");
    eventually(Duration::from_secs(60), || async {
        let allocs = fake.allocs_of(&job_id);
        let fresh = allocs
            .iter()
            .any(|a| a.client_status == "running" && a.id != alloc);
        let a = app(&alice, &id).await?;
        Ok((fresh && a["status"] == "RUNNING").then_some(()))
    })
    .await?;
    assert_eq!(body(&alice, &id).await?, "hello from nomad");
    let data = alice.data(LOGS, json!({ "app": id })).await?;
    let system: Vec<String> = data["logs"]["lines"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|l| l["stream"] == "SYSTEM")
        .filter_map(|l| l["text"].as_str().map(str::to_owned))
        .collect();
    assert!(
        system.iter().any(|t| t.contains("exited with code 2"))
            && system.iter().any(|t| t.contains("Traceback: KeyError")),
        "the crash, in the log: {system:?}"
    );

    // No capacity for the next deployment: the job goes back to the version that serves, whose
    // allocation keeps serving.
    let serving = fake.job(&job_id).ok_or_else(|| anyhow::anyhow!("no job"))?;
    fake.set_next(NextAlloc::NoCapacity);
    alice
        .data(
            "mutation($id: ID!) { redeployApplication(id: $id) { status } }",
            json!({ "id": id }),
        )
        .await?;
    let shown = eventually(Duration::from_secs(120), || async {
        let a = app(&alice, &id).await?;
        Ok((a["deployments"][0]["status"] == "FAILED").then_some(a))
    })
    .await?;
    let error = shown["deployments"][0]["error"]
        .as_str()
        .unwrap_or_default();
    assert!(error.contains("no capacity"), "{error}");
    assert_eq!(shown["status"], "RUNNING");
    // Each attempt registered a version Nomad could not place and took it back at once.
    let reverts = fake.reverts();
    assert!(!reverts.is_empty(), "the unplaced version was reverted");
    assert!(reverts.iter().all(|(job, _)| *job == job_id), "{reverts:?}");
    assert_eq!(reverts[0].1, serving.version, "back to the serving version");
    let reverted = fake.job(&job_id).ok_or_else(|| anyhow::anyhow!("no job"))?;
    assert_eq!(
        reverted.version,
        serving.version + 2 * reverts.len() as u64,
        "one unplaced and one reverted version per attempt"
    );
    assert_eq!(
        reverted.job["TaskGroups"], serving.job["TaskGroups"],
        "the serving version's spec"
    );
    assert_eq!(body(&alice, &id).await?, "hello from nomad");

    // Delete deregisters the job.
    alice
        .data(
            "mutation($id: ID!) { deleteApplication(id: $id) }",
            json!({ "id": id }),
        )
        .await?;
    eventually(Duration::from_secs(30), || async {
        Ok(fake.job(&job_id).is_none().then_some(()))
    })
    .await?;
    assert!(fake.problems().is_empty(), "{:?}", fake.problems());
    assert!(
        fake.requests()
            .iter()
            .all(|r| r.token.as_deref() == Some(TOKEN))
    );
    Ok(())
}
