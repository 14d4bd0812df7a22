//! Replicas, through the router: an app with `minInstances: 3` runs three instances (three
//! processes, each on its own port), requests spread over all of them, a redeploy under a
//! client loop fails no request and replaces all three, a crashed replica is replaced alone
//! while the others serve (the app stays `RUNNING`), and `Platform::scale_to` adds replicas
//! (make before break) and drains the newest away, saying so in the `SYSTEM` log.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use paas_core::lock::LockKey;
use paas_core::model::AppId;
use paas_tests::apps::PythonApp;
use paas_tests::nomad::FakeNomad;
use paas_tests::podman::{Cleanup, containers_of, serve_args};
use paas_tests::router;
use paas_tests::steps::{
    FAST_CRASH_POLICY, commit_version, create, deployed_with, page, records_of, settled,
    statuses_until_settled,
};
use paas_tests::{Client, TestApp, TestDb, eventually};
use serde_json::{Value, json};

use crate::on_both_databases;

const REDEPLOY: &str =
    "mutation($id: ID!) { redeployApplication(id: $id, queue: true) { status } }";
const INSTANCES: &str = "query($id: ID!) {
  application(id: $id) { status instances { id port state startedAt deployment } }
}";

/// Answers `<version.txt>/<its port>`: which replica answered is in the body.
fn app() -> PythonApp {
    PythonApp::new()
        .prelude("version = open(\"version.txt\").read().strip()")
        .body("version + \"/\" + os.environ[\"PORT\"]")
}

/// Deploys `app` as `name` with `scaling`, at `v1`; returns the repository, id and URL once
/// the router serves it.
async fn deploy(
    alice: &Client,
    router: SocketAddr,
    name: &str,
    scaling: Value,
) -> anyhow::Result<(tempfile::TempDir, String, String)> {
    let (repo, id) = deployed_with(
        alice,
        name,
        &[("app.py", &app().source()), ("version.txt", "v1\n")],
        json!({ "scaling": scaling }),
    )
    .await?;
    let url = router::app_url(router, name);
    router::routed(router, &format!("{name}.localhost")).await?;
    Ok((repo, id, url))
}

/// The app's replicas as the API lists them: `(id, port, state, deployment)`.
async fn instances(alice: &Client, id: &str) -> anyhow::Result<Vec<(String, i64, String, String)>> {
    let data = alice.data(INSTANCES, json!({ "id": id })).await?;
    let list = data["application"]["instances"]
        .as_array()
        .context("no instances")?;
    Ok(list
        .iter()
        .map(|i| {
            let s = |k: &str| i[k].as_str().unwrap_or_default().to_owned();
            (
                s("id"),
                i["port"].as_i64().unwrap_or_default(),
                s("state"),
                s("deployment"),
            )
        })
        .collect())
}

/// Waits until exactly `n` replicas are listed, all `RUNNING`; returns them.
async fn running(
    alice: &Client,
    id: &str,
    n: usize,
) -> anyhow::Result<Vec<(String, i64, String, String)>> {
    eventually(Duration::from_secs(120), || async {
        let now = instances(alice, id).await?;
        Ok((now.len() == n && now.iter().all(|i| i.2 == "RUNNING")).then_some(now))
    })
    .await
    .with_context(|| format!("{id} never listed {n} running replicas"))
}

/// Waits until the app `name` has exactly `n` processes.
async fn processes_are(server: &TestApp, name: &str, n: usize) -> anyhow::Result<()> {
    eventually(Duration::from_secs(60), || async {
        Ok((records_of(&server.data_dir, name)?.len() == n).then_some(()))
    })
    .await
    .with_context(|| format!("{name} never had {n} processes"))
}

/// `count` requests one after the other through the router: how many each body got.
async fn spread(
    router: SocketAddr,
    url: &str,
    count: usize,
) -> anyhow::Result<BTreeMap<String, usize>> {
    let http = router::client_for(router, url)?;
    let mut seen = BTreeMap::new();
    for _ in 0..count {
        let r = http.get(url).send().await?;
        anyhow::ensure!(r.status() == 200, "status {}", r.status());
        *seen.entry(r.text().await?).or_insert(0) += 1;
    }
    Ok(seen)
}

/// Redeploys `v2` of the app while clients call it through the router: no request fails, both
/// versions answer, and as many new replicas as `first` replace them all. Returns the new ones.
async fn redeploy_under_load(
    alice: &Client,
    router: SocketAddr,
    id: &str,
    url: &str,
    repo: &tempfile::TempDir,
    first: &[(String, i64, String, String)],
) -> anyhow::Result<Vec<(String, i64, String, String)>> {
    const CLIENTS: usize = 4;
    let stop = Arc::new(AtomicBool::new(false));
    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        let (stop, url) = (stop.clone(), url.to_owned());
        let http = router::client_for(router, &url)?;
        clients.push(tokio::spawn(async move {
            let (mut failures, mut bodies) = (Vec::new(), BTreeSet::new());
            let mut pace = tokio::time::interval(Duration::from_millis(10));
            while !stop.load(Ordering::SeqCst) {
                pace.tick().await;
                match http.get(&url).send().await {
                    Ok(r) if r.status() == 200 => match r.text().await {
                        Ok(body) => {
                            bodies.insert(body);
                        }
                        Err(e) => failures.push(format!("body: {e:?}")),
                    },
                    Ok(r) => failures.push(format!("status {}", r.status())),
                    Err(e) => failures.push(format!("{e:?}")),
                }
            }
            (failures, bodies)
        }));
    }
    settled(alice, id).await?;
    commit_version(repo.path(), &[("version.txt", "v2\n")])?;
    alice.data(REDEPLOY, json!({ "id": id })).await?;
    let second = eventually(Duration::from_secs(180), || async {
        let now = instances(alice, id).await?;
        let new: Vec<_> = now
            .iter()
            .filter(|i| i.2 == "RUNNING" && !first.iter().any(|f| f.0 == i.0))
            .cloned()
            .collect();
        Ok((new.len() == first.len() && now.len() == first.len()).then_some(new))
    })
    .await
    .context("the old replicas never left")?;
    // Calls on the new ones for a moment before the clients stop.
    let _ = spread(router, url, 10).await?;
    stop.store(true, Ordering::SeqCst);
    let mut answered = BTreeSet::new();
    for client in clients {
        let (failures, bodies) = client.await?;
        assert!(failures.is_empty(), "failed requests: {failures:?}");
        answered.extend(bodies);
    }
    assert!(
        answered.iter().any(|b| b.starts_with("v1/")),
        "{answered:?}"
    );
    assert!(
        answered.iter().any(|b| b.starts_with("v2/")),
        "{answered:?}"
    );
    Ok(second)
}

async fn three_replicas_share_the_load_and_redeploy_without_a_failed_request(
    db: TestDb,
) -> anyhow::Result<()> {
    let server = TestApp::spawn(db, &[]).await?;
    let router = server.router.context("no router")?;
    let alice = server.user("alice").await?;
    let scaling = json!({ "minInstances": 3, "maxInstances": 3 });
    let (repo, id, url) = deploy(&alice, router, "trio", scaling).await?;

    // Three instances, each its own process on its own port.
    let first = running(&alice, &id, 3).await?;
    let ports: BTreeSet<i64> = first.iter().map(|i| i.1).collect();
    assert_eq!(ports.len(), 3, "{first:?}");
    processes_are(&server, "trio", 3).await?;

    // Requests one after the other: every replica answers some.
    let seen = spread(router, &url, 30).await?;
    let expected: BTreeSet<String> = ports.iter().map(|p| format!("v1/{p}")).collect();
    assert_eq!(
        seen.keys().cloned().collect::<BTreeSet<_>>(),
        expected,
        "{seen:?}"
    );
    assert!(seen.values().all(|n| *n >= 5), "uneven: {seen:?}");

    // A redeploy while clients call it: no request fails, three new replicas take over.
    let second = redeploy_under_load(&alice, router, &id, &url, &repo, &first).await?;
    let v2: BTreeSet<String> = second.iter().map(|i| format!("v2/{}", i.1)).collect();
    let seen = spread(router, &url, 30).await?;
    assert_eq!(
        seen.keys().cloned().collect::<BTreeSet<_>>(),
        v2,
        "{seen:?}"
    );
    processes_are(&server, "trio", 3).await?;
    Ok(())
}
on_both_databases!(three_replicas_share_the_load_and_redeploy_without_a_failed_request);

async fn a_crashed_replica_is_replaced_while_the_others_serve(db: TestDb) -> anyhow::Result<()> {
    let server = TestApp::spawn(db, FAST_CRASH_POLICY).await?;
    let router = server.router.context("no router")?;
    let alice = server.user("alice").await?;
    let scaling = json!({ "minInstances": 3, "maxInstances": 3 });
    let (_repo, id, url) = deploy(&alice, router, "sturdy", scaling).await?;
    let before = running(&alice, &id, 3).await?;
    processes_are(&server, "sturdy", 3).await?;

    let victim = before[0].clone();
    let (_, pgid) = records_of(&server.data_dir, "sturdy")?
        .into_iter()
        .find(|(instance, _)| *instance == victim.0)
        .context("no process for the replica")?;
    killpg(Pid::from_raw(pgid), Signal::SIGKILL)?;

    // Replaced alone: the two others keep their ids, a new third one joins.
    let after = eventually(Duration::from_secs(60), || async {
        let now = instances(&alice, &id).await?;
        let replaced = now.len() == 3
            && now.iter().all(|i| i.2 == "RUNNING" && i.0 != victim.0)
            && before[1..].iter().all(|b| now.iter().any(|i| i.0 == b.0));
        Ok(replaced.then_some(now))
    })
    .await;
    let after = match after {
        Ok(after) => after,
        Err(e) => {
            let shown = alice.data(INSTANCES, json!({ "id": id })).await?;
            let system = page(&alice, json!({ "app": id, "streams": ["SYSTEM"] })).await?;
            anyhow::bail!("the crashed replica was never replaced ({e}): {shown} {system}");
        }
    };
    let shown = alice.data(INSTANCES, json!({ "id": id })).await?;
    assert_eq!(shown["application"]["status"], "RUNNING", "{shown}");
    processes_are(&server, "sturdy", 3).await?;
    let ports: BTreeSet<String> = after.iter().map(|i| format!("v1/{}", i.1)).collect();
    let seen = spread(router, &url, 30).await?;
    assert_eq!(
        seen.keys().cloned().collect::<BTreeSet<_>>(),
        ports,
        "{seen:?}"
    );

    // The app never left RUNNING: no status line after the first RUNNING.
    let system = page(
        &alice,
        json!({ "app": id, "streams": ["SYSTEM"], "limit": 200 }),
    )
    .await?;
    let texts: Vec<&str> = system["lines"]
        .as_array()
        .context("no lines")?
        .iter()
        .filter_map(|l| l["text"].as_str())
        .collect();
    let running_at = texts
        .iter()
        .position(|t| t.starts_with("status RUNNING"))
        .context("never RUNNING")?;
    assert!(
        !texts[running_at + 1..]
            .iter()
            .any(|t| t.starts_with("status ")),
        "{texts:?}"
    );
    assert!(
        texts.iter().any(|t| t.contains("replica(s) crashed")),
        "{texts:?}"
    );
    Ok(())
}
on_both_databases!(a_crashed_replica_is_replaced_while_the_others_serve);

async fn scale_to_adds_and_drains_replicas(db: TestDb) -> anyhow::Result<()> {
    let server = TestApp::spawn(db, &[]).await?;
    let router = server.router.context("no router")?;
    let alice = server.user("alice").await?;
    // The scaler keeps an app within min..max: 1..4 leaves the count to this test.
    let scaling = json!({ "minInstances": 1, "maxInstances": 4, "targetConcurrency": 1000 });
    let (_repo, id, url) = deploy(&alice, router, "elastic", scaling).await?;
    let one = running(&alice, &id, 1).await?;
    let platform = server.platform();
    let app: AppId = id.parse()?;
    let scale = |n: u32, why: &'static str| async move {
        let lease = platform
            .locks()
            .acquire(
                &LockKey::App(app),
                "a test scaling",
                Duration::from_secs(30),
            )
            .await?;
        let out = platform
            .locks()
            .hold(lease, platform.scale_to(app, n, why))
            .await?;
        anyhow::Ok(out)
    };

    assert_eq!(scale(3, "a test asks for three").await?, 3);
    let three = running(&alice, &id, 3).await?;
    assert!(three.iter().any(|i| i.0 == one[0].0), "the first one stays");
    processes_are(&server, "elastic", 3).await?;
    let seen = spread(router, &url, 30).await?;
    assert_eq!(seen.len(), 3, "{seen:?}");

    assert_eq!(scale(1, "a test asks for one").await?, 1);
    let left = running(&alice, &id, 1).await?;
    assert_eq!(left[0].0, one[0].0, "the newest went, the oldest stays");
    processes_are(&server, "elastic", 1).await?;
    let seen = spread(router, &url, 10).await?;
    assert_eq!(seen.len(), 1, "{seen:?}");

    let system = page(
        &alice,
        json!({ "app": id, "streams": ["SYSTEM"], "limit": 200 }),
    )
    .await?;
    let texts = system["lines"].to_string();
    assert!(
        texts.contains("scaled from 1 to 3 instance(s): a test asks for three"),
        "{texts}"
    );
    assert!(
        texts.contains("scaled from 3 to 1 instance(s): a test asks for one"),
        "{texts}"
    );
    Ok(())
}
on_both_databases!(scale_to_adds_and_drains_replicas);

/// The same on Podman: three containers, each with its own published port; requests spread
/// over them (each answers with its hostname, the container's), a redeploy fails none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_containers_share_the_load_and_redeploy_without_a_failed_request()
-> anyhow::Result<()> {
    let args = serve_args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = TestApp::spawn(TestDb::Sqlite, &args).await?;
    let router = server.router.context("no router")?;
    let alice = server.user("alice").await?;
    let cleanup = Cleanup::default();
    let source = PythonApp::new()
        .prelude("import socket\nversion = open(\"version.txt\").read().strip()")
        .body("version + \"/\" + socket.gethostname()")
        .source();
    let repo = paas_tests::git_repo(&[("app.py", &source), ("version.txt", "v1\n")])?;
    let input = json!({
        "name": "pod-trio",
        "repository": { "url": paas_tests::repo::file_url(repo.path()) },
        "scaling": { "minInstances": 3, "maxInstances": 3 },
    });
    let id = create(&alice, input).await?;
    cleanup.track(&id);
    let seen = statuses_until_settled(&alice, &id).await?;
    assert_eq!(seen.last().map(String::as_str), Some("RUNNING"), "{seen:?}");
    let first = running(&alice, &id, 3).await?;
    let ports: BTreeSet<i64> = first.iter().map(|i| i.1).collect();
    assert_eq!(ports.len(), 3, "a published port each: {first:?}");
    let containers = containers_of(&id).await?;
    assert_eq!(containers.len(), 3, "{containers:?}");

    let url = router::app_url(router, "pod-trio");
    router::routed(router, "pod-trio.localhost").await?;
    let spread_v1 = spread(router, &url, 30).await?;
    assert_eq!(
        spread_v1.len(),
        3,
        "every container answers some: {spread_v1:?}"
    );

    redeploy_under_load(&alice, router, &id, &url, &repo, &first).await?;
    let spread_v2 = spread(router, &url, 30).await?;
    assert_eq!(spread_v2.len(), 3, "{spread_v2:?}");
    assert!(
        spread_v2.keys().all(|b| b.starts_with("v2/")),
        "{spread_v2:?}"
    );
    let now = eventually(Duration::from_secs(60), || async {
        let now = containers_of(&id).await?;
        Ok((now.len() == 3).then_some(now))
    })
    .await
    .context("the old containers were never removed")?;
    assert!(
        now.iter().all(|c| !containers.contains(c)),
        "{now:?} {containers:?}"
    );
    Ok(())
}

/// On Nomad (the test's Nomad API): `minInstances: 3` is the job group's count, three
/// allocations each at its own address, all listed and routed; scaling down to one lowers the
/// count.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_nomad_replicas_are_the_group_count() -> anyhow::Result<()> {
    use crate::nomad::{NAMESPACE, TOKEN, serve_on_nomad};
    let fake = FakeNomad::start(Some(TOKEN), Some(NAMESPACE)).await?;
    let (server, _dir) = serve_on_nomad(&fake).await?;
    let alice = server.user("alice").await?;
    let cleanup = Cleanup::default();
    let repo = paas_tests::git_repo(&[("app.py", &paas_tests::apps::hello())])?;
    let id = create(
        &alice,
        json!({ "name": "nomad-trio", "repository": { "url": paas_tests::repo::file_url(repo.path()) },
                "scaling": { "minInstances": 3, "maxInstances": 3 } }),
    )
    .await?;
    cleanup.track(&id);
    let seen = statuses_until_settled(&alice, &id).await?;
    assert_eq!(seen.last().map(String::as_str), Some("RUNNING"), "{seen:?}");

    let job_id = format!("paas-{id}");
    let listed = running(&alice, &id, 3).await?;
    let job = fake.job(&job_id).context("no job")?;
    assert_eq!(job.job["TaskGroups"][0]["Count"], 3, "{}", job.job);
    let live: Vec<_> = fake
        .allocs_of(&job_id)
        .into_iter()
        .filter(|a| a.desired_status == "run")
        .collect();
    assert_eq!(live.len(), 3, "{live:?}");
    for a in &live {
        assert!(
            listed
                .iter()
                .any(|l| l.0 == a.id && l.1 == i64::from(a.port)),
            "allocation {} at port {} listed: {listed:?}",
            a.id,
            a.port
        );
    }
    let router = server.router.context("no router")?;
    let url = router::app_url(router, "nomad-trio");
    router::routed(router, "nomad-trio.localhost").await?;
    let seen = spread(router, &url, 9).await?;
    assert_eq!(seen.get("hello from nomad"), Some(&9), "{seen:?}");

    // One replica: the scaler lowers the count once minInstances is 1.
    alice
        .data(
            "mutation($id: ID!, $input: UpdateApplicationInput!) {
               updateApplication(id: $id, input: $input, queue: true) { status } }",
            json!({ "id": id, "input": { "scaling": { "minInstances": 1, "maxInstances": 1 } } }),
        )
        .await?;
    running(&alice, &id, 1).await?;
    eventually(Duration::from_secs(60), || async {
        let count = fake
            .job(&job_id)
            .map(|j| j.job["TaskGroups"][0]["Count"].clone());
        Ok((count == Some(json!(1))).then_some(()))
    })
    .await
    .context("the group's count never went down to 1")?;
    assert_eq!(fake.problems(), Vec::<String>::new());
    Ok(())
}
