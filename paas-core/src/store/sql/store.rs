use std::time::Duration;

use sea_orm::{
    ColumnTrait, ConnectOptions, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection,
    DbErr, EntityTrait, QueryFilter, QueryTrait, SqlErr, Statement, TransactionTrait,
};

use super::{applications, deployments, status_events};
use crate::error::{Error, Result};
use crate::events::StatusEvent;
use crate::model::{Application, Deployment};
use crate::secrets::Keyring;
use crate::store::AppStore;

/// The sea-orm store. Cheap to clone (the connection is a pool). Env values, git tokens and
/// queued changes are sealed with its [`Keyring`] on the way in and opened on the way out.
#[derive(Clone, Debug)]
pub struct SqlStore {
    db: DatabaseConnection,
    keys: Keyring,
    /// Keeps PostgreSQL's statistics of `log_lines` up with fast-growing logs.
    pub(super) log_stats: std::sync::Arc<super::log_stats::LogStats>,
}

pub(super) fn db_err(e: DbErr) -> Error {
    Error::storage(e)
}

impl SqlStore {
    /// Connects to `sqlite://…` or `postgres://…`, sealing secrets with `keys`. A SQLite file is
    /// made 0600 before it is opened; it gets WAL mode so readers do not wait on the writer.
    pub async fn connect(url: &str, keys: Keyring) -> Result<Self> {
        crate::secrets::files::private_sqlite(url)?;
        let mut opts = ConnectOptions::new(url.to_owned());
        opts.max_connections(if url.starts_with("sqlite:") { 8 } else { 16 })
            .connect_timeout(Duration::from_secs(10))
            .sqlx_logging(false);
        let db = Database::connect(opts).await.map_err(db_err)?;
        if url.starts_with("sqlite:") {
            db.execute_unprepared("PRAGMA journal_mode=WAL; PRAGMA busy_timeout=10000;")
                .await
                .map_err(db_err)?;
            // The -wal and -shm files exist now: make sure they are the server's alone.
            crate::secrets::files::private_sqlite(url)?;
        }
        Ok(Self {
            db,
            keys,
            log_stats: Default::default(),
        })
    }

    /// The keys secrets are sealed with.
    pub fn keys(&self) -> &Keyring {
        &self.keys
    }

    pub(super) fn apps(&self, rows: Vec<applications::Model>) -> Result<Vec<Application>> {
        rows.into_iter()
            .map(|m| applications::opened(m, &self.keys))
            .collect()
    }

    /// Applies pending migrations. Binaries call this at start-up.
    pub async fn migrate(&self) -> Result<()> {
        use paas_migrations::MigratorTrait;
        paas_migrations::Migrator::up(&self.db, None)
            .await
            .map_err(db_err)
    }

    /// Compare-and-set write of an app, with an optional deployment (added, or rewritten if it
    /// exists) and status event, in one transaction.
    pub(super) async fn write_app(
        &self,
        app: &Application,
        expected_version: i64,
        new_deployment: Option<&Deployment>,
        event: Option<&StatusEvent>,
    ) -> Result<Application> {
        let mut next = app.clone();
        next.version = expected_version + 1;
        next.updated_at = chrono::Utc::now();
        let update = applications::Entity::update_many()
            .set(applications::sealed(&next, false, &self.keys))
            .filter(applications::Column::Id.eq(app.id.as_uuid()))
            .filter(applications::Column::Version.eq(expected_version));
        let taken = |e: DbErr| match e.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(_)) => Error::NameTaken(app.name.to_string()),
            _ => db_err(e),
        };
        if let (None, Some(event), DatabaseBackend::Postgres) =
            (new_deployment, event, self.db.get_database_backend())
        {
            // A status change on PostgreSQL: the row and its event in one statement.
            let mut event = event.clone();
            event.version = next.version;
            let statement = update_with_event(update, &event)?;
            let row = self
                .db
                .query_one_raw(statement)
                .await
                .map_err(taken)?
                .ok_or_else(|| Error::Storage("the update was not counted".into()))?;
            let updated: i64 = row.try_get("", "updated").map_err(db_err)?;
            if updated != 1 {
                return Err(self.not_written(app, expected_version).await);
            }
            return Ok(next);
        }
        let txn = self.db.begin().await.map_err(db_err)?;
        let res = update.exec(&txn).await.map_err(taken)?;
        if res.rows_affected != 1 {
            txn.rollback().await.map_err(db_err)?;
            return Err(self.not_written(app, expected_version).await);
        }
        if let Some(d) = new_deployment {
            use sea_orm::Iterable;
            use sea_orm::sea_query::OnConflict;
            // A deployment already there is rewritten: an instance going live records the
            // deployment and the app's endpoint in one write.
            let columns = deployments::Column::iter().filter(|c| {
                !matches!(
                    c,
                    deployments::Column::Id
                        | deployments::Column::AppId
                        | deployments::Column::CreatedAt
                )
            });
            let mut row = deployments::ActiveModel::from(d);
            row.updated_at = sea_orm::ActiveValue::Set(chrono::Utc::now());
            deployments::Entity::insert(row)
                .on_conflict(
                    OnConflict::column(deployments::Column::Id)
                        .update_columns(columns)
                        .to_owned(),
                )
                .exec(&txn)
                .await
                .map_err(db_err)?;
        }
        if let Some(event) = event {
            let mut event = event.clone();
            event.version = next.version;
            status_events::Entity::insert(status_events::ActiveModel::from(&event))
                // A replayed write of the same version is the same event.
                .on_conflict_do_nothing_on([
                    status_events::Column::AppId,
                    status_events::Column::Version,
                ])
                .exec(&txn)
                .await
                .map_err(db_err)?;
        }
        txn.commit().await.map_err(db_err)?;
        Ok(next)
    }

    /// Why a compare-and-set write of `app` changed nothing: it moved on, or it is gone.
    async fn not_written(&self, app: &Application, expected_version: i64) -> Error {
        match self.app(app.id).await {
            Ok(Some(current)) => Error::VersionConflict {
                expected: expected_version,
                found: current.version,
            },
            Ok(None) => Error::NotFound("application"),
            Err(e) => e,
        }
    }

    /// The connection, for adapters that share the database (locks, logs).
    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }
}

/// `update` of one app and the insert of its status `event`, as one PostgreSQL statement
/// (data-modifying `WITH`): the event is written only if the row was (a version that moved on
/// matches nothing), a replayed event of the same version is the same event, and the answer's
/// `updated` counts the rows changed.
fn update_with_event(
    update: sea_orm::UpdateMany<applications::Entity>,
    event: &StatusEvent,
) -> Result<Statement> {
    let backend = DatabaseBackend::Postgres;
    let update = update.build(backend);
    let insert =
        status_events::Entity::insert(status_events::ActiveModel::from(event)).build(backend);
    let (columns, _) = insert
        .sql
        .split_once(" VALUES ")
        .ok_or_else(|| Error::Storage("an insert without VALUES".into()))?;
    let mut values = update.values.map(|v| v.0).unwrap_or_default();
    let first = values.len() + 1;
    let added = insert.values.map(|v| v.0).unwrap_or_default();
    let placeholders: Vec<String> = (first..first + added.len())
        .map(|i| format!("${i}"))
        .collect();
    values.extend(added);
    let sql = format!(
        "WITH up AS ({} RETURNING \"id\"), \
         ev AS ({columns} SELECT {} FROM up ON CONFLICT (\"app_id\", \"version\") DO NOTHING) \
         SELECT count(*) AS updated FROM up",
        update.sql,
        placeholders.join(", ")
    );
    Ok(Statement::from_sql_and_values(backend, sql, values))
}

pub(super) fn convert_all<M, T: TryFrom<M, Error = Error>>(rows: Vec<M>) -> Result<Vec<T>> {
    rows.into_iter().map(T::try_from).collect()
}
