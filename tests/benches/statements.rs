//! Database statements per operation, read from PostgreSQL's own statement log (a benchmark,
//! not a test: it prints numbers for README.md). The platform runs in this process on a fresh
//! database with `log_statement = 'all'` set for that database only, nothing in the background
//! (no worker, no loops), so every statement the log shows between two marks is the operation's:
//! `createApplication`, one status change, a cold and a hot `application(id)` lookup, a page of
//! the log. Each is done `ROUNDS` times (quick: 3); the figure is the median count.
//!
//! Needs the PostgreSQL server's log file readable (`BENCH_PG_LOG`, default the Debian
//! path) with the database name in its line prefix (Debian's default `%m [%p] %q%u@%d `).
//!
//! ```text
//! cargo bench -p paas-tests --bench statements
//! ```

use std::io::{Read, Seek, SeekFrom};
use std::sync::Arc;

use anyhow::Context;
use chrono::Utc;
use paas_core::logs::{LogQuery, LogStream, NewLine};
use paas_core::model::{AppName, GitUrl, NewApplication, SourcePolicy, User, UserId};
use paas_core::store::UserStore;
use paas_core::store::sql::SqlStore;
use paas_core::{AppStatus, Platform};
use paas_runner::local::{LocalBuilder, LocalRuntime};
use paas_tests::bench::{Report, Samples, samples};
use paas_tests::repo::file_url;
use paas_tests::{TestDb, git_repo};
use sea_orm::{ConnectionTrait, Database};

const ROUNDS: usize = 20;
const DEFAULT_LOG: &str = "/var/log/postgresql/postgresql-15-main.log";

/// The server's log from where it was at the last mark, this database's lines only.
struct StatementLog {
    file: std::fs::File,
    /// `@<database> ` as the line prefix writes it.
    tag: String,
}

/// An operation's name, its statement and transaction counts, and their targets.
type Op = (&'static str, Samples, Samples, Option<f64>, Option<f64>);

/// What one operation sent.
#[derive(Default)]
struct Counted {
    transactions: usize,
    statements: usize,
}

impl StatementLog {
    fn open(path: &str, database: &str) -> anyhow::Result<Self> {
        let mut file = std::fs::File::open(path)
            .with_context(|| format!("reading PostgreSQL's log {path} (BENCH_PG_LOG)"))?;
        file.seek(SeekFrom::End(0))?;
        Ok(Self {
            file,
            tag: format!("@{database} "),
        })
    }

    /// The statements logged since the last call (PostgreSQL writes a statement's line before
    /// it runs it, so an operation's are all there once it returned).
    fn take(&mut self) -> anyhow::Result<Counted> {
        let mut text = String::new();
        self.file.read_to_string(&mut text)?;
        let mut c = Counted::default();
        for line in text.lines().filter(|l| l.contains(&self.tag)) {
            let Some((_, sql)) = line.split_once("LOG:  statement: ").or_else(|| {
                line.split_once("LOG:  execute ")
                    .and_then(|(a, b)| b.split_once(": ").map(|(_, sql)| (a, sql)))
            }) else {
                continue;
            };
            let sql = sql.trim().to_ascii_uppercase();
            if sql.starts_with("BEGIN") || sql.starts_with("START TRANSACTION") {
                c.transactions += 1;
            } else if sql.starts_with("COMMIT") || sql.starts_with("ROLLBACK") {
            } else {
                c.statements += 1;
            }
        }
        Ok(c)
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let rounds = samples(ROUNDS, 3);
    let mut report = Report::new("statements");

    let dir = tempfile::tempdir()?;
    let url = TestDb::Postgres.url(dir.path()).await?;
    let database = url.rsplit('/').next().context("database name")?.to_owned();
    let admin = Database::connect(&*url).await?;
    admin
        .execute_unprepared(&format!(
            "ALTER DATABASE {database} SET log_statement = 'all'"
        ))
        .await?;
    admin.close().await?;
    let sql = SqlStore::connect(&url, paas_core::secrets::Keyring::ephemeral()).await?;
    sql.migrate().await?;
    let store = Arc::new(sql);
    let platform = Platform::builder()
        .data_dir(dir.path())
        .store(store.clone())
        .runtime(Arc::new(LocalRuntime::new(dir.path().join("logs"))))
        .images(Arc::new(LocalBuilder::default()))
        .build()
        .await?;
    let user = User {
        id: UserId::new(),
        name: "alice".into(),
        created_at: Utc::now(),
    };
    store.create_user(&user, "hash").await?;
    let repo = git_repo(&[("app.py", "print('hi')\n")])?;
    let git = GitUrl::parse(&file_url(repo.path()), SourcePolicy::default())?;
    let log_path = std::env::var("BENCH_PG_LOG").unwrap_or_else(|_| DEFAULT_LOG.into());
    let mut log = StatementLog::open(&log_path, &database)?;

    let mut per_op: Vec<Op> = vec![
        (
            "createApplication",
            Samples::default(),
            Samples::default(),
            Some(6.0),
            Some(1.0),
        ),
        (
            "status change",
            Samples::default(),
            Samples::default(),
            Some(2.0),
            None,
        ),
        (
            "application(id), cold",
            Samples::default(),
            Samples::default(),
            None,
            None,
        ),
        (
            "application(id), hot",
            Samples::default(),
            Samples::default(),
            Some(0.0),
            None,
        ),
        (
            "log page (100 lines)",
            Samples::default(),
            Samples::default(),
            None,
            None,
        ),
    ];
    let mut record = |i: usize, c: Counted| {
        per_op[i].1.push(c.statements as f64);
        per_op[i].2.push(c.transactions as f64);
    };
    for round in 0..rounds {
        log.take()?;
        let new = NewApplication::new(AppName::parse(&format!("counted-{round}"))?, git.clone());
        let app = platform.create_application(&user, new).await?;
        record(0, log.take()?);

        platform
            .set_status(app.id, AppStatus::Building, None)
            .await?;
        record(1, log.take()?);

        platform.cache().evict_app(&app).await;
        log.take()?;
        platform.app_for(&user, app.id).await?;
        record(2, log.take()?);
        platform.app_for(&user, app.id).await?;
        record(3, log.take()?);

        let lines: Vec<NewLine> = (0..100)
            .map(|i| NewLine::new(LogStream::Stdout, None, format!("line {i}")))
            .collect();
        platform.write_logs(app.id, &lines).await?;
        log.take()?;
        let q = LogQuery::app(app.id).with_limit(Some(100))?;
        platform.logs_for(&user, &q).await?;
        record(4, log.take()?);
    }
    for (name, statements, transactions, target, txn_target) in per_op {
        report.add_count(&format!("statements: {name}"), &statements, target);
        report.add_count(&format!("transactions: {name}"), &transactions, txn_target);
    }
    Ok(())
}
