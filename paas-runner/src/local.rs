//! Local processes: build in the checkout, run as a child process group. What a person trying
//! paas on a laptop uses, with nothing installed but the language toolchains. A server run as
//! root runs each app as its own user, sandboxed where bubblewrap works ([`Isolation`]).

mod builder;
mod isolation;
mod output;
mod records;
mod runtime;

pub use builder::LocalBuilder;
pub(crate) use builder::{python_entry, rust_binary};
pub use isolation::{Isolation, Lifetime};
pub use records::kill_recorded;
pub use runtime::LocalRuntime;
