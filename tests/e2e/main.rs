//! End-to-end: the real `paas` binary on a random port, a fresh data dir and database, driven
//! over GraphQL as a user would. Every scenario runs on SQLite and on PostgreSQL.

mod auth;
mod autodeploy;
mod browser_dashboard;
mod browser_playground;
mod build_log;
mod cli;
mod cli_git;
mod config;
mod create;
mod dashboard;
mod desired;
mod domains;
mod events;
mod failures;
mod git_push;
mod health;
mod hostile_repos;
mod http;
mod isolation;
mod lifecycle;
mod limits;
mod locks;
mod log_access;
mod logs;
mod metrics;
mod nomad;
mod notify;
mod playground;
mod podman;
mod podman_socket;
mod previews;
mod private;
mod production;
mod recovery;
mod redis_outage;
mod replicas;
mod repos;
mod router_proxy;
mod router_switch;
mod router_tls;
mod routers;
mod scale_to_zero;
mod scaling;
mod secrets;
mod start;
mod tasks;
mod validation;
mod webhooks;
mod worker_dirs;

/// Every scenario runs on both databases (the macro is shared with the other suites).
pub(crate) use paas_tests::on_both_databases;
