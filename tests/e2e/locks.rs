//! Locks across processes: two `lock-holder` processes run tasks on a few apps against one
//! database. No key ever has two holders at once, tasks on different apps do run at the same
//! time, and a holder killed with SIGKILL loses its lock once its lease runs out.

use std::collections::HashMap;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use paas_core::lock::{LockKey, Locks};
use paas_core::model::AppId;
use paas_core::store::sql::SqlStore;
use paas_tests::TestDb;
use tokio::io::AsyncBufReadExt;
use tokio::process::Command;

use crate::on_both_databases;

const HOLDER: &str = env!("CARGO_BIN_EXE_lock-holder");

async fn database(
    db: TestDb,
    dir: &std::path::Path,
) -> anyhow::Result<(paas_tests::TestDatabase, SqlStore)> {
    let url = db.url(dir).await?;
    let store = SqlStore::connect(&url, paas_core::secrets::Keyring::ephemeral()).await?;
    store.migrate().await?;
    Ok((url, store))
}

async fn never_two_holders_across_processes(db: TestDb) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let (url, _store) = database(db, dir.path()).await?;
    let apps: Vec<String> = (0..3).map(|_| AppId::new().to_string()).collect();
    let apps = apps.join(",");
    let run = || {
        Command::new(HOLDER)
            .args(["run", &url, &apps, "24", "5000"])
            .stderr(Stdio::inherit())
            .output()
    };
    let (a, b) = tokio::join!(run(), run());
    let mut intervals: HashMap<String, Vec<(u128, u128)>> = HashMap::new();
    for out in [a?, b?] {
        anyhow::ensure!(
            out.status.success(),
            "a lock holder failed: {:?}",
            out.status
        );
        for line in String::from_utf8(out.stdout)?.lines() {
            let mut parts = line.split_whitespace();
            let key = parts.next().context("key")?.to_owned();
            let start: u128 = parts.next().context("start")?.parse()?;
            let end: u128 = parts.next().context("end")?.parse()?;
            intervals.entry(key).or_default().push((start, end));
        }
    }
    assert_eq!(intervals.len(), 3, "every app's lock was taken");
    assert_eq!(
        intervals.values().map(Vec::len).sum::<usize>(),
        48,
        "every task ran"
    );
    for (key, spans) in &mut intervals {
        spans.sort();
        for pair in spans.windows(2) {
            assert!(
                pair[1].0 >= pair[0].1,
                "two holders of {key} at once: {:?} and {:?}",
                pair[0],
                pair[1]
            );
        }
    }
    // Different apps are not held up by each other: some of their holds overlap in time.
    let all: Vec<(&String, (u128, u128))> = intervals
        .iter()
        .flat_map(|(k, v)| v.iter().map(move |s| (k, *s)))
        .collect();
    let overlapping = all
        .iter()
        .any(|(ka, a)| all.iter().any(|(kb, b)| ka != kb && a.0 < b.1 && b.0 < a.1));
    assert!(
        overlapping,
        "tasks on different apps never ran at the same time"
    );
    Ok(())
}
on_both_databases!(never_two_holders_across_processes);

async fn a_killed_holder_loses_its_lock_after_its_lease(db: TestDb) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let (url, store) = database(db, dir.path()).await?;
    let app = AppId::new();
    let mut holder = Command::new(HOLDER)
        // A lease a loaded machine renews well within (renewals come every third of it).
        .args(["hold", &url, &app.to_string(), "5000"])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let stdout = holder.stdout.take().context("stdout")?;
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    assert_eq!(lines.next_line().await?.as_deref(), Some("held"));

    let locks = Locks::new(Arc::new(store), Duration::from_secs(5));
    let key = LockKey::App(app);
    // While the holder lives (and renews), the lock stays its own, past its first lease.
    let busy = locks
        .acquire(&key, "the test", Duration::from_secs(6))
        .await;
    match busy {
        Err(paas_core::Error::Busy(why)) => {
            assert!(why.contains("a holder that will be killed"), "{why}");
        }
        other => anyhow::bail!("took a lock a live holder renews: {other:?}"),
    }

    holder.start_kill()?; // SIGKILL
    holder.wait().await?;
    let held = locks.record(&key).await?.context("the lock row")?;
    assert!(held.held_at(Utc::now()), "the lease has not run out yet");
    let lease = locks
        .acquire(&key, "the test", Duration::from_secs(30))
        .await?;
    let expired_at = held.expires_at.context("expiry")?;
    assert!(
        Utc::now() >= expired_at,
        "taken before the dead holder's lease ran out"
    );
    assert_ne!(Some(lease.holder.clone()), held.holder);
    Ok(())
}
on_both_databases!(a_killed_holder_loses_its_lock_after_its_lease);

async fn a_taken_over_lock_stops_its_holder(db: TestDb) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let (_url, store) = database(db, dir.path()).await?;
    let locks = Locks::new(Arc::new(store), Duration::from_secs(3));
    let key = LockKey::App(AppId::new());
    let first = locks.acquire(&key, "a stuck task", Duration::ZERO).await?;
    let stuck = {
        let locks = locks.clone();
        tokio::spawn(async move {
            locks
                .hold(first, std::future::pending::<paas_core::Result<()>>())
                .await
        })
    };
    let second = locks.take_over(&key, "a forced restart").await?;
    // It notices at its next renewal (every third of the lease).
    let out = tokio::time::timeout(Duration::from_secs(15), stuck).await??;
    assert!(
        matches!(out, Err(paas_core::Error::LockLost(_))),
        "the old holder did not stop: {out:?}"
    );
    // The new holder still has it: the old one's release changed nothing.
    locks.renew(&second).await?;
    let record = locks.record(&key).await?.context("row")?;
    assert_eq!(record.holder.as_deref(), Some(second.holder.as_str()));
    Ok(())
}
on_both_databases!(a_taken_over_lock_stops_its_holder);
