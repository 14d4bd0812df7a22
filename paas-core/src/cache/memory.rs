//! In-process cache: a map per kind, entries expire after a TTL.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::Cache;
use crate::model::{AppId, AppName, Application, User, UserId};

/// How long an entry lives by default.
const DEFAULT_TTL: Duration = Duration::from_secs(300);

struct Map<K, V> {
    entries: HashMap<K, (Instant, V)>,
}

impl<K: Eq + Hash, V: Clone> Map<K, V> {
    fn new() -> Self {
        Self {
            entries: HashMap::new(),
        }
    }

    fn get(&mut self, k: &K) -> Option<V> {
        match self.entries.get(k) {
            Some((expires, v)) if *expires > Instant::now() => Some(v.clone()),
            Some(_) => {
                self.entries.remove(k);
                None
            }
            None => None,
        }
    }

    fn put(&mut self, k: K, v: V, ttl: Duration) {
        self.entries.insert(k, (Instant::now() + ttl, v));
    }
}

type ListKey = (UserId, Option<AppId>, u64);

struct Maps {
    apps: Map<AppId, Application>,
    names: Map<AppName, AppId>,
    lists: Map<ListKey, Vec<AppId>>,
    users: Map<UserId, User>,
    tokens: Map<String, User>,
}

/// Cheap to clone; clones share the maps.
#[derive(Clone)]
pub struct MemoryCache {
    maps: Arc<Mutex<Maps>>,
    ttl: Duration,
}

impl Default for MemoryCache {
    fn default() -> Self {
        Self::with_ttl(DEFAULT_TTL)
    }
}

impl MemoryCache {
    pub fn with_ttl(ttl: Duration) -> Self {
        Self {
            maps: Arc::new(Mutex::new(Maps {
                apps: Map::new(),
                names: Map::new(),
                lists: Map::new(),
                users: Map::new(),
                tokens: Map::new(),
            })),
            ttl,
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut Maps) -> R) -> R {
        // A poisoned lock only means a panic elsewhere mid-insert; the maps are still usable.
        let mut guard = self.maps.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard)
    }
}

#[async_trait]
impl Cache for MemoryCache {
    async fn app(&self, id: AppId) -> Option<Application> {
        self.with(|m| m.apps.get(&id))
    }

    async fn put_app(&self, app: &Application) {
        let ttl = self.ttl;
        self.with(|m| {
            // Never let an older version replace a newer one (two writers racing).
            let stale = m
                .apps
                .get(&app.id)
                .is_some_and(|cached| cached.version > app.version);
            if !stale {
                m.apps.put(app.id, app.clone(), ttl);
                m.names.put(app.name.clone(), app.id, ttl);
            }
        })
    }

    async fn evict_app(&self, app: &Application) {
        self.with(|m| {
            m.apps.entries.remove(&app.id);
            m.names.entries.remove(&app.name);
        });
    }

    async fn app_id_by_name(&self, name: &AppName) -> Option<AppId> {
        self.with(|m| m.names.get(name))
    }

    async fn app_list(
        &self,
        owner: UserId,
        after: Option<AppId>,
        limit: u64,
    ) -> Option<Vec<AppId>> {
        self.with(|m| m.lists.get(&(owner, after, limit)))
    }

    async fn put_app_list(&self, owner: UserId, after: Option<AppId>, limit: u64, ids: &[AppId]) {
        let ttl = self.ttl;
        self.with(|m| m.lists.put((owner, after, limit), ids.to_vec(), ttl));
    }

    async fn evict_app_lists(&self, owner: UserId) {
        self.with(|m| m.lists.entries.retain(|(o, _, _), _| *o != owner));
    }

    async fn user_by_token_hash(&self, hash: &str) -> Option<User> {
        self.with(|m| m.tokens.get(&hash.to_owned()))
    }

    async fn put_user_by_token_hash(&self, hash: &str, user: &User) {
        let ttl = self.ttl;
        self.with(|m| {
            m.tokens.put(hash.to_owned(), user.clone(), ttl);
            m.users.put(user.id, user.clone(), ttl);
        })
    }

    async fn user(&self, id: UserId) -> Option<User> {
        self.with(|m| m.users.get(&id))
    }
}
