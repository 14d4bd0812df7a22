//! The flows of the design card, as methods on [`crate::Platform`].

mod apps;
mod create;
mod deploy;
mod lifecycle;
mod watch;

pub use deploy::{Step, run_steps, while_renewing};
