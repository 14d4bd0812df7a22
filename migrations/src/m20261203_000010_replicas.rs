use std::collections::HashMap;

use sea_orm::prelude::{DateTimeUtc, Uuid};
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Deployments {
    Table,
    Id,
    AppId,
    Status,
    Instance,
    Instances,
    StartedAt,
}

#[derive(DeriveIden)]
enum Applications {
    Table,
    Id,
    Status,
    Deployment,
    EndpointHost,
    EndpointPort,
}

/// A deployment runs any number of replicas, each at its own address: `deployments.instances`
/// (a JSON array) replaces `deployments.instance` and `applications.endpoint_*`. The instance
/// that served an app becomes the one running replica of its deployment (the one the router
/// chose: the app's current deployment when running or starting, else the newest running one).
/// An instance without an address (a crashed one waiting for its restart) is left out: the
/// recovery at start-up removes it and starts the app again.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Deployments::Table)
                .add_column(ColumnDef::new(Deployments::Instances).text().null())
                .to_owned(),
        )
        .await?;
        let db = m.get_connection();
        let mut deployments: HashMap<Uuid, Vec<OldDeployment>> = HashMap::new();
        let rows = db
            .query_all(
                Query::select()
                    .columns([
                        Deployments::Id,
                        Deployments::AppId,
                        Deployments::Status,
                        Deployments::Instance,
                        Deployments::StartedAt,
                    ])
                    .from(Deployments::Table)
                    .and_where(Expr::col(Deployments::Instance).is_not_null()),
            )
            .await?;
        for row in rows {
            let app: Uuid = row.try_get("", "app_id")?;
            deployments.entry(app).or_default().push(OldDeployment {
                id: row.try_get("", "id")?,
                status: row.try_get("", "status")?,
                instance: row.try_get("", "instance")?,
                started_at: row.try_get("", "started_at")?,
            });
        }
        let apps = db
            .query_all(
                Query::select()
                    .columns([
                        Applications::Id,
                        Applications::Status,
                        Applications::Deployment,
                        Applications::EndpointHost,
                        Applications::EndpointPort,
                    ])
                    .from(Applications::Table)
                    .and_where(Expr::col(Applications::EndpointHost).is_not_null())
                    .and_where(Expr::col(Applications::EndpointPort).is_not_null()),
            )
            .await?;
        for app in apps {
            let id: Uuid = app.try_get("", "id")?;
            let status: String = app.try_get("", "status")?;
            if status != "RUNNING" && status != "STARTING" {
                continue;
            }
            let current: Option<Uuid> = app.try_get("", "deployment")?;
            let host: String = app.try_get("", "endpoint_host")?;
            let port: i32 = app.try_get("", "endpoint_port")?;
            let Some(mut deps) = deployments.remove(&id) else {
                continue;
            };
            deps.sort_by_key(|d| std::cmp::Reverse(d.id)); // newest first, as the store lists them
            let serving = deps
                .iter()
                .find(|d| {
                    Some(d.id) == current && (d.status == "RUNNING" || d.status == "STARTING")
                })
                .or_else(|| deps.iter().find(|d| d.status == "RUNNING"));
            let Some(dep) = serving else {
                continue;
            };
            let replicas = serde_json::json!([{
                "id": dep.instance,
                "endpoint": { "host": host, "port": port },
                "state": "RUNNING",
                "started_at": dep.started_at.unwrap_or_else(chrono::Utc::now),
            }]);
            db.execute(
                Query::update()
                    .table(Deployments::Table)
                    .value(Deployments::Instances, replicas.to_string())
                    .and_where(Expr::col(Deployments::Id).eq(dep.id)),
            )
            .await?;
        }
        // One column per statement: SQLite alters one at a time.
        for column in [Applications::EndpointHost, Applications::EndpointPort] {
            m.alter_table(
                Table::alter()
                    .table(Applications::Table)
                    .drop_column(column)
                    .to_owned(),
            )
            .await?;
        }
        m.alter_table(
            Table::alter()
                .table(Deployments::Table)
                .drop_column(Deployments::Instance)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Deployments::Table)
                .add_column(ColumnDef::new(Deployments::Instance).string().null())
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Applications::Table)
                .add_column(ColumnDef::new(Applications::EndpointHost).string().null())
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Applications::Table)
                .add_column(ColumnDef::new(Applications::EndpointPort).integer().null())
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Deployments::Table)
                .drop_column(Deployments::Instances)
                .to_owned(),
        )
        .await
    }
}

/// A deployment row as it was, with the instance it recorded.
struct OldDeployment {
    id: Uuid,
    status: String,
    instance: String,
    started_at: Option<DateTimeUtc>,
}
