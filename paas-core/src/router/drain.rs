//! Make-before-break: a replaced instance is removed only once no router has a request or a
//! websocket in flight on it, or the drain timeout has passed.
//!
//! Expected flow: the new instance answers → the app's route is switched to it in the store and
//! [`Event::RouteChanged`] published → every router reads the route again, marks the old backend
//! draining (no new request picks it) and publishes a [`DrainReport`] with what it still has in
//! flight there, and another with zero once that finished → the deployer, which subscribed
//! before the switch ([`Drain::watch`]), waits until at least `settle` has passed and every
//! router that reported has reported zero, for at most the drain timeout → removes the old
//! instance.
//!
//! Assumptions: routers hear the bus within `settle` (milliseconds on Redis or in memory); one
//! that hears later (a bus outage) learns the switch on its resync and may send to the old
//! instance until then: the drain timeout bounds how long that instance stays.

use std::collections::HashMap;
use std::time::Duration;

use futures::stream::BoxStream;
use futures::{FutureExt, StreamExt};

use crate::events::{DrainReport, Event};
use crate::platform::Platform;

/// A deployer's view of one instance's drain, subscribed before the route switches away from it.
pub struct Drain {
    events: Option<BoxStream<'static, Event>>,
    started: tokio::time::Instant,
}

impl Drain {
    /// Starts listening for drain reports; call before the route switches.
    pub async fn watch(platform: &Platform) -> Self {
        let events = match platform.bus().subscribe().await {
            Ok(events) => Some(events),
            Err(e) => {
                tracing::warn!(error = %e, "no drain reports: the old instance waits the drain timeout");
                None
            }
        };
        Self {
            events,
            started: tokio::time::Instant::now(),
        }
    }

    /// Waits until `instance` has drained on every router that reported it (and `settle` has
    /// passed), or `timeout` from the start of the watch. Returns whether it drained (false:
    /// the timeout cut requests or websockets still open).
    pub async fn wait(self, instance: &str, settle: Duration, timeout: Duration) -> bool {
        self.wait_all(&[instance.to_owned()], settle, timeout).await
    }

    /// [`Drain::wait`] for several instances at once (every replica of an app).
    pub async fn wait_all(
        mut self,
        instances: &[String],
        settle: Duration,
        timeout: Duration,
    ) -> bool {
        let deadline = self.started + timeout;
        let settled = self.started + settle;
        let Some(mut events) = self.events.take() else {
            tokio::time::sleep_until(deadline).await;
            return false;
        };
        let mut open: HashMap<(String, String), usize> = HashMap::new();
        loop {
            // Reports already received count before any decision (a late start of this wait
            // must not take "nothing heard yet" for "drained").
            while let Some(event) = events.next().now_or_never() {
                match event {
                    Some(event) => note(&mut open, instances, event),
                    None => return wait_out(deadline).await,
                }
            }
            let busy = open.values().any(|n| *n > 0);
            let now = tokio::time::Instant::now();
            if !busy && now >= settled {
                return true;
            }
            if now >= deadline {
                return false;
            }
            let until = if busy {
                deadline
            } else {
                settled.min(deadline)
            };
            tokio::select! {
                _ = tokio::time::sleep_until(until) => {}
                event = events.next() => match event {
                    Some(event) => note(&mut open, instances, event),
                    // The bus went away: nothing more will be heard; wait out the timeout.
                    None => return wait_out(deadline).await,
                },
            }
        }
    }
}

/// Records a drain report of one of `instances` (other events are not this wait's).
fn note(open: &mut HashMap<(String, String), usize>, instances: &[String], event: Event) {
    if let Event::Drain(DrainReport {
        instance,
        router,
        in_flight,
    }) = event
        && instances.contains(&instance)
    {
        open.insert((router, instance), in_flight);
    }
}

/// Nothing more will be heard: the drain timeout decides.
async fn wait_out(deadline: tokio::time::Instant) -> bool {
    tokio::time::sleep_until(deadline).await;
    false
}
