//! Webhooks in: what git hosts send when a branch is pushed, read without trusting it.
//!
//! - `signature.rs`: which host sent a delivery (by its headers) and the check of its signature
//!   (HMAC-SHA256 of the raw body, or GitLab's token), in constant time.
//! - `payload.rs`: the push event in each host's documented shape, and what it asks of an app.
//! - `pull.rs`: the pull (merge) request event in each host's shape, for preview apps.
//!
//! The flow that acts on a delivery is [`crate::Platform::receive_hook`] (`flow/hooks.rs`).

mod payload;
mod pull;
mod signature;

pub use payload::{PushEvent, PushVerdict};
pub use pull::{PullAction, PullEvent};
pub use signature::{Delivery, HookProvider, sign};
