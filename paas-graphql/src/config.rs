//! The configuration of the `paas` binary: one flat set of keys ([`keys`]), read in layers with
//! the source of each value ([`load`]), printed without secrets ([`print`]). `examples/paas.toml`
//! lists every key with its default (a test keeps it so).

pub mod keys;
pub mod load;
pub mod print;
mod suggest;
mod value;

pub use keys::Config;
pub use load::{ConfigError, FlagValues, Loaded, Source, load};
pub use print::CredentialUrl;
