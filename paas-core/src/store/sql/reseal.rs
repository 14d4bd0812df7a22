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

use super::{
    SqlStore, applications, git_host_tokens, notification_webhooks, tasks, users, webhooks,
};
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
        self.reseal_column::<applications::Entity>(
            &mut done,
            applications::Column::Id,
            applications::Column::Env,
            applications::env_context,
        )
        .await?;
        self.reseal_column::<users::Entity>(
            &mut done,
            users::Column::Id,
            users::Column::GitToken,
            |id| users::token_context(id.into()),
        )
        .await?;
        self.reseal_column::<git_host_tokens::Entity>(
            &mut done,
            git_host_tokens::Column::Id,
            git_host_tokens::Column::Token,
            git_host_tokens::token_context,
        )
        .await?;
        self.reseal_column::<webhooks::Entity>(
            &mut done,
            webhooks::Column::Id,
            webhooks::Column::Secret,
            webhooks::secret_context,
        )
        .await?;
        self.reseal_column::<notification_webhooks::Entity>(
            &mut done,
            notification_webhooks::Column::Id,
            notification_webhooks::Column::Secret,
            notification_webhooks::secret_context,
        )
        .await?;
        self.reseal_column::<tasks::Entity>(
            &mut done,
            tasks::Column::Id,
            tasks::Column::Request,
            tasks::request_context,
        )
        .await?;
        if done.sealed > 0 {
            tracing::info!(
                sealed = done.sealed,
                key = %self.keys().current_id(),
                "secrets sealed with the current key"
            );
        }
        Ok(done)
    }

    /// Seals again every non-null value of `column` in `E`'s rows, each under the context
    /// `context(id)` of its row.
    async fn reseal_column<E: EntityTrait>(
        &self,
        done: &mut Resealed,
        id_column: E::Column,
        column: E::Column,
        context: impl Fn(Uuid) -> String,
    ) -> Result<()> {
        let rows: Vec<(Uuid, Option<String>)> = E::find()
            .select_only()
            .column(id_column)
            .column(column)
            .filter(column.is_not_null())
            .into_tuple()
            .all(self.connection())
            .await
            .map_err(Error::storage)?;
        for (id, stored) in rows {
            let Some(stored) = stored else { continue };
            self.reseal_one::<E>(done, &context(id), (id_column, id), column, stored)
                .await?;
        }
        Ok(())
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
