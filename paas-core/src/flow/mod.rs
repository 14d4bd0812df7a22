//! The flows of the design card, as methods on [`crate::Platform`].

mod actions;
mod apps;
mod capture;
mod create;
mod deploy;
mod follow;
mod lifecycle;
mod log_watch;
mod logs;
mod power;
mod reconcile;
mod requeue;
mod settle;
mod supervise;
mod tasks;
mod watch;

pub use capture::FileCapture;
pub use deploy::{Step, run_steps, while_renewing};
pub use follow::LogItem;
pub(crate) use log_watch::LogWatches;
