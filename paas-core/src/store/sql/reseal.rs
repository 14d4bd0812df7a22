//! Sealing every secret in the database again with the current key: at start (values of
//! versions before encryption, values of an unfinished rotation) and by `paas secrets rotate`.
//!
//! Guarantees: every stored secret is opened first, so a value sealed with a key this process
//! does not hold stops the start with [`crate::secrets::SecretsError::UnknownKey`] naming the key,
//! instead of being served as garbage later. Each row is rewritten compare-and-set on its old
//! text, so a value a request changed meanwhile is left as that request wrote it (already sealed
//! with the current key).

use sea_orm::entity::prelude::*;
use sea_orm::sea_query::Expr;
use sea_orm::{EntityTrait, QuerySelect};

use super::{SqlStore, applications, tasks, users};
use crate::error::{Error, Result};

/// What [`SqlStore::reseal`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Resealed {
    /// Values sealed again (plain text, or sealed with another key).
    pub sealed: usize,
    /// Values already sealed with the current key.
    pub current: usize,
}

impl SqlStore {
    /// Opens every secret in the database and seals again those not sealed with the current key.
    #[tracing::instrument(skip_all, err)]
    pub async fn reseal(&self) -> Result<Resealed> {
        let mut done = Resealed::default();
        let rows: Vec<(Uuid, String)> = applications::Entity::find()
            .select_only()
            .column(applications::Column::Id)
            .column(applications::Column::Env)
            .into_tuple()
            .all(self.connection())
            .await
            .map_err(Error::storage)?;
        for (id, stored) in rows {
            let context = applications::env_context(id);
            self.reseal_one::<applications::Entity>(
                &mut done,
                &context,
                (applications::Column::Id, id),
                applications::Column::Env,
                stored,
            )
            .await?;
        }
        let rows: Vec<(Uuid, Option<String>)> = users::Entity::find()
            .select_only()
            .column(users::Column::Id)
            .column(users::Column::GitToken)
            .filter(users::Column::GitToken.is_not_null())
            .into_tuple()
            .all(self.connection())
            .await
            .map_err(Error::storage)?;
        for (id, stored) in rows {
            let Some(stored) = stored else { continue };
            let context = users::token_context(id.into());
            self.reseal_one::<users::Entity>(
                &mut done,
                &context,
                (users::Column::Id, id),
                users::Column::GitToken,
                stored,
            )
            .await?;
        }
        let rows: Vec<(Uuid, Option<String>)> = tasks::Entity::find()
            .select_only()
            .column(tasks::Column::Id)
            .column(tasks::Column::Request)
            .filter(tasks::Column::Request.is_not_null())
            .into_tuple()
            .all(self.connection())
            .await
            .map_err(Error::storage)?;
        for (id, stored) in rows {
            let Some(stored) = stored else { continue };
            let context = tasks::request_context(id);
            self.reseal_one::<tasks::Entity>(
                &mut done,
                &context,
                (tasks::Column::Id, id),
                tasks::Column::Request,
                stored,
            )
            .await?;
        }
        if done.sealed > 0 {
            tracing::info!(
                sealed = done.sealed,
                key = %self.keys().current_id(),
                "secrets sealed with the current key"
            );
        }
        Ok(done)
    }

    async fn reseal_one<E: EntityTrait>(
        &self,
        done: &mut Resealed,
        context: &str,
        (id_column, id): (E::Column, Uuid),
        column: E::Column,
        stored: String,
    ) -> Result<()> {
        let opened = self.keys().open(context, &stored)?;
        if !opened.stale {
            done.current += 1;
            return Ok(());
        }
        let sealed = self.keys().seal(context, &opened.plaintext);
        E::update_many()
            .col_expr(column, Expr::value(sealed))
            .filter(ColumnTrait::eq(&id_column, id))
            .filter(ColumnTrait::eq(&column, stored))
            .exec(self.connection())
            .await
            .map_err(Error::storage)?;
        done.sealed += 1;
        Ok(())
    }
}
