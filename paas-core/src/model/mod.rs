//! Domain types. Newtypes parse once at the edge and cannot hold bad values.

mod app;
mod deployment;
mod desired;
mod domain;
mod email;
mod env;
mod git_host;
mod health;
mod ids;
mod language;
mod name;
mod notification_webhook;
mod port;
mod preview;
mod replica;
mod resources;
mod scaling;
mod source;
mod user;
mod validation;
mod webhook;

pub use app::{AppUpdate, Application, NewApplication, UpdateEffect, Visibility};
pub use deployment::{Deployment, DeploymentStatus, DeploymentTrigger, PushedCommit};
pub use desired::Desired;
pub use domain::Domain;
pub use email::EmailAddress;
pub use env::{EnvChange, EnvKey, EnvVars};
pub use git_host::{GitHostKind, GitHostToken};
pub use health::{HealthCheck, HealthCheckChange, HealthKind};
pub use ids::{
    AppId, DeploymentId, EventId, HookId, NotificationId, NotificationWebhookId, TaskId, UserId,
};
pub use language::{Language, Procfile};
pub use name::AppName;
pub use notification_webhook::{AttemptOutcome, NotificationWebhook, WebhookAttempt, WebhookUrl};
pub use port::Port;
pub use preview::{DEFAULT_MAX_PREVIEWS, MAX_PREVIEWS, PreviewKey, PreviewOf, PreviewSettings};
pub use replica::{Endpoint, Replica, ReplicaState};
pub use resources::{PortBinding, Protocol, Resources, validate_port_bindings};
pub use scaling::{Scaling, ScalingBounds, ScalingChange};
pub use source::{Branch, CommitId, GitSource, GitUrl, SourcePolicy};
pub use user::{Secret, User};
pub use validation::{Quoted, ValidationError, quote};
pub use webhook::Webhook;
