//! Notifications out of the platform: a crash loop mails the app's owner once (a real SMTP
//! server, Debian's `aiosmtpd`), not again within the hour, and a dead mail server slows and
//! fails nothing; every notification is POSTed, signed, to the owner's webhooks, retried when
//! the receiver fails, each attempt visible; bad addresses and URLs change nothing; nobody
//! sees or deletes another user's webhooks.

use hmac::{Hmac, KeyInit, Mac};
use paas_tests::apps::{crashing, hello};
use paas_tests::dump::{database_dump, holds};
use paas_tests::notify::{SmtpServer, WebhookReceiver, free_port, json_of};
use paas_tests::repo::file_url;
use paas_tests::steps::{FAST_CRASH_POLICY, create, until_status};
use paas_tests::{Client, TestDb, TestServer, eventually, git_repo};
use serde_json::{Value, json};
use sha2_hmac::Sha256;
use std::time::Duration;

use crate::on_both_databases;

const SET_EMAIL: &str = "mutation($email: String) { setEmail(email: $email) { email } }";
const ME: &str = "{ me { email } }";
const CREATE_HOOK: &str = "mutation($url: String!) {
  createNotificationWebhook(url: $url) { webhook { id url createdAt } secret }
}";
const HOOKS: &str = "{ notificationWebhooks {
  id url deliveries(first: 10) { deliveryId attempt at status httpStatus error }
} }";
const DELETE_HOOK: &str = "mutation($id: ID!) { deleteNotificationWebhook(id: $id) }";
const REDEPLOY: &str = "mutation($id: ID!) { redeployApplication(id: $id, queue: true) { id } }";

/// `paas serve` with the fast restart policy and these extra flags.
async fn server(db: TestDb, extra: &[&str]) -> anyhow::Result<TestServer> {
    let args: Vec<&str> = FAST_CRASH_POLICY.iter().chain(extra).copied().collect();
    TestServer::spawn(db, &args).await
}

/// Creates an app from `source` and waits until its crash loop failed it.
async fn crash_loop(client: &Client, name: &str) -> anyhow::Result<(String, tempfile::TempDir)> {
    let repo = git_repo(&[("app.py", &crashing())])?;
    let id = create(
        client,
        json!({ "name": name, "repository": { "url": file_url(repo.path()) } }),
    )
    .await?;
    until_status(client, &id, "FAILED").await?;
    Ok((id, repo))
}

async fn a_crash_loop_mails_the_owner_once_an_hour(db: TestDb) -> anyhow::Result<()> {
    let smtp = SmtpServer::start().await?;
    let url = smtp.url();
    let server = server(
        db,
        &["--smtp-url", &url, "--mail-from", "paas@test.example"],
    )
    .await?;
    let alice = server.user("alice").await?;
    let set = alice
        .data(SET_EMAIL, json!({ "email": "alice@example.com" }))
        .await?;
    assert_eq!(set["setEmail"]["email"], "alice@example.com");
    assert_eq!(
        alice.data(ME, json!({})).await?["me"]["email"],
        "alice@example.com"
    );

    let (id, _repo) = crash_loop(&alice, "crashy").await?;
    let mails = smtp.until_mails(1).await?;
    assert_eq!(mails.len(), 1, "{mails:?}");
    let mail = &mails[0];
    assert!(mail.to.contains("alice@example.com"), "{mail:?}");
    assert!(mail.subject.contains("crashy"), "{mail:?}");
    assert!(
        mail.body.contains("crashy") && mail.body.contains("code 3"),
        "{mail:?}"
    );
    assert!(
        mail.body.contains(&format!("{}/ui/apps/{id}", server.url)),
        "the mail links to the app: {mail:?}"
    );

    // The same condition again within the hour: no second mail.
    alice.data(REDEPLOY, json!({ "id": id })).await?;
    eventually(Duration::from_secs(120), || async {
        let app = until_status(&alice, &id, "FAILED").await?;
        let deployments = app["deployments"].as_array().map_or(0, Vec::len);
        Ok((deployments == 2 && app["deployments"][0]["status"] == "FAILED").then_some(()))
    })
    .await?;
    // Another app's crash loop is another condition: its mail arrives, and it went out after
    // the second crash loop of the first was decided.
    let (_other, _repo2) = crash_loop(&alice, "crashy2").await?;
    let mails = smtp.until_mails(2).await?;
    let about = |name: &str| {
        mails
            .iter()
            .filter(|m| m.subject.contains(&format!("{name}:")))
            .count()
    };
    assert_eq!((about("crashy"), about("crashy2")), (1, 1), "{mails:?}");
    Ok(())
}
on_both_databases!(a_crash_loop_mails_the_owner_once_an_hour);

async fn a_dead_mail_server_fails_and_slows_no_task(db: TestDb) -> anyhow::Result<()> {
    // Nothing listens on this port: every send fails, and is retried in the background.
    let url = format!("smtp://127.0.0.1:{}?tls=none", free_port()?);
    let server = server(db, &["--smtp-url", &url]).await?;
    let alice = server.user("alice").await?;
    alice
        .data(SET_EMAIL, json!({ "email": "alice@example.com" }))
        .await?;
    let (id, _repo) = crash_loop(&alice, "crashy").await?;
    let app = paas_tests::steps::settled(&alice, &id).await?;
    assert_eq!(app["status"], "FAILED");
    let tasks = app["tasks"].as_array().cloned().unwrap_or_default();
    assert!(
        tasks
            .iter()
            .all(|t| matches!(t["state"].as_str(), Some("SUCCEEDED" | "FAILED"))),
        "every task ended: {tasks:?}"
    );
    // Meanwhile another app is created and runs.
    let repo = git_repo(&[("app.py", &hello())])?;
    let other = create(
        &alice,
        json!({ "name": "steady", "repository": { "url": file_url(repo.path()) } }),
    )
    .await?;
    until_status(&alice, &other, "RUNNING").await?;
    assert!(server.url.starts_with("http://"));
    Ok(())
}
on_both_databases!(a_dead_mail_server_fails_and_slows_no_task);

fn signature_ok(secret: &str, body: &[u8], header: &str) -> bool {
    let Some(hex) = header.strip_prefix("sha256=") else {
        return false;
    };
    let Ok(tag) = hex::decode(hex) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&tag).is_ok()
}

async fn notification_webhooks_get_signed_json_with_retries(db: TestDb) -> anyhow::Result<()> {
    let receiver = WebhookReceiver::start(1).await?;
    let server = server(db, &[]).await?;
    let alice = server.user("alice").await?;
    let bob = server.user("bob").await?;

    // Bad input: typed errors, nothing changed.
    alice
        .data(SET_EMAIL, json!({ "email": "alice@example.com" }))
        .await?;
    for bad in ["not-an-address", "a b@example.com", ""] {
        let code = alice.error_code(SET_EMAIL, json!({ "email": bad })).await?;
        assert_eq!(code, "INVALID_EMAIL", "{bad}");
    }
    assert_eq!(
        alice.data(ME, json!({})).await?["me"]["email"],
        "alice@example.com"
    );
    let long = format!("https://example.com/{}", "a".repeat(3000));
    for bad in [
        "ftp://example.com/x",
        "not a url",
        "file:///etc/passwd",
        &long,
    ] {
        let code = alice.error_code(CREATE_HOOK, json!({ "url": bad })).await?;
        assert_eq!(code, "INVALID_WEBHOOK_URL", "{bad}");
    }
    assert_eq!(
        alice.data(HOOKS, json!({})).await?["notificationWebhooks"],
        json!([])
    );

    let created = alice
        .data(CREATE_HOOK, json!({ "url": receiver.url() }))
        .await?;
    let created = &created["createNotificationWebhook"];
    let (hook_id, secret) = (
        created["webhook"]["id"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        created["secret"].as_str().unwrap_or_default().to_owned(),
    );
    assert!(secret.len() >= 32, "{created}");
    assert_eq!(created["webhook"]["url"], receiver.url());
    let stored = database_dump(&server.database_url, &server.data_dir).await?;
    assert!(
        !holds(&stored, &secret),
        "the webhook's secret is sealed at rest"
    );

    // Bob sees none of it and cannot delete it.
    assert_eq!(
        bob.data(HOOKS, json!({})).await?["notificationWebhooks"],
        json!([])
    );
    let code = bob
        .error_code(DELETE_HOOK, json!({ "id": hook_id }))
        .await?;
    assert_eq!(code, "NOT_FOUND");

    // A crash loop: the receiver fails the first POST, the retry is delivered.
    let (app_id, _repo) = crash_loop(&alice, "crashy").await?;
    let posts = receiver.until_posts(2).await?;
    assert_eq!(posts[0].answered, 500);
    assert_eq!(posts[1].answered, 200);
    let header = |i: usize, name: &str| {
        posts[i]
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    for (i, post) in posts.iter().enumerate() {
        let signature = header(i, "x-paas-signature-256");
        assert!(
            signature_ok(&secret, &post.body, &signature),
            "post {i} is signed with the secret"
        );
        assert!(!signature_ok("another secret", &post.body, &signature));
    }
    assert_eq!(header(0, "x-paas-delivery"), header(1, "x-paas-delivery"));
    assert_eq!(posts[0].body, posts[1].body, "a retry sends the same body");
    let body: Value = json_of(&posts[1])?;
    assert_eq!(body["kind"], "CRASH_LOOP");
    assert_eq!(body["app"]["id"], app_id.as_str());
    assert_eq!(body["app"]["name"], "crashy");
    assert_eq!(body["id"], header(1, "x-paas-delivery").as_str());
    assert_eq!(body["link"], format!("{}/ui/apps/{app_id}", server.url));
    let text = body["text"].as_str().unwrap_or_default();
    assert!(text.contains("crashy") && text.contains("code 3"), "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("code 3")
    );
    assert!(chrono::DateTime::parse_from_rfc3339(body["at"].as_str().unwrap_or_default()).is_ok());

    // Both attempts are visible to Alice, newest first.
    let hooks = eventually(Duration::from_secs(30), || async {
        let hooks = alice.data(HOOKS, json!({})).await?["notificationWebhooks"].clone();
        let n = hooks[0]["deliveries"].as_array().map_or(0, Vec::len);
        Ok((n == 2).then_some(hooks))
    })
    .await?;
    let deliveries = &hooks[0]["deliveries"];
    assert_eq!(deliveries[0]["attempt"], 2);
    assert_eq!(deliveries[0]["status"], "DELIVERED");
    assert_eq!(deliveries[0]["httpStatus"], 200);
    assert_eq!(deliveries[1]["attempt"], 1);
    assert_eq!(deliveries[1]["status"], "FAILED");
    assert_eq!(deliveries[1]["httpStatus"], 500);
    assert!(
        deliveries[1]["error"]
            .as_str()
            .unwrap_or_default()
            .contains("500")
    );
    assert_eq!(
        deliveries[0]["deliveryId"],
        header(1, "x-paas-delivery").as_str()
    );

    // Alice deletes it; it is gone.
    assert_eq!(
        alice.data(DELETE_HOOK, json!({ "id": hook_id })).await?["deleteNotificationWebhook"],
        true
    );
    assert_eq!(
        alice.data(HOOKS, json!({})).await?["notificationWebhooks"],
        json!([])
    );
    let code = alice
        .error_code(DELETE_HOOK, json!({ "id": hook_id }))
        .await?;
    assert_eq!(code, "NOT_FOUND");
    // Clearing the email.
    let cleared = alice.data(SET_EMAIL, json!({ "email": null })).await?;
    assert_eq!(cleared["setEmail"]["email"], Value::Null);
    Ok(())
}
on_both_databases!(notification_webhooks_get_signed_json_with_retries);
