//! A process that takes locks, for the cross-process lock tests.
//!
//! - `lock-holder run <db-url> <app-ids,comma-separated> <tasks> <lease-ms>`: runs `tasks`
//!   tasks at once, task `i` on app `i % apps`; each takes the app's lock (waiting), holds it a
//!   few milliseconds and gives it back. Prints `<key> <start-ns> <end-ns>` per task, the times
//!   taken while the lock was held (wall clock, comparable across processes).
//! - `lock-holder hold <db-url> <app-id> <lease-ms>`: takes the app's lock, prints `held`, and
//!   keeps renewing it until killed.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use paas_core::lock::{LockKey, Locks};
use paas_core::model::AppId;
use paas_core::store::sql::SqlStore;

fn now_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let arg = |i: usize| args.get(i).cloned().context("missing argument");
    let store = SqlStore::connect(&arg(2)?, paas_core::secrets::Keyring::ephemeral()).await?;
    let lease: u64 = arg(args.len() - 1)?.parse()?;
    let locks = Locks::new(Arc::new(store), Duration::from_millis(lease));
    match arg(1)?.as_str() {
        "run" => {
            let apps: Vec<AppId> = arg(3)?
                .split(',')
                .map(str::parse)
                .collect::<Result<_, _>>()?;
            let tasks: usize = arg(4)?.parse()?;
            let mut set = tokio::task::JoinSet::new();
            for i in 0..tasks {
                let key = LockKey::App(apps[i % apps.len()]);
                let locks = locks.clone();
                set.spawn(async move {
                    let lease = locks
                        .acquire(&key, "a stress task", Duration::from_secs(60))
                        .await?;
                    let start = now_ns();
                    tokio::time::sleep(Duration::from_millis(3 + (i as u64 % 5))).await;
                    let end = now_ns();
                    locks.release(&lease).await?;
                    anyhow::Ok(format!("{key} {start} {end}"))
                });
            }
            let mut lines = Vec::new();
            while let Some(done) = set.join_next().await {
                lines.push(done??);
            }
            println!("{}", lines.join("\n"));
        }
        "hold" => {
            let key = LockKey::App(arg(3)?.parse()?);
            let lease = locks
                .acquire(
                    &key,
                    "a holder that will be killed",
                    Duration::from_secs(30),
                )
                .await?;
            println!("held");
            let forever = std::future::pending::<paas_core::Result<()>>();
            locks.hold(lease, forever).await?;
        }
        other => bail!("unknown mode {other}"),
    }
    Ok(())
}
