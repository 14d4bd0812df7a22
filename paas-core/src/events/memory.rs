//! In-process event bus on a tokio broadcast channel.

use async_trait::async_trait;
use futures::StreamExt;
use futures::stream::BoxStream;
use tokio::sync::broadcast;
use tokio_stream::wrappers::BroadcastStream;

use super::{Event, EventBus};
use crate::error::Result;

/// Events buffered per subscriber before the slowest one starts missing some.
const CAPACITY: usize = 1024;

/// Cheap to clone; all clones share one channel.
#[derive(Clone)]
pub struct MemoryBus {
    tx: broadcast::Sender<Event>,
}

impl Default for MemoryBus {
    fn default() -> Self {
        Self {
            tx: broadcast::channel(CAPACITY).0,
        }
    }
}

#[async_trait]
impl EventBus for MemoryBus {
    async fn publish(&self, event: Event) -> Result<()> {
        // No subscriber is not an error: nobody is watching.
        let _ = self.tx.send(event);
        Ok(())
    }

    async fn subscribe(&self) -> Result<BoxStream<'static, Event>> {
        // A lagged subscriber is told so, and fills what it missed from the store.
        Ok(BroadcastStream::new(self.tx.subscribe())
            .map(|r| r.unwrap_or(Event::Missed))
            .boxed())
    }
}
