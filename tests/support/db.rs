//! A database per test, so runs never collide.

use sea_orm::{ConnectionTrait, Database};

/// Where PostgreSQL is; CI and developer machines have it at the default.
pub fn postgres_base() -> String {
    std::env::var("PAAS_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

/// Which backend a test runs against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TestDb {
    Sqlite,
    Postgres,
}

/// A database made for one test: its URL (`&*db` or `db.to_string()`), dropped with the value
/// (a PostgreSQL database is dropped, even when the test failed; a SQLite file goes with the
/// test's temp dir). Keep it bound for as long as anything uses the database.
#[derive(Debug)]
pub struct TestDatabase {
    url: String,
    /// The PostgreSQL database to drop.
    postgres: Option<String>,
}

impl std::ops::Deref for TestDatabase {
    type Target = str;
    fn deref(&self) -> &str {
        &self.url
    }
}

impl AsRef<std::ffi::OsStr> for TestDatabase {
    fn as_ref(&self) -> &std::ffi::OsStr {
        self.url.as_ref()
    }
}

impl AsRef<str> for TestDatabase {
    fn as_ref(&self) -> &str {
        &self.url
    }
}

impl std::fmt::Display for TestDatabase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.url)
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Some(name) = self.postgres.take() else {
            return;
        };
        // Drop runs inside the test's runtime, which must not be blocked on: a thread of its own
        // drops the database, closing what still holds it.
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            rt.block_on(async {
                let admin = Database::connect(format!("{}/postgres", postgres_base())).await?;
                admin
                    .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await?;
                admin.close().await?;
                anyhow::Ok(())
            })
        })
        .join();
        if let Ok(Err(e)) = dropped {
            eprintln!("could not drop a test database: {e}");
        }
    }
}

impl TestDb {
    /// A fresh, empty database: a file in `dir` for SQLite, a new database for PostgreSQL.
    pub async fn url(self, dir: &std::path::Path) -> anyhow::Result<TestDatabase> {
        match self {
            TestDb::Sqlite => Ok(TestDatabase {
                url: format!("sqlite://{}/test.db?mode=rwc", dir.display()),
                postgres: None,
            }),
            TestDb::Postgres => self.url_in(dir).await,
        }
    }

    /// Like [`TestDb::url`], the SQLite file named as the server names it by default
    /// (`<dir>/paas.db`), `dir` made if missing.
    pub async fn url_in(self, dir: &std::path::Path) -> anyhow::Result<TestDatabase> {
        match self {
            TestDb::Sqlite => {
                std::fs::create_dir_all(dir)?;
                Ok(TestDatabase {
                    url: format!("sqlite://{}/paas.db?mode=rwc", dir.display()),
                    postgres: None,
                })
            }
            TestDb::Postgres => {
                let name = format!("paas_test_{}", uuid::Uuid::now_v7().simple());
                let admin = Database::connect(format!("{}/postgres", postgres_base())).await?;
                admin
                    .execute_unprepared(&format!("CREATE DATABASE {name}"))
                    .await?;
                admin.close().await?;
                Ok(TestDatabase {
                    url: format!("{}/{name}", postgres_base()),
                    postgres: Some(name),
                })
            }
        }
    }
}

/// Counts the rows of a table straight from the database (to prove a refusal wrote nothing).
pub async fn count_rows(database_url: &str, table: &str) -> anyhow::Result<i64> {
    use anyhow::Context;
    use sea_orm::Statement;
    let db = Database::connect(database_url).await?;
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            format!("SELECT COUNT(*) FROM {table}"),
        ))
        .await?
        .context("no count row")?;
    let n: i64 = row.try_get_by_index(0)?;
    db.close().await?;
    Ok(n)
}
