//! Bounds on running subscriptions: per websocket connection and per user. Each subscription
//! holds a log follower or an event-bus receiver; without a bound one client opens thousands.
//!
//! Implemented as a schema extension, so every operation run over a websocket is counted while
//! it runs, whatever resolver it reaches; one over a bound gets a single error response
//! (`extensions.code = TOO_MANY_SUBSCRIPTIONS`) and nothing else. HTTP requests do not pass
//! here (they run no streams).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextSubscribe};
use async_graphql::{ErrorExtensionValues, Response, ServerError};
use futures::StreamExt;
use futures::stream::BoxStream;
use paas_core::model::UserId;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::auth::Viewer;

/// One websocket connection's budget, put in its connection data.
#[derive(Clone)]
pub struct ConnectionBudget {
    slots: Arc<Semaphore>,
    max: usize,
}

impl ConnectionBudget {
    pub fn new(max: usize) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(max)),
            max,
        }
    }
}

/// The schema extension, holding every user's count.
#[derive(Clone)]
pub struct SubscriptionLimits {
    per_user: usize,
    users: Arc<Mutex<HashMap<UserId, usize>>>,
}

impl SubscriptionLimits {
    pub fn new(per_user: usize) -> Self {
        Self {
            per_user,
            users: Arc::default(),
        }
    }

    fn take_user(&self, user: UserId) -> Option<UserSlot> {
        let mut users = self.users.lock().unwrap_or_else(PoisonError::into_inner);
        let n = users.entry(user).or_insert(0);
        if *n >= self.per_user {
            return None;
        }
        *n += 1;
        Some(UserSlot {
            user,
            users: self.users.clone(),
        })
    }
}

/// A user's running subscription; dropping it gives the slot back.
struct UserSlot {
    user: UserId,
    users: Arc<Mutex<HashMap<UserId, usize>>>,
}

impl Drop for UserSlot {
    fn drop(&mut self) {
        let mut users = self.users.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = users.get_mut(&self.user) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                users.remove(&self.user);
            }
        }
    }
}

impl ExtensionFactory for SubscriptionLimits {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(self.clone())
    }
}

fn refused<'s>(message: String) -> BoxStream<'s, Response> {
    let mut error = ServerError::new(message, None);
    let mut ext = ErrorExtensionValues::default();
    crate::error::set_code(&mut ext, paas_core::ErrorCode::TooManySubscriptions);
    error.extensions = Some(ext);
    futures::stream::once(async move { Response::from_errors(vec![error]) }).boxed()
}

impl Extension for SubscriptionLimits {
    fn subscribe<'s>(
        &self,
        ctx: &ExtensionContext<'_>,
        stream: BoxStream<'s, Response>,
        next: NextSubscribe<'_>,
    ) -> BoxStream<'s, Response> {
        let mut connection_slot: Option<OwnedSemaphorePermit> = None;
        if let Some(budget) = ctx.data_opt::<ConnectionBudget>() {
            match budget.slots.clone().try_acquire_owned() {
                Ok(slot) => connection_slot = Some(slot),
                Err(_) => {
                    return refused(format!(
                        "too many subscriptions on this connection (at most {})",
                        budget.max
                    ));
                }
            }
        }
        let mut user_slot = None;
        if let Some(Viewer(user)) = ctx.data_opt::<Viewer>() {
            match self.take_user(user.id) {
                Some(slot) => user_slot = Some(slot),
                None => {
                    return refused(format!(
                        "too many subscriptions for this user (at most {})",
                        self.per_user
                    ));
                }
            }
        }
        let held = (connection_slot, user_slot);
        next.run(ctx, stream)
            .map(move |response| {
                let _held = &held;
                response
            })
            .boxed()
    }
}
