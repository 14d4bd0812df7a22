//! The flows of the design card, as methods on [`crate::Platform`].

mod actions;
mod apps;
mod create;
mod deploy;
mod lifecycle;
mod logs;
mod reconcile;
mod supervise;
mod tasks;
mod watch;

pub use deploy::{Step, run_steps, while_renewing};
pub use logs::{FileCapture, LogItem};
