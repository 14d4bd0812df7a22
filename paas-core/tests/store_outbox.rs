//! What outgoing notifications keep in the store, on both databases: one mail per user and
//! condition per window (claimed by one conditional write, released when the mail could not be
//! sent), and webhooks and their attempts, each user's apart.

use chrono::{Duration, Utc};
use paas_core::model::{
    AttemptOutcome, NotificationWebhook, NotificationWebhookId, Secret, User, UserId,
    WebhookAttempt, WebhookUrl,
};
use paas_core::store::sql::SqlStore;
use paas_core::store::{OutboxStore, UserStore};
use paas_tests::{TestDatabase, TestDb, on_both_databases};

async fn store(db: TestDb, dir: &tempfile::TempDir) -> anyhow::Result<(SqlStore, TestDatabase)> {
    let url = db.url(dir.path()).await?;
    let store = SqlStore::connect(&url, paas_core::secrets::Keyring::ephemeral()).await?;
    store.migrate().await?;
    Ok((store, url))
}

async fn user(store: &SqlStore, name: &str) -> anyhow::Result<UserId> {
    let user = User {
        id: UserId::new(),
        name: name.into(),
        created_at: Utc::now(),
    };
    store.create_user(&user, &format!("hash-{name}")).await?;
    Ok(user.id)
}

async fn one_mail_per_condition_per_window(db: TestDb) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let (store, _db) = store(db, &dir).await?;
    let (alice, bob) = (user(&store, "alice").await?, user(&store, "bob").await?);
    let hour = Duration::hours(1);
    let t0 = Utc::now();
    assert!(
        store
            .claim_mail(alice, "CRASH_LOOP:a", t0, t0 - hour)
            .await?
    );
    // Within the hour: refused, whoever asks again.
    let t1 = t0 + Duration::minutes(10);
    assert!(
        !store
            .claim_mail(alice, "CRASH_LOOP:a", t1, t1 - hour)
            .await?
    );
    // Another condition, another user: their own windows.
    assert!(
        store
            .claim_mail(alice, "CRASH_LOOP:b", t1, t1 - hour)
            .await?
    );
    assert!(store.claim_mail(bob, "CRASH_LOOP:a", t1, t1 - hour).await?);
    // After the hour: allowed again, once.
    let t2 = t0 + Duration::minutes(61);
    assert!(
        store
            .claim_mail(alice, "CRASH_LOOP:a", t2, t2 - hour)
            .await?
    );
    assert!(
        !store
            .claim_mail(alice, "CRASH_LOOP:a", t2, t2 - hour)
            .await?
    );
    // A mail that could not be sent releases its claim: the next may go.
    store.release_mail(alice, "CRASH_LOOP:a", t2).await?;
    let t3 = t2 + Duration::minutes(1);
    assert!(
        store
            .claim_mail(alice, "CRASH_LOOP:a", t3, t3 - hour)
            .await?
    );
    Ok(())
}
on_both_databases!(one_mail_per_condition_per_window);

async fn webhooks_and_attempts_stay_with_their_user(db: TestDb) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let (store, _db) = store(db, &dir).await?;
    let (alice, bob) = (user(&store, "alice").await?, user(&store, "bob").await?);
    let hook = NotificationWebhook {
        id: NotificationWebhookId::new(),
        user: alice,
        url: WebhookUrl::parse("https://example.com/in")?,
        created_at: Utc::now(),
    };
    store
        .create_notification_webhook(&hook, &Secret::new("s3cret"))
        .await?;
    let listed = store.notification_webhooks(alice).await?;
    let listed: Vec<_> = listed
        .iter()
        .map(|h| (h.id, h.user, h.url.clone()))
        .collect();
    assert_eq!(listed, vec![(hook.id, alice, hook.url.clone())]);
    assert!(store.notification_webhooks(bob).await?.is_empty());
    let with_secret = store.notification_webhook_secrets(alice).await?;
    assert_eq!(with_secret[0].1.expose(), "s3cret");

    let delivery = uuid::Uuid::now_v7();
    let now = Utc::now();
    for (attempt, outcome, status) in [
        (1, AttemptOutcome::Failed, Some(500)),
        (2, AttemptOutcome::Delivered, Some(200)),
    ] {
        let record = WebhookAttempt {
            webhook: hook.id,
            delivery,
            attempt,
            at: now + Duration::seconds(i64::from(attempt)),
            outcome,
            http_status: status,
            error: (outcome == AttemptOutcome::Failed).then(|| "500".to_owned()),
        };
        store
            .record_webhook_attempt(&record, now - Duration::days(7))
            .await?;
    }
    let attempts = store.webhook_attempts(hook.id, 10).await?;
    let order: Vec<u32> = attempts.iter().map(|a| a.attempt).collect();
    assert_eq!(order, vec![2, 1], "newest first");
    assert_eq!(store.webhook_attempts(hook.id, 1).await?.len(), 1);

    assert!(!store.delete_notification_webhook(bob, hook.id).await?);
    assert_eq!(store.notification_webhooks(alice).await?.len(), 1);
    assert!(store.delete_notification_webhook(alice, hook.id).await?);
    assert!(store.notification_webhooks(alice).await?.is_empty());
    assert!(store.webhook_attempts(hook.id, 10).await?.is_empty());
    Ok(())
}
on_both_databases!(webhooks_and_attempts_stay_with_their_user);
