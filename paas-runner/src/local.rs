//! Local processes: build in the checkout, run as a child process group. What a person trying
//! paas on a laptop uses, with nothing installed but the language toolchains.

mod builder;
mod output;
mod records;
mod runtime;

pub use builder::LocalBuilder;
pub(crate) use builder::{python_entry, rust_binary};
pub use runtime::LocalRuntime;
