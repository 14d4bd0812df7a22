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

impl TestDb {
    /// A fresh, empty database: a file in `dir` for SQLite, a new database for PostgreSQL.
    pub async fn url(self, dir: &std::path::Path) -> anyhow::Result<String> {
        match self {
            TestDb::Sqlite => Ok(format!("sqlite://{}/test.db?mode=rwc", dir.display())),
            TestDb::Postgres => self.url_in(dir).await,
        }
    }

    /// Like [`TestDb::url`], the SQLite file named as the server names it by default
    /// (`<dir>/paas.db`), `dir` made if missing.
    pub async fn url_in(self, dir: &std::path::Path) -> anyhow::Result<String> {
        match self {
            TestDb::Sqlite => {
                std::fs::create_dir_all(dir)?;
                Ok(format!("sqlite://{}/paas.db?mode=rwc", dir.display()))
            }
            TestDb::Postgres => {
                let name = format!("paas_test_{}", uuid::Uuid::now_v7().simple());
                let admin = Database::connect(format!("{}/postgres", postgres_base())).await?;
                admin
                    .execute_unprepared(&format!("CREATE DATABASE {name}"))
                    .await?;
                admin.close().await?;
                Ok(format!("{}/{name}", postgres_base()))
            }
        }
    }
}
