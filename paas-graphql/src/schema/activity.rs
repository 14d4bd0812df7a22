//! The event log and notifications in the schema: `events` and `notifications` (queries),
//! `markNotificationsRead`, and the `events` subscription. Everyone reads their own; an admin
//! reads every user's events.

use async_graphql::connection::{Connection, Edge, EmptyFields};
use async_graphql::{Context, Enum, ID, Json, SimpleObject};
use chrono::{DateTime, Utc};
use futures::{Stream, StreamExt};
use paas_core::event_log::{self, EventFilter, LoggedEvent};
use paas_core::model::{AppId, EventId, NotificationId};
use paas_core::notify::UserNotification;
use paas_core::{ErrorCode, Platform};

use crate::auth::viewer;
use crate::error::{GqlResult, OrGql, coded};

/// Most items one page returns.
const MAX_PAGE: i32 = 100;
const DEFAULT_PAGE: i32 = 20;

/// What an event is about.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "paas_core::event_log::EventKind")]
pub enum EventKind {
    AppCreated,
    DeployStarted,
    DeploySucceeded,
    DeployFailed,
    Restarted,
    Crashed,
    OomKilled,
    HealthCheckFailed,
    HealthCheckRecovered,
    Scaled,
    Slept,
    Woke,
    Updated,
    Stopped,
    Started,
    Deleted,
    TokenCreated,
    TokenRevoked,
    AddonCreated,
}

/// What a notification is about.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "paas_core::notify::NotificationKind")]
pub enum NotificationKind {
    /// The app went `FAILED` while it was `RUNNING`: it kept crashing.
    CrashLoop,
    OomKilled,
    DeployFailed,
    HealthFailing,
    /// The server's data directory is short of disk space (admins only).
    DiskLow,
}

/// The app an event or notification is about, as it was named then (it may be gone since).
#[derive(SimpleObject)]
pub struct AppRef {
    pub id: ID,
    pub name: String,
}

fn app_ref(id: Option<AppId>, name: Option<String>) -> Option<AppRef> {
    id.map(|id| AppRef {
        id: ID(id.to_string()),
        name: name.unwrap_or_default(),
    })
}

/// One event of the log.
#[derive(SimpleObject)]
pub struct Event {
    pub id: ID,
    pub kind: EventKind,
    /// `null` for a user's own events (tokens).
    pub app: Option<AppRef>,
    pub message: String,
    /// Structured facts: `exitCode`, `from`/`to`, `fields`/`envKeys` (never env values), …
    pub details: Json<serde_json::Value>,
    pub at: DateTime<Utc>,
}

impl From<LoggedEvent> for Event {
    fn from(e: LoggedEvent) -> Self {
        Event {
            id: ID(e.id.to_string()),
            kind: e.kind.into(),
            app: app_ref(e.app, e.app_name),
            message: e.message,
            details: Json(e.details),
            at: e.at,
        }
    }
}

/// One alert for the viewer.
#[derive(SimpleObject)]
pub struct Notification {
    pub id: ID,
    pub kind: NotificationKind,
    pub app: Option<AppRef>,
    pub app_name: Option<String>,
    pub message: String,
    pub read: bool,
    pub at: DateTime<Utc>,
    /// When its condition was over (the app ran again, the disk has room again); `null` while
    /// it lasts. A condition is notified once while it lasts.
    pub cleared_at: Option<DateTime<Utc>>,
}

impl From<UserNotification> for Notification {
    fn from(n: UserNotification) -> Self {
        let x = n.notification;
        Notification {
            id: ID(n.id.to_string()),
            kind: x.kind.into(),
            app: app_ref(x.app, x.app_name.clone()),
            app_name: x.app_name,
            message: x.message,
            read: n.read,
            at: x.at,
            cleared_at: n.cleared_at,
        }
    }
}

/// `first` within bounds, and `after` as an id of the list.
fn page<T: std::str::FromStr>(
    first: Option<i32>,
    after: Option<String>,
) -> GqlResult<(u64, Option<T>)> {
    let first = first.unwrap_or(DEFAULT_PAGE);
    if !(0..=MAX_PAGE).contains(&first) {
        return Err(coded(
            ErrorCode::InvalidArgument,
            format!("first must be between 0 and {MAX_PAGE}"),
        ));
    }
    let after = after
        .map(|c| {
            c.parse::<T>().map_err(|_| {
                coded(
                    ErrorCode::InvalidCursor,
                    "after is not a cursor of this list",
                )
            })
        })
        .transpose()?;
    Ok((u64::try_from(first).unwrap_or(0), after))
}

fn filter(app: Option<ID>, kinds: Option<Vec<EventKind>>) -> GqlResult<EventFilter> {
    let app: Option<AppId> = app.map(|a| a.parse()).transpose().gql()?;
    Ok(EventFilter {
        owner: None,
        app,
        kinds: kinds
            .unwrap_or_default()
            .into_iter()
            .map(event_log::EventKind::from)
            .collect(),
    })
}

/// One more item than asked tells whether there is a next page.
fn connection<T, N: Into<T>>(
    mut items: Vec<N>,
    limit: u64,
    after: bool,
    cursor: impl Fn(&N) -> String,
) -> Connection<String, T, EmptyFields, EmptyFields>
where
    T: async_graphql::OutputType,
{
    let has_next = items.len() as u64 > limit;
    items.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let mut conn = Connection::new(after, has_next);
    conn.edges
        .extend(items.into_iter().map(|i| Edge::new(cursor(&i), i.into())));
    conn
}

pub async fn events(
    ctx: &Context<'_>,
    app: Option<ID>,
    kinds: Option<Vec<EventKind>>,
    first: Option<i32>,
    after: Option<String>,
) -> GqlResult<Connection<String, Event, EmptyFields, EmptyFields>> {
    let user = viewer(ctx)?;
    let filter = filter(app, kinds)?;
    let (limit, after) = page::<EventId>(first, after)?;
    let events = ctx
        .data::<Platform>()?
        .events_for(user, filter, after, limit + 1)
        .await
        .gql()?;
    Ok(connection(events, limit, after.is_some(), |e| {
        e.id.to_string()
    }))
}

pub async fn follow(
    ctx: &Context<'_>,
    app: Option<ID>,
    kinds: Option<Vec<EventKind>>,
) -> async_graphql::Result<impl Stream<Item = Event> + use<>> {
    let user = viewer(ctx)?;
    let filter = filter(app, kinds)?;
    let events = ctx
        .data::<Platform>()?
        .follow_events(user, filter)
        .await
        .gql()?;
    Ok(events.map(Event::from))
}

pub async fn notifications(
    ctx: &Context<'_>,
    unread: Option<bool>,
    first: Option<i32>,
    after: Option<String>,
) -> GqlResult<Connection<String, Notification, EmptyFields, EmptyFields>> {
    let user = viewer(ctx)?;
    let (limit, after) = page::<NotificationId>(first, after)?;
    let items = ctx
        .data::<Platform>()?
        .notifications_of(user.id, unread.unwrap_or(false), after, limit + 1)
        .await
        .gql()?;
    Ok(connection(items, limit, after.is_some(), |n| {
        n.id.to_string()
    }))
}

pub async fn mark_read(ctx: &Context<'_>, ids: Option<Vec<ID>>) -> GqlResult<i32> {
    let user = viewer(ctx)?;
    let ids: Option<Vec<NotificationId>> = ids
        .map(|ids| ids.iter().map(|i| i.parse()).collect::<Result<_, _>>())
        .transpose()
        .gql()?;
    let n = ctx
        .data::<Platform>()?
        .mark_notifications_read(user.id, ids.as_deref())
        .await
        .gql()?;
    Ok(i32::try_from(n).unwrap_or(i32::MAX))
}
