//! [`LogStore`] on the `log_lines`, `log_heads` and `log_sources` tables.
//!
//! An append runs in one transaction that first writes the app's head row (an upsert that
//! changes nothing but takes the row: a row lock on PostgreSQL, the write lock on SQLite). So
//! appends of one app are serialised, each stamps its lines after the head it read, and commit
//! order is timestamp order: a reader that sees a line also sees every earlier one.

use async_trait::async_trait;
use sea_orm::ActiveValue::Set;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Statement, TransactionTrait, Value,
};

use super::{SqlStore, log_heads, log_lines, log_sources};
use crate::error::{Error, Result};
use crate::logs::{
    Direction, LogHead, LogLine, LogQuery, LogStream, LogTime, NewLine, SourcePosition,
};
use crate::model::AppId;
use crate::store::LogStore;

/// Rows per insert statement (well under SQLite's limit of bound values).
const INSERT_CHUNK: usize = 1000;

fn db_err(e: DbErr) -> Error {
    Error::storage(e)
}

/// A statement for the connection's backend, written with `?` placeholders.
fn statement(backend: DatabaseBackend, sql: &str, values: Vec<Value>) -> Statement {
    let sql = match backend {
        DatabaseBackend::Postgres => {
            let mut out = String::with_capacity(sql.len() + 8);
            let mut n = 0;
            for c in sql.chars() {
                if c == '?' {
                    n += 1;
                    out.push_str(&format!("${n}"));
                } else {
                    out.push(c);
                }
            }
            out
        }
        _ => sql.to_owned(),
    };
    Statement::from_sql_and_values(backend, sql, values)
}

/// The byte length of a text column, in the backend's SQL.
fn octets(backend: DatabaseBackend) -> &'static str {
    match backend {
        DatabaseBackend::Postgres => "octet_length(text)",
        _ => "length(CAST(text AS BLOB))",
    }
}

impl TryFrom<log_lines::Model> for LogLine {
    type Error = Error;

    fn try_from(m: log_lines::Model) -> Result<Self> {
        Ok(LogLine {
            app: m.app_id.into(),
            at: LogTime::from_nanos(m.at),
            stream: LogStream::parse(&m.stream).ok_or_else(|| {
                Error::Storage(format!("stored log stream {:?} is not valid", m.stream).into())
            })?,
            deployment: m.deployment.map(Into::into),
            text: m.text,
        })
    }
}

fn get_i64(row: &sea_orm::QueryResult, col: &str) -> Result<i64> {
    row.try_get::<i64>("", col).map_err(db_err)
}

/// The statement that takes an app's log head for `count` lines of `bytes` the store stamps
/// itself, with its values: the head moves to `now` or right past where it was, whichever is
/// later, plus the lines; it returns `last_at`, the last line's stamp, and `lines`, the log's
/// size with them.
fn stamped_head(
    backend: DatabaseBackend,
    app: AppId,
    now: i64,
    count: i64,
    bytes: i64,
) -> (String, Vec<Value>) {
    let greatest = match backend {
        DatabaseBackend::Postgres => "GREATEST",
        _ => "MAX",
    };
    let sql = format!(
        "INSERT INTO log_heads (app_id, last_at, lines, bytes) VALUES (?, ?, ?, ?) \
         ON CONFLICT (app_id) DO UPDATE SET \
         last_at = {greatest}(log_heads.last_at + ?, excluded.last_at), \
         lines = log_heads.lines + excluded.lines, \
         bytes = log_heads.bytes + excluded.bytes \
         RETURNING last_at, lines"
    );
    let values = vec![
        app.as_uuid().into(),
        now.saturating_add(count - 1).into(),
        count.into(),
        bytes.into(),
        count.into(),
    ];
    (sql, values)
}

/// Lines the store stamps, on PostgreSQL: the head taken and moved and the lines inserted in
/// one statement (data-modifying `WITH`), so a system line or a batch of output is one round
/// trip and no transaction. The stamps are those of the general path: the head is the last
/// line's, the others one nanosecond apart before it. Returns the lines and the log's size
/// with them.
async fn append_in_one_statement(
    db: &sea_orm::DatabaseConnection,
    app: AppId,
    lines: &[NewLine],
    now: i64,
    bytes: i64,
) -> Result<(Vec<LogLine>, u64)> {
    let count = lines.len() as i64;
    let (head_sql, mut values) = stamped_head(DatabaseBackend::Postgres, app, now, count, bytes);
    values.extend([app.as_uuid().into(), count.into()]);
    let mut rows = String::with_capacity(lines.len() * 24);
    for (i, line) in lines.iter().enumerate() {
        if i == 0 {
            rows.push_str("(1::bigint, ?::text, ?::uuid, ?::text)");
        } else {
            rows.push_str(&format!(", ({}, ?, ?, ?)", i + 1));
        }
        values.push(line.stream.as_str().to_owned().into());
        values.push(line.deployment.map(|d| d.as_uuid()).into());
        values.push(line.text.clone().into());
    }
    let sql = format!(
        "WITH head AS ({head_sql}), \
         added AS (\
           INSERT INTO log_lines (app_id, at, stream, deployment, text) \
           SELECT ?, head.last_at - ? + v.n, v.stream, v.deployment, v.text \
           FROM head CROSS JOIN (VALUES {rows}) AS v(n, stream, deployment, text)) \
         SELECT last_at, lines FROM head"
    );
    let head = db
        .query_one_raw(statement(DatabaseBackend::Postgres, &sql, values))
        .await
        .map_err(db_err)?
        .ok_or_else(|| Error::Storage("the log head was not returned".into()))?;
    let first = get_i64(&head, "last_at")?.saturating_sub(count);
    let size = get_i64(&head, "lines")?.max(0) as u64;
    let stamped = lines
        .iter()
        .enumerate()
        .map(|(i, line)| LogLine {
            app,
            at: LogTime::from_nanos(first.saturating_add(i as i64 + 1)),
            stream: line.stream,
            deployment: line.deployment,
            text: line.text.clone(),
        })
        .collect();
    Ok((stamped, size))
}

#[async_trait]
impl LogStore for SqlStore {
    #[tracing::instrument(skip_all, fields(app_id = %app, lines = lines.len()), err)]
    async fn append_logs(
        &self,
        app: AppId,
        lines: &[NewLine],
        position: Option<&SourcePosition>,
    ) -> Result<Vec<LogLine>> {
        let db = self.connection();
        let backend = db.get_database_backend();
        let now = LogTime::now().nanos();
        let bytes: i64 = lines.iter().map(|l| l.text.len() as i64).sum();
        let count = lines.len() as i64;
        // Lines the store stamps itself (all but a runtime's own times) take their stamps and
        // count into the head in the one statement that takes the head's row: they go at
        // `now` or right after the head, one nanosecond apart.
        let stamped_here = !lines.is_empty() && lines.iter().all(|l| l.at.is_none());
        if stamped_here
            && position.is_none()
            && backend == DatabaseBackend::Postgres
            && lines.len() <= INSERT_CHUNK
        {
            let (stamped, size) = append_in_one_statement(db, app, lines, now, bytes).await?;
            self.log_stats.appended(db, count as u64, size);
            return Ok(stamped);
        }
        let txn = db.begin().await.map_err(db_err)?;
        let head = if stamped_here {
            let (sql, values) = stamped_head(backend, app, now, count, bytes);
            statement(backend, &sql, values)
        } else {
            statement(
                backend,
                "INSERT INTO log_heads (app_id, last_at, lines, bytes) VALUES (?, ?, 0, 0) \
                 ON CONFLICT (app_id) DO UPDATE SET last_at = log_heads.last_at \
                 RETURNING last_at, lines",
                vec![app.as_uuid().into(), i64::MIN.into()],
            )
        };
        let head = txn
            .query_one_raw(head)
            .await
            .map_err(db_err)?
            .ok_or_else(|| Error::Storage("the log head was not returned".into()))?;
        let mut last = get_i64(&head, "last_at")?;
        // The log's size with these lines (the stamped head counted them already).
        let mut size = get_i64(&head, "lines")?.max(0) as u64;
        if stamped_here {
            // The head is the last of these lines: they start `count - 1` before it.
            last = last.saturating_sub(count);
        } else {
            size = size.saturating_add(count as u64);
        }

        if let Some(pos) = position {
            // Compare-and-set in one statement: the position moves only from where this
            // reader left it.
            let moved = match &pos.expected {
                Some(expected) => txn
                    .execute_raw(statement(
                        backend,
                        "UPDATE log_sources SET position = ? WHERE source = ? AND position = ?",
                        vec![
                            pos.next.clone().into(),
                            pos.source.clone().into(),
                            expected.clone().into(),
                        ],
                    ))
                    .await
                    .map_err(db_err)?,
                None => txn
                    .execute_raw(statement(
                        backend,
                        "INSERT INTO log_sources (source, app_id, position) VALUES (?, ?, ?) \
                         ON CONFLICT (source) DO NOTHING",
                        vec![
                            pos.source.clone().into(),
                            app.as_uuid().into(),
                            pos.next.clone().into(),
                        ],
                    ))
                    .await
                    .map_err(db_err)?,
            };
            if moved.rows_affected() != 1 {
                txn.rollback().await.map_err(db_err)?;
                return Err(Error::LockLost(format!(
                    "log source {} (another reader follows it)",
                    pos.source
                )));
            }
        }

        let mut stamped = Vec::with_capacity(lines.len());
        for line in lines {
            let at = line
                .at
                .map_or(now, LogTime::nanos)
                .max(last.saturating_add(1));
            last = at;
            stamped.push(LogLine {
                app,
                at: LogTime::from_nanos(at),
                stream: line.stream,
                deployment: line.deployment,
                text: line.text.clone(),
            });
        }
        for chunk in stamped.chunks(INSERT_CHUNK) {
            log_lines::Entity::insert_many(chunk.iter().map(|l| log_lines::ActiveModel {
                app_id: Set(app.as_uuid()),
                at: Set(l.at.nanos()),
                stream: Set(l.stream.as_str().to_owned()),
                deployment: Set(l.deployment.map(|d| d.as_uuid())),
                text: Set(l.text.clone()),
            }))
            .exec(&txn)
            .await
            .map_err(db_err)?;
        }
        if !stamped.is_empty() && !stamped_here {
            txn.execute_raw(statement(
                backend,
                "UPDATE log_heads SET last_at = ?, lines = lines + ?, bytes = bytes + ? \
                 WHERE app_id = ?",
                vec![
                    last.into(),
                    (stamped.len() as i64).into(),
                    bytes.into(),
                    app.as_uuid().into(),
                ],
            ))
            .await
            .map_err(db_err)?;
        }
        txn.commit().await.map_err(db_err)?;
        self.log_stats.appended(db, count as u64, size);
        Ok(stamped)
    }

    async fn log_position(&self, source: &str) -> Result<Option<String>> {
        Ok(log_sources::Entity::find_by_id(source.to_owned())
            .one(self.connection())
            .await
            .map_err(db_err)?
            .map(|m| m.position))
    }

    async fn read_logs(&self, q: &LogQuery) -> Result<Vec<LogLine>> {
        use log_lines::Column as C;
        let mut select = log_lines::Entity::find().filter(C::AppId.eq(q.app.as_uuid()));
        if let Some(d) = q.deployment {
            select = select.filter(C::Deployment.eq(d.as_uuid()));
        }
        if !q.streams.is_empty() {
            select = select.filter(C::Stream.is_in(q.streams.iter().map(|s| s.as_str())));
        }
        if let Some(last) = q.last {
            select = select.filter(C::At.ne(last.nanos()));
        }
        select = match (q.direction, q.from) {
            (Direction::Forward, Some(from)) => select.filter(C::At.gte(from.nanos())),
            (Direction::Backward, Some(from)) => select.filter(C::At.lte(from.nanos())),
            (_, None) => select,
        };
        select = match q.direction {
            Direction::Forward => select.order_by_asc(C::At),
            Direction::Backward => select.order_by_desc(C::At),
        };
        select
            .limit(q.limit)
            .all(self.connection())
            .await
            .map_err(db_err)?
            .into_iter()
            .map(LogLine::try_from)
            .collect()
    }

    async fn log_head(&self, app: AppId) -> Result<LogHead> {
        Ok(log_heads::Entity::find_by_id(app.as_uuid())
            .one(self.connection())
            .await
            .map_err(db_err)?
            .map(|h| LogHead {
                // A head starts at i64::MIN: no line was ever stamped.
                last: (h.last_at != i64::MIN).then(|| LogTime::from_nanos(h.last_at)),
                lines: h.lines.max(0) as u64,
                bytes: h.bytes.max(0) as u64,
            })
            .unwrap_or_default())
    }

    async fn apps_with_logs(&self) -> Result<Vec<AppId>> {
        Ok(log_heads::Entity::find()
            .filter(log_heads::Column::Lines.gt(0))
            .all(self.connection())
            .await
            .map_err(db_err)?
            .into_iter()
            .map(|h| h.app_id.into())
            .collect())
    }

    #[tracing::instrument(skip(self), err)]
    async fn prune_logs(&self, app: AppId, before: LogTime, max_bytes: u64) -> Result<u64> {
        let db = self.connection();
        let backend = db.get_database_backend();
        let mut removed = log_lines::Entity::delete_many()
            .filter(log_lines::Column::AppId.eq(app.as_uuid()))
            .filter(log_lines::Column::At.lt(before.nanos()))
            .exec(db)
            .await
            .map_err(db_err)?
            .rows_affected;
        let bytes = self.log_head(app).await?.bytes;
        if bytes > max_bytes || removed > 0 {
            // The newest line past which the lines newer than it hold more than `max_bytes`.
            let cut = db
                .query_one_raw(statement(
                    backend,
                    &format!(
                        "SELECT at FROM (SELECT at, SUM({}) OVER (ORDER BY at DESC) AS total \
                         FROM log_lines WHERE app_id = ?) kept WHERE total > ? \
                         ORDER BY at DESC LIMIT 1",
                        octets(backend)
                    ),
                    vec![
                        app.as_uuid().into(),
                        i64::try_from(max_bytes).unwrap_or(i64::MAX).into(),
                    ],
                ))
                .await
                .map_err(db_err)?;
            if let Some(cut) = cut {
                let cut = get_i64(&cut, "at")?;
                removed += log_lines::Entity::delete_many()
                    .filter(log_lines::Column::AppId.eq(app.as_uuid()))
                    .filter(log_lines::Column::At.lte(cut))
                    .exec(db)
                    .await
                    .map_err(db_err)?
                    .rows_affected;
            }
        }
        if removed > 0 {
            // Recount under the head's row, so concurrent appends keep their counts.
            let txn = db.begin().await.map_err(db_err)?;
            txn.execute_raw(statement(
                backend,
                "UPDATE log_heads SET lines = lines WHERE app_id = ?",
                vec![app.as_uuid().into()],
            ))
            .await
            .map_err(db_err)?;
            txn.execute_raw(statement(
                backend,
                &format!(
                    "UPDATE log_heads SET \
                     lines = (SELECT COUNT(*) FROM log_lines WHERE app_id = ?), \
                     bytes = (SELECT COALESCE(SUM({}), 0) FROM log_lines WHERE app_id = ?) \
                     WHERE app_id = ?",
                    octets(backend)
                ),
                vec![
                    app.as_uuid().into(),
                    app.as_uuid().into(),
                    app.as_uuid().into(),
                ],
            ))
            .await
            .map_err(db_err)?;
            txn.commit().await.map_err(db_err)?;
        }
        Ok(removed)
    }

    async fn delete_logs(&self, app: AppId) -> Result<()> {
        let txn = self.connection().begin().await.map_err(db_err)?;
        log_lines::Entity::delete_many()
            .filter(log_lines::Column::AppId.eq(app.as_uuid()))
            .exec(&txn)
            .await
            .map_err(db_err)?;
        log_sources::Entity::delete_many()
            .filter(log_sources::Column::AppId.eq(app.as_uuid()))
            .exec(&txn)
            .await
            .map_err(db_err)?;
        log_heads::Entity::delete_by_id(app.as_uuid())
            .exec(&txn)
            .await
            .map_err(db_err)?;
        txn.commit().await.map_err(db_err)
    }
}
