//! [`Store`](crate::store::Store) on sea-orm: SQLite (the embedded default) and PostgreSQL.
//! One entity per file, with the role of the store it serves (`users.rs`: `UserStore`,
//! `applications.rs`: `AppStore`, ...; `logs.rs`: `LogStore` on the three log tables); entities
//! never leave this module (they convert into domain types). `store.rs` holds the connection and
//! the compare-and-set write that apps and deployments share.

mod admins;
mod applications;
mod deployments;
mod domains;
mod events;
mod git_host_tokens;
mod locks;
mod log_heads;
mod log_lines;
mod log_sources;
mod log_stats;
mod logs;
mod mails_sent;
mod notification_webhook_attempts;
mod notification_webhooks;
mod notifications;
mod reseal;
mod status_events;
mod store;
mod tasks;
mod users;
mod webhook_deliveries;
mod webhooks;

pub use reseal::Resealed;
pub use store::SqlStore;
