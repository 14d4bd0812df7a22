//! [`Store`](crate::store::Store) on sea-orm: SQLite (the embedded default) and PostgreSQL.
//! One entity per file; entities never leave this module (they convert into domain types).

mod applications;
mod deployments;
mod locks;
mod log_heads;
mod log_lines;
mod log_sources;
mod logs;
mod reseal;
mod status_events;
mod store;
mod tasks;
mod users;

pub use reseal::Resealed;
pub use store::SqlStore;
