//! Everything a test can read of what the platform stored: database files and rows, Redis
//! values. For proving a value is stored nowhere in plain text.

use std::path::Path;

use sea_orm::{ConnectionTrait, Database, Statement};

use crate::redis::url as redis_url;

/// Every byte the database holds, as text: the SQLite files (with `-wal` and `-shm`) or, on
/// PostgreSQL, every row of every table.
pub async fn database_dump(database_url: &str, data_dir: &Path) -> anyhow::Result<Vec<u8>> {
    if database_url.starts_with("sqlite:") {
        let mut bytes = Vec::new();
        for suffix in ["", "-wal", "-shm"] {
            if let Ok(b) = std::fs::read(data_dir.join(format!("paas.db{suffix}"))) {
                bytes.extend(b);
            }
        }
        anyhow::ensure!(
            !bytes.is_empty(),
            "no SQLite file in {}",
            data_dir.display()
        );
        return Ok(bytes);
    }
    let db = Database::connect(database_url).await?;
    let backend = db.get_database_backend();
    let tables = db
        .query_all_raw(Statement::from_string(
            backend,
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public'",
        ))
        .await?;
    let mut bytes = Vec::new();
    for table in tables {
        let name: String = table.try_get_by_index(0)?;
        for row in db
            .query_all_raw(Statement::from_string(
                backend,
                format!("SELECT CAST(t AS TEXT) FROM \"{name}\" t"),
            ))
            .await?
        {
            let text: String = row.try_get_by_index(0)?;
            bytes.extend(text.into_bytes());
        }
    }
    db.close().await?;
    Ok(bytes)
}

/// Every value under `prefix` in Redis, whatever its type, and the keys.
pub async fn redis_dump(prefix: &str) -> anyhow::Result<(Vec<String>, Vec<u8>)> {
    let client = redis::Client::open(redis_url())?;
    let mut conn = client.get_multiplexed_async_connection().await?;
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut conn)
        .await?;
    let mut bytes = Vec::new();
    for key in &keys {
        let kind: String = redis::cmd("TYPE").arg(key).query_async(&mut conn).await?;
        let mut cmd = match kind.as_str() {
            "string" => redis::cmd("GET"),
            "stream" => redis::cmd("XRANGE"),
            "hash" => redis::cmd("HGETALL"),
            "list" => redis::cmd("LRANGE"),
            "set" => redis::cmd("SMEMBERS"),
            "zset" => redis::cmd("ZRANGE"),
            _ => continue,
        };
        cmd.arg(key);
        match kind.as_str() {
            "stream" => {
                cmd.arg("-").arg("+");
            }
            "list" | "zset" => {
                cmd.arg(0).arg(-1);
            }
            _ => {}
        }
        let value: redis::Value = cmd.query_async(&mut conn).await?;
        flatten(&value, &mut bytes);
    }
    Ok((keys, bytes))
}

fn flatten(value: &redis::Value, out: &mut Vec<u8>) {
    match value {
        redis::Value::BulkString(b) => out.extend(b),
        redis::Value::SimpleString(s) => out.extend(s.as_bytes()),
        redis::Value::Array(items) | redis::Value::Set(items) => {
            items.iter().for_each(|v| flatten(v, out));
        }
        redis::Value::Map(pairs) => pairs.iter().for_each(|(k, v)| {
            flatten(k, out);
            flatten(v, out);
        }),
        other => out.extend(format!("{other:?}").into_bytes()),
    }
}

pub fn holds(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}
