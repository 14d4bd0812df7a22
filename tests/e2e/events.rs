//! The event log and notifications: a whole life cycle recorded in order and paged without
//! duplicates or gaps, seen by its owner (and an admin) only, streamed live; a crash loop
//! notified once while it lasts, marked read, and cleared when a good commit runs; retention;
//! low disk space notified to admins.

use std::time::Duration;

use chrono::Utc;
use paas_core::event_log::{EventKind, EventRecord, LoggedEvent};
use paas_tests::apps::{crashing, hello};
use paas_tests::client::Client;
use paas_tests::repo::file_url;
use paas_tests::steps::{
    FAST_CRASH_POLICY, commit_version, create, deployed, settled, until_status,
};
use paas_tests::{TestApp, TestDb, eventually, git_repo};
use serde_json::{Value, json};

use crate::on_both_databases;

const EVENTS: &str = "query($app: ID, $kinds: [EventKind!], $first: Int, $after: String) {
  events(appId: $app, kinds: $kinds, first: $first, after: $after) {
    edges { cursor node { id kind app { id name } message details at } }
    pageInfo { hasNextPage }
  }
}";

const FOLLOW: &str = "subscription($app: ID) { events(appId: $app) { id kind message } }";

const NOTIFICATIONS: &str = "query($unread: Boolean) {
  notifications(unread: $unread, first: 100) {
    edges { node { id kind app { id name } appName message read at clearedAt } }
  }
}";

const MARK_READ: &str = "mutation($ids: [ID!]) { markNotificationsRead(ids: $ids) }";

const UPDATE: &str = "mutation($id: ID!, $input: UpdateApplicationInput!) {
  updateApplication(id: $id, input: $input) { version }
}";

/// Every event `vars` selects, newest first, read `first` at a time.
async fn all_events(client: &Client, vars: Value, first: i64) -> anyhow::Result<Vec<Value>> {
    let mut out = Vec::new();
    let mut after = Value::Null;
    loop {
        let mut v = vars.clone();
        v["first"] = json!(first);
        v["after"] = after;
        let page = client.data(EVENTS, v).await?["events"].clone();
        let edges = page["edges"].as_array().cloned().unwrap_or_default();
        anyhow::ensure!(edges.len() as i64 <= first, "page too long: {page}");
        after = edges.last().map_or(Value::Null, |e| e["cursor"].clone());
        out.extend(edges.into_iter().map(|e| e["node"].clone()));
        if page["pageInfo"]["hasNextPage"] != true {
            return Ok(out);
        }
    }
}

fn kinds(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["kind"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Waits until the newest event of the app is of `kind`.
async fn until_event(client: &Client, id: &str, kind: &str) -> anyhow::Result<()> {
    eventually(Duration::from_secs(90), || async {
        let events = all_events(client, json!({ "app": id }), 100).await?;
        Ok((events.first().is_some_and(|e| e["kind"] == kind)).then_some(()))
    })
    .await
}

async fn notifications(client: &Client, unread: bool) -> anyhow::Result<Vec<Value>> {
    let data = client
        .data(NOTIFICATIONS, json!({ "unread": unread }))
        .await?;
    Ok(data["notifications"]["edges"]
        .as_array()
        .map(|e| e.iter().map(|e| e["node"].clone()).collect())
        .unwrap_or_default())
}

async fn a_life_cycle_is_recorded_in_order(db: TestDb) -> anyhow::Result<()> {
    let server = TestApp::spawn(db, &[]).await?;
    let alice = server.user("alice").await?;
    let bob = server.user("bob").await?;
    let (_repo, id) = deployed(&alice, "journal", &[("app.py", &hello())]).await?;
    until_event(&alice, &id, "DEPLOY_SUCCEEDED").await?;
    let mut live = alice.subscribe(FOLLOW, json!({ "app": id })).await?;

    let secret = json!({ "setEnv": [{ "key": "GREETING", "value": "hush-hush" }] });
    alice
        .data(UPDATE, json!({ "id": id, "input": secret }))
        .await?;
    let first = live.next(Duration::from_secs(30)).await?;
    assert_eq!(first["data"]["events"]["kind"], "UPDATED", "{first}");
    settled(&alice, &id).await?;
    alice
        .data(
            "mutation($id: ID!) { restartApplication(id: $id) { status } }",
            json!({ "id": id }),
        )
        .await?;
    until_event(&alice, &id, "RESTARTED").await?;
    settled(&alice, &id).await?;
    let scaling = json!({ "scaling": { "minInstances": 2, "maxInstances": 2 } });
    alice
        .data(UPDATE, json!({ "id": id, "input": scaling }))
        .await?;
    until_event(&alice, &id, "SCALED").await?;
    settled(&alice, &id).await?;
    alice
        .data(
            "mutation($id: ID!) { stopApplication(id: $id) { status } }",
            json!({ "id": id }),
        )
        .await?;
    until_status(&alice, &id, "STOPPED").await?;
    until_event(&alice, &id, "STOPPED").await?;
    alice
        .data(
            "mutation($id: ID!) { startApplication(id: $id) { status } }",
            json!({ "id": id }),
        )
        .await?;
    settled(&alice, &id).await?;
    alice
        .data(
            "mutation($id: ID!) { deleteApplication(id: $id) }",
            json!({ "id": id }),
        )
        .await?;
    until_event(&alice, &id, "DELETED").await?;

    let everything = all_events(&alice, json!({ "app": id }), 100).await?;
    let mut want = vec![
        "APP_CREATED",
        "DEPLOY_STARTED",
        "DEPLOY_SUCCEEDED",
        "UPDATED",
        "DEPLOY_STARTED",
        "DEPLOY_SUCCEEDED",
        "RESTARTED",
        "UPDATED",
        "SCALED",
        "STOPPED",
        "STARTED",
        "DELETED",
    ];
    want.reverse();
    assert_eq!(kinds(&everything), want, "newest first: {everything:#?}");
    assert!(everything.iter().all(|e| e["app"]["name"] == "journal"));
    let updated = everything
        .iter()
        .find(|e| e["kind"] == "UPDATED" && e["details"]["envKeys"] != json!([]))
        .cloned()
        .unwrap_or_default();
    assert_eq!(updated["details"]["envKeys"], json!(["GREETING"]));
    assert_eq!(updated["details"]["fields"], json!(["env"]));
    let scaled = everything.iter().find(|e| e["kind"] == "SCALED");
    assert_eq!(
        scaled.map(|e| e["details"].clone()),
        Some(json!({ "from": 1, "to": 2 }))
    );
    let text = serde_json::to_string(&everything)?;
    assert!(!text.contains("hush-hush"), "an env value in the event log");

    // Paged two at a time: the same events, each once, in the same order.
    let paged = all_events(&alice, json!({ "app": id }), 2).await?;
    let ids = |events: &[Value]| -> Vec<String> {
        events
            .iter()
            .map(|e| e["id"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    assert_eq!(ids(&paged), ids(&everything));
    // Filtered by kind.
    let crashes = all_events(
        &alice,
        json!({ "app": id, "kinds": ["DEPLOY_SUCCEEDED"] }),
        10,
    )
    .await?;
    assert_eq!(crashes.len(), 2);

    // Another user sees none of it and cannot follow it; an admin sees it all.
    assert!(all_events(&bob, json!({}), 100).await?.is_empty());
    let theirs = json!({ "app": id, "first": 10 });
    assert_eq!(bob.error_code(EVENTS, theirs).await?, "NOT_FOUND");
    let mut theirs = bob.subscribe(FOLLOW, json!({ "app": id })).await?;
    let refused = theirs.next(Duration::from_secs(10)).await?;
    assert_eq!(refused["data"], Value::Null, "{refused}");
    assert_eq!(
        refused["errors"][0]["extensions"]["code"], "NOT_FOUND",
        "{refused}"
    );
    let carol = server.user("carol").await?;
    let carol_id = carol.data("{ me { id } }", json!({})).await?["me"]["id"]
        .as_str()
        .unwrap_or_default()
        .parse()?;
    server.platform().store().set_admin(carol_id, true).await?;
    let seen = all_events(&carol, json!({ "app": id }), 100).await?;
    assert_eq!(ids(&seen), ids(&everything));
    Ok(())
}
on_both_databases!(a_life_cycle_is_recorded_in_order);

async fn a_crash_loop_is_notified_once_until_a_good_commit_runs(db: TestDb) -> anyhow::Result<()> {
    let server = TestApp::spawn(db, FAST_CRASH_POLICY).await?;
    let alice = server.user("alice").await?;
    let bob = server.user("bob").await?;
    let repo = git_repo(&[("app.py", &crashing())])?;
    let id = create(
        &alice,
        json!({ "name": "crashy", "repository": { "url": file_url(repo.path()) } }),
    )
    .await?;
    until_status(&alice, &id, "FAILED").await?;
    let crashes = all_events(&alice, json!({ "app": id, "kinds": ["CRASHED"] }), 100).await?;
    assert_eq!(crashes.len(), 3, "{crashes:#?}");
    assert_eq!(crashes[0]["details"]["exitCode"], 3);

    // Restarted by hand, it crash-loops again before it ran steadily: the same condition.
    alice
        .data(
            "mutation($id: ID!) { restartApplication(id: $id) { status } }",
            json!({ "id": id }),
        )
        .await?;
    eventually(Duration::from_secs(90), || async {
        let crashes = all_events(&alice, json!({ "app": id, "kinds": ["CRASHED"] }), 100).await?;
        Ok((crashes.len() == 4).then_some(()))
    })
    .await?;
    until_status(&alice, &id, "FAILED").await?;
    let raised = notifications(&alice, false).await?;
    assert_eq!(raised.len(), 1, "{raised:#?}");
    let n = &raised[0];
    assert_eq!(n["kind"], "CRASH_LOOP");
    assert_eq!(n["app"]["id"], json!(id));
    assert_eq!(n["appName"], "crashy");
    assert_eq!(n["read"], false);
    assert_eq!(n["clearedAt"], Value::Null);
    assert!(
        n["message"].as_str().unwrap_or_default().contains("code 3"),
        "{n}"
    );
    assert!(notifications(&bob, false).await?.is_empty());

    // Bob cannot mark Alice's notification read; Alice can.
    let marked = bob.data(MARK_READ, json!({ "ids": [n["id"]] })).await?;
    assert_eq!(marked["markNotificationsRead"], 0);
    let marked = alice.data(MARK_READ, json!({ "ids": [n["id"]] })).await?;
    assert_eq!(marked["markNotificationsRead"], 1);
    assert!(notifications(&alice, true).await?.is_empty());
    assert_eq!(notifications(&alice, false).await?[0]["read"], true);

    // A good commit runs: the condition is over.
    let good = commit_version(repo.path(), &[("app.py", &hello())])?;
    alice
        .data(
            "mutation($id: ID!, $c: String) { redeployApplication(id: $id, commit: $c) { status } }",
            json!({ "id": id, "c": good }),
        )
        .await?;
    until_status(&alice, &id, "RUNNING").await?;
    let after = eventually(Duration::from_secs(30), || async {
        let all = notifications(&alice, false).await?;
        Ok((all.first().is_some_and(|n| n["clearedAt"] != Value::Null)).then_some(all))
    })
    .await?;
    assert_eq!(after.len(), 1, "{after:#?}");
    Ok(())
}
on_both_databases!(a_crash_loop_is_notified_once_until_a_good_commit_runs);

async fn old_events_are_pruned(db: TestDb) -> anyhow::Result<()> {
    let server = TestApp::spawn(db, &["--event-retention-days", "1"]).await?;
    let alice = server.user("alice").await?;
    let me = alice.data("{ me { id } }", json!({})).await?["me"]["id"]
        .as_str()
        .unwrap_or_default()
        .parse()?;
    let store = server.platform().store();
    let at = |hours| Utc::now() - chrono::Duration::hours(hours);
    let mut old = LoggedEvent::new(EventRecord::user(me, EventKind::TokenCreated, "old"));
    old.at = at(48);
    store.add_event(&old).await?;
    let mut recent = LoggedEvent::new(EventRecord::user(me, EventKind::TokenRevoked, "recent"));
    recent.at = at(12);
    store.add_event(&recent).await?;
    alice
        .data("mutation { setGitToken(token: \"t0k3n\") }", json!({}))
        .await?;
    // The retention loop may have pruned it already: either way it is gone once pruned.
    server.platform().prune_events().await?;
    let left = all_events(&alice, json!({}), 10).await?;
    assert_eq!(kinds(&left), ["TOKEN_CREATED", "TOKEN_REVOKED"]);
    assert_eq!(left[1]["message"], "recent");
    assert_eq!(left[0]["details"]["host"], "repositories");
    assert!(!serde_json::to_string(&left)?.contains("t0k3n"));
    Ok(())
}
on_both_databases!(old_events_are_pruned);

async fn low_disk_space_is_notified_to_admins_once(db: TestDb) -> anyhow::Result<()> {
    // Every disk has less than 100% free: the condition holds.
    let server = TestApp::spawn(db, &["--disk-low-percent", "100"]).await?;
    let alice = server.user("alice").await?;
    let root = server.user("root").await?;
    let root_id = root.data("{ me { id } }", json!({})).await?["me"]["id"]
        .as_str()
        .unwrap_or_default()
        .parse()?;
    server.platform().store().set_admin(root_id, true).await?;
    server.platform().check_disk().await?;
    server.platform().check_disk().await?;
    let raised = notifications(&root, false).await?;
    assert_eq!(kinds(&raised), ["DISK_LOW"]);
    assert_eq!(raised[0]["app"], Value::Null);
    assert!(notifications(&alice, false).await?.is_empty());
    let marked = root.data(MARK_READ, json!({})).await?;
    assert_eq!(marked["markNotificationsRead"], 1);
    Ok(())
}
on_both_databases!(low_disk_space_is_notified_to_admins_once);
