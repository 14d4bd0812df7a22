use std::time::Duration;

use async_trait::async_trait;
use sea_orm::{
    ColumnTrait, ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, SqlErr, TransactionTrait,
};

use super::{applications, deployments, status_events, users};
use crate::error::{Error, Result};
use crate::events::StatusEvent;
use crate::model::{AppId, AppName, Application, Deployment, DeploymentId, Secret, User, UserId};
use crate::secrets::Keyring;
use crate::status::AppStatus;
use crate::store::Store;

/// The sea-orm store. Cheap to clone (the connection is a pool). Env values, git tokens and
/// queued changes are sealed with its [`Keyring`] on the way in and opened on the way out.
#[derive(Clone, Debug)]
pub struct SqlStore {
    db: DatabaseConnection,
    keys: Keyring,
}

fn db_err(e: DbErr) -> Error {
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
        Ok(Self { db, keys })
    }

    /// The keys secrets are sealed with.
    pub fn keys(&self) -> &Keyring {
        &self.keys
    }

    fn apps(&self, rows: Vec<applications::Model>) -> Result<Vec<Application>> {
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

    /// Compare-and-set write of an app, with an optional new deployment and status event, in one
    /// transaction.
    async fn write_app(
        &self,
        app: &Application,
        expected_version: i64,
        new_deployment: Option<&Deployment>,
        event: Option<&StatusEvent>,
    ) -> Result<Application> {
        let mut next = app.clone();
        next.version = expected_version + 1;
        next.updated_at = chrono::Utc::now();
        let txn = self.db.begin().await.map_err(db_err)?;
        let res = applications::Entity::update_many()
            .set(applications::sealed(&next, false, &self.keys))
            .filter(applications::Column::Id.eq(app.id.as_uuid()))
            .filter(applications::Column::Version.eq(expected_version))
            .exec(&txn)
            .await
            .map_err(|e| match e.sql_err() {
                Some(SqlErr::UniqueConstraintViolation(_)) => {
                    Error::NameTaken(app.name.to_string())
                }
                _ => db_err(e),
            })?;
        if res.rows_affected != 1 {
            txn.rollback().await.map_err(db_err)?;
            return match self.app(app.id).await? {
                Some(current) => Err(Error::VersionConflict {
                    expected: expected_version,
                    found: current.version,
                }),
                None => Err(Error::NotFound("application")),
            };
        }
        if let Some(d) = new_deployment {
            deployments::Entity::insert(deployments::ActiveModel::from(d))
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

    /// The connection, for adapters that share the database (locks, logs).
    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }
}

fn convert_all<M, T: TryFrom<M, Error = Error>>(rows: Vec<M>) -> Result<Vec<T>> {
    rows.into_iter().map(T::try_from).collect()
}

#[async_trait]
impl Store for SqlStore {
    async fn create_user(&self, user: &User, token_hash: &str) -> Result<()> {
        use sea_orm::ActiveValue::Set;
        users::Entity::insert(users::ActiveModel {
            id: Set(user.id.as_uuid()),
            name: Set(user.name.clone()),
            token_hash: Set(token_hash.to_owned()),
            git_token: Set(None),
            created_at: Set(user.created_at),
        })
        .exec(&self.db)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn user(&self, id: UserId) -> Result<Option<User>> {
        Ok(users::Entity::find_by_id(id.as_uuid())
            .one(&self.db)
            .await
            .map_err(db_err)?
            .map(User::from))
    }

    async fn user_by_token_hash(&self, token_hash: &str) -> Result<Option<User>> {
        Ok(users::Entity::find()
            .filter(users::Column::TokenHash.eq(token_hash))
            .one(&self.db)
            .await
            .map_err(db_err)?
            .map(User::from))
    }

    async fn set_git_token(&self, user: UserId, token: Option<&Secret>) -> Result<()> {
        let res = users::Entity::update_many()
            .col_expr(
                users::Column::GitToken,
                sea_orm::sea_query::Expr::value(
                    token.map(|t| self.keys.seal(&users::token_context(user), t.expose())),
                ),
            )
            .filter(users::Column::Id.eq(user.as_uuid()))
            .exec(&self.db)
            .await
            .map_err(db_err)?;
        if res.rows_affected == 0 {
            return Err(Error::NotFound("user"));
        }
        Ok(())
    }

    async fn git_token(&self, user: UserId) -> Result<Option<Secret>> {
        let stored = users::Entity::find_by_id(user.as_uuid())
            .one(&self.db)
            .await
            .map_err(db_err)?
            .and_then(|u| u.git_token);
        Ok(match stored {
            Some(s) => Some(Secret::new(
                self.keys.open(&users::token_context(user), &s)?.plaintext,
            )),
            None => None,
        })
    }

    #[tracing::instrument(skip_all, fields(app_id = %app.id), err)]
    async fn create_app(&self, app: &Application, first: &Deployment) -> Result<()> {
        let txn = self.db.begin().await.map_err(db_err)?;
        let inserted = applications::Entity::insert(applications::sealed(app, true, &self.keys))
            .exec(&txn)
            .await;
        if let Err(e) = inserted {
            return Err(match e.sql_err() {
                Some(SqlErr::UniqueConstraintViolation(_)) => {
                    Error::NameTaken(app.name.to_string())
                }
                _ => db_err(e),
            });
        }
        deployments::Entity::insert(deployments::ActiveModel::from(first))
            .exec(&txn)
            .await
            .map_err(db_err)?;
        let event = StatusEvent {
            app_id: app.id,
            owner: app.owner,
            version: app.version,
            status: app.status,
            deployment: Some(first.id),
            reason: app.status_reason.clone(),
            at: app.created_at,
        };
        status_events::Entity::insert(status_events::ActiveModel::from(&event))
            .exec(&txn)
            .await
            .map_err(db_err)?;
        txn.commit().await.map_err(db_err)
    }

    async fn app(&self, id: AppId) -> Result<Option<Application>> {
        applications::Entity::find_by_id(id.as_uuid())
            .one(&self.db)
            .await
            .map_err(db_err)?
            .map(|m| applications::opened(m, &self.keys))
            .transpose()
    }

    async fn app_by_name(&self, name: &AppName) -> Result<Option<Application>> {
        applications::Entity::find()
            .filter(applications::Column::Name.eq(name.as_str()))
            .one(&self.db)
            .await
            .map_err(db_err)?
            .map(|m| applications::opened(m, &self.keys))
            .transpose()
    }

    async fn apps_of(
        &self,
        owner: UserId,
        after: Option<AppId>,
        limit: u64,
    ) -> Result<Vec<Application>> {
        let mut q = applications::Entity::find()
            .filter(applications::Column::Owner.eq(owner.as_uuid()))
            .order_by_asc(applications::Column::Id)
            .limit(limit);
        if let Some(after) = after {
            q = q.filter(applications::Column::Id.gt(after.as_uuid()));
        }
        self.apps(q.all(&self.db).await.map_err(db_err)?)
    }

    async fn apps_in_status(&self, statuses: &[AppStatus]) -> Result<Vec<Application>> {
        let names: Vec<&str> = statuses.iter().map(|s| s.as_str()).collect();
        let rows = applications::Entity::find()
            .filter(applications::Column::Status.is_in(names))
            .order_by_asc(applications::Column::Id)
            .all(&self.db)
            .await
            .map_err(db_err)?;
        self.apps(rows)
    }

    #[tracing::instrument(skip_all, fields(app_id = %app.id, expected_version), err)]
    async fn update_app(
        &self,
        app: &Application,
        expected_version: i64,
        event: Option<&StatusEvent>,
    ) -> Result<Application> {
        self.write_app(app, expected_version, None, event).await
    }

    async fn delete_app(&self, id: AppId) -> Result<()> {
        // Children first: not every SQLite connection enforces foreign keys.
        let txn = self.db.begin().await.map_err(db_err)?;
        status_events::Entity::delete_many()
            .filter(status_events::Column::AppId.eq(id.as_uuid()))
            .exec(&txn)
            .await
            .map_err(db_err)?;
        deployments::Entity::delete_many()
            .filter(deployments::Column::AppId.eq(id.as_uuid()))
            .exec(&txn)
            .await
            .map_err(db_err)?;
        super::tasks::Entity::delete_many()
            .filter(super::tasks::Column::AppId.eq(id.as_uuid()))
            .exec(&txn)
            .await
            .map_err(db_err)?;
        super::log_lines::Entity::delete_many()
            .filter(super::log_lines::Column::AppId.eq(id.as_uuid()))
            .exec(&txn)
            .await
            .map_err(db_err)?;
        super::log_sources::Entity::delete_many()
            .filter(super::log_sources::Column::AppId.eq(id.as_uuid()))
            .exec(&txn)
            .await
            .map_err(db_err)?;
        super::log_heads::Entity::delete_by_id(id.as_uuid())
            .exec(&txn)
            .await
            .map_err(db_err)?;
        applications::Entity::delete_by_id(id.as_uuid())
            .exec(&txn)
            .await
            .map_err(db_err)?;
        txn.commit().await.map_err(db_err)
    }

    #[tracing::instrument(skip_all, fields(app_id = %app.id, deployment = %deployment.id), err)]
    async fn add_deployment(
        &self,
        app: &Application,
        expected_version: i64,
        deployment: &Deployment,
        event: Option<&StatusEvent>,
    ) -> Result<Application> {
        self.write_app(app, expected_version, Some(deployment), event)
            .await
    }

    async fn deployment(&self, id: DeploymentId) -> Result<Option<Deployment>> {
        deployments::Entity::find_by_id(id.as_uuid())
            .one(&self.db)
            .await
            .map_err(db_err)?
            .map(Deployment::try_from)
            .transpose()
    }

    async fn deployments_of(&self, app: AppId) -> Result<Vec<Deployment>> {
        let rows = deployments::Entity::find()
            .filter(deployments::Column::AppId.eq(app.as_uuid()))
            .order_by_desc(deployments::Column::Id)
            .all(&self.db)
            .await
            .map_err(db_err)?;
        convert_all(rows)
    }

    async fn update_deployment(&self, d: &Deployment) -> Result<()> {
        let mut row = deployments::ActiveModel::from(d);
        row.updated_at = sea_orm::ActiveValue::Set(chrono::Utc::now());
        let res = deployments::Entity::update_many()
            .set(row)
            .filter(deployments::Column::Id.eq(d.id.as_uuid()))
            .exec(&self.db)
            .await
            .map_err(db_err)?;
        if res.rows_affected == 0 {
            return Err(Error::NotFound("deployment"));
        }
        Ok(())
    }

    async fn status_events(&self, app: AppId, after_version: i64) -> Result<Vec<StatusEvent>> {
        let rows = status_events::Entity::find()
            .filter(status_events::Column::AppId.eq(app.as_uuid()))
            .filter(status_events::Column::Version.gt(after_version))
            .order_by_asc(status_events::Column::Version)
            .all(&self.db)
            .await
            .map_err(db_err)?;
        convert_all(rows)
    }
}
