//! `paas secrets rotate`: every secret sealed again with a new key ([`paas_core::secrets::Rotation`]
//! says how a stop half way loses nothing).

use anyhow::Context;
use paas_core::store::sql::SqlStore;

use crate::Settings;

/// Rotates the key of `settings`' data dir and database; prints what it did.
pub async fn rotate(settings: &Settings) -> anyhow::Result<()> {
    paas_core::secrets::files::private_dir(&settings.data_dir)?;
    let previous: Vec<String> = settings
        .previous_secret_keys
        .iter()
        .map(|k| k.expose().to_owned())
        .collect();
    let rotation = paas_core::secrets::Rotation::begin(
        &settings.data_dir,
        settings.secret_key.as_ref().map(|k| k.expose()),
        &previous,
    )?;
    let store = SqlStore::connect(&settings.database_url(), rotation.keys().clone())
        .await
        .context("connecting to the database")?;
    store.migrate().await.context("migrating the database")?;
    let done = store.reseal().await?;
    let key = rotation.finish()?;
    println!(
        "{} secrets sealed again with key {key} ({} were already)",
        done.sealed, done.current
    );
    Ok(())
}
