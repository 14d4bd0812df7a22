//! Redis cache shared by every process: JSON values under `<prefix>:…` keys with a TTL.
//!
//! A user's app lists are keyed by a per-user generation number; adding or removing an app bumps
//! it, which evicts every cached page of that user at once without scanning keys.
//!
//! No secret is kept in plain text: a cached app's env is sealed with the platform's keys
//! ([`crate::secrets`]) like in the database; users are cached without their git token.
//!
//! Every call is bounded by [`CALL_TIMEOUT`]; a failure is a miss (reads) or a no-op (writes),
//! logged at debug level. The connection heals by itself when Redis comes back.
//!
//! Redis down = the database's speed: a [`Breaker`] skips Redis from the first failure until
//! a probe finds it answering again, so no request waits on a dead Redis. A write that could not
//! reach Redis (an update, an eviction) leaves an entry that may be stale: it opens the breaker
//! (if the failure had not already), and before the breaker closes every cached entry under the
//! prefix is dropped, so nothing stale is served after and no TTL is waited out.
//!
//! API tokens are also kept in this process ([`MemoryCache`], same TTL): a token is created
//! with its user and never changes hands or goes (there is no revocation), and a user never
//! changes, so no other process can make the copy wrong, and a request's authentication costs
//! no round trip. Should tokens ever be revoked, the revocation must reach every process's copy.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use redis::AsyncCommands;
use redis::aio::ConnectionManager;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::Cache;
use super::memory::MemoryCache;
use crate::error::Result;
use crate::model::{AppId, AppName, Application, User, UserId};
use crate::redis_conn::{Breaker, CALL_TIMEOUT, CallError, connect};
use crate::secrets::Keyring;

/// The kinds of keys the cache writes (under `<prefix>:`), dropped together after an outage.
const KINDS: [&str; 6] = ["app", "appname", "apps", "appsgen", "token", "user"];

/// Cheap to clone.
#[derive(Clone)]
pub struct RedisCache {
    conn: ConnectionManager,
    prefix: String,
    ttl: Duration,
    /// Seals the env of cached apps.
    keys: Keyring,
    breaker: Breaker,
    /// A write was lost while Redis was unreachable: what is cached may be stale.
    missed_writes: Arc<AtomicBool>,
    /// Tokens → users seen by this process (see the module doc for why that is safe).
    near_tokens: MemoryCache,
}

/// A cached app: everything but the env in the clear, the env sealed.
#[derive(Serialize, Deserialize)]
struct CachedApp {
    app: Application,
    env: String,
}

fn env_context(id: AppId) -> String {
    format!("cache-env:{id}")
}

impl RedisCache {
    /// Connects; keys start with `prefix:`; env values are sealed with `keys`.
    pub async fn connect(url: &str, prefix: &str, ttl: Duration, keys: Keyring) -> Result<Self> {
        let (_, conn) = connect(url).await?;
        let missed_writes = Arc::new(AtomicBool::new(false));
        let hook = {
            let (conn, prefix, missed) = (conn.clone(), prefix.to_owned(), missed_writes.clone());
            Arc::new(move || {
                let (conn, prefix, missed) = (conn.clone(), prefix.clone(), missed.clone());
                Box::pin(async move { forget_all(conn, &prefix, &missed).await })
                    as futures::future::BoxFuture<'static, bool>
            })
        };
        let breaker = Breaker::with_hooks(
            "cache",
            conn.clone(),
            Some(hook),
            tokio::sync::watch::channel(0).0,
        );
        Ok(Self {
            conn,
            prefix: prefix.to_owned(),
            ttl,
            keys,
            breaker,
            missed_writes,
            near_tokens: MemoryCache::with_ttl(ttl),
        })
    }

    /// The breaker in front of Redis (tests look at it).
    pub fn breaker(&self) -> &Breaker {
        &self.breaker
    }

    /// Runs a write; one that does not reach Redis marks the cache as possibly stale.
    async fn write<T>(
        &self,
        call: impl std::future::Future<Output = redis::RedisResult<T>>,
    ) -> bool {
        match self.breaker.call(CALL_TIMEOUT, call).await {
            Ok(_) => true,
            Err(e) => {
                self.missed_writes.store(true, Ordering::Release);
                // Whatever the failure, the breaker opens: its probe drops what may be stale
                // before Redis is used again (nothing waits out a TTL).
                if !matches!(e, CallError::Open) {
                    self.breaker.trip();
                }
                tracing::debug!(error = %e, "cache write failed");
                false
            }
        }
    }

    fn seal(&self, app: &Application) -> Option<CachedApp> {
        let env: std::collections::BTreeMap<&str, &str> = app
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let env = serde_json::to_string(&env).ok()?;
        let mut app = app.clone();
        app.env = Default::default();
        Some(CachedApp {
            env: self.keys.seal(&env_context(app.id), &env),
            app,
        })
    }

    fn open(&self, cached: CachedApp) -> Option<Application> {
        let mut app = cached.app;
        // A value this process cannot open (another key) is a miss: the store answers.
        let env = self.keys.open(&env_context(app.id), &cached.env).ok()?;
        if env.stale {
            return None;
        }
        let env: std::collections::BTreeMap<String, String> =
            serde_json::from_str(&env.plaintext).ok()?;
        app.env = crate::model::EnvVars::parse(env).ok()?;
        Some(app)
    }

    fn key(&self, parts: &[&str]) -> String {
        let mut k = self.prefix.clone();
        for p in parts {
            k.push(':');
            k.push_str(p);
        }
        k
    }

    async fn get<T: DeserializeOwned>(&self, key: String) -> Option<T> {
        let mut conn = self.conn.clone();
        let got: Option<String> = match self.breaker.call(CALL_TIMEOUT, conn.get(&key)).await {
            Ok(v) => v,
            Err(e) => {
                tracing::debug!(error = %e, "cache read failed");
                None
            }
        };
        got.and_then(|s| serde_json::from_str(&s).ok())
    }

    async fn set<T: Serialize + ?Sized>(&self, key: String, value: &T) {
        let Ok(json) = serde_json::to_string(value) else {
            return;
        };
        let mut conn = self.conn.clone();
        let secs = self.ttl.as_secs().max(1);
        self.write(conn.set_ex::<_, _, ()>(&key, json, secs)).await;
    }

    async fn del(&self, keys: Vec<String>) {
        let mut conn = self.conn.clone();
        self.write(conn.del::<_, ()>(keys)).await;
    }

    /// The current generation of a user's lists (0 when unknown).
    async fn generation(&self, owner: UserId) -> Option<u64> {
        let mut conn = self.conn.clone();
        let key = self.key(&["appsgen", &owner.to_string()]);
        match self
            .breaker
            .call(CALL_TIMEOUT, conn.get::<_, Option<u64>>(key))
            .await
        {
            Ok(v) => Some(v.unwrap_or(0)),
            Err(_) => None,
        }
    }

    fn list_key(&self, owner: UserId, gen_: u64, after: Option<AppId>, limit: u64) -> String {
        let after = after.map_or_else(|| "-".to_owned(), |a| a.to_string());
        self.key(&[
            "apps",
            &owner.to_string(),
            &gen_.to_string(),
            &after,
            &limit.to_string(),
        ])
    }
}

#[async_trait]
impl Cache for RedisCache {
    async fn app(&self, id: AppId) -> Option<Application> {
        let cached: CachedApp = self.get(self.key(&["app", &id.to_string()])).await?;
        self.open(cached)
    }

    async fn put_app(&self, app: &Application) {
        // Never let an older version replace a newer one (two writers racing): the CAS in the
        // store already ordered them, so the higher version is the truth.
        if let Some(cached) = self.app(app.id).await
            && cached.version > app.version
        {
            return;
        }
        let Some(cached) = self.seal(app) else {
            return;
        };
        self.set(self.key(&["app", &app.id.to_string()]), &cached)
            .await;
        self.set(self.key(&["appname", app.name.as_str()]), &app.id)
            .await;
    }

    async fn evict_app(&self, app: &Application) {
        self.del(vec![
            self.key(&["app", &app.id.to_string()]),
            self.key(&["appname", app.name.as_str()]),
        ])
        .await;
    }

    async fn app_id_by_name(&self, name: &AppName) -> Option<AppId> {
        self.get(self.key(&["appname", name.as_str()])).await
    }

    async fn app_list(
        &self,
        owner: UserId,
        after: Option<AppId>,
        limit: u64,
    ) -> Option<Vec<AppId>> {
        let gen_ = self.generation(owner).await?;
        self.get(self.list_key(owner, gen_, after, limit)).await
    }

    async fn put_app_list(&self, owner: UserId, after: Option<AppId>, limit: u64, ids: &[AppId]) {
        if let Some(gen_) = self.generation(owner).await {
            self.set(self.list_key(owner, gen_, after, limit), ids)
                .await;
        }
    }

    async fn evict_app_lists(&self, owner: UserId) {
        let mut conn = self.conn.clone();
        let key = self.key(&["appsgen", &owner.to_string()]);
        self.write(conn.incr::<_, _, u64>(key, 1)).await;
    }

    async fn user_by_token_hash(&self, hash: &str) -> Option<User> {
        if let Some(user) = self.near_tokens.user_by_token_hash(hash).await {
            return Some(user);
        }
        let user: User = self.get(self.key(&["token", hash])).await?;
        self.near_tokens.put_user_by_token_hash(hash, &user).await;
        Some(user)
    }

    async fn put_user_by_token_hash(&self, hash: &str, user: &User) {
        self.near_tokens.put_user_by_token_hash(hash, user).await;
        self.set(self.key(&["token", hash]), user).await;
        self.set(self.key(&["user", &user.id.to_string()]), user)
            .await;
    }

    async fn user(&self, id: UserId) -> Option<User> {
        self.get(self.key(&["user", &id.to_string()])).await
    }
}

/// Drops every cached entry under `prefix` if a write was lost; false if Redis failed meanwhile.
async fn forget_all(mut conn: ConnectionManager, prefix: &str, missed: &AtomicBool) -> bool {
    if !missed.swap(false, Ordering::AcqRel) {
        return true;
    }
    for kind in KINDS {
        let pattern = format!("{prefix}:{kind}:*");
        let keys: redis::RedisResult<Vec<String>> = async {
            let mut iter = conn.scan_match::<_, String>(&pattern).await?;
            let mut keys = Vec::new();
            while let Some(k) = futures::StreamExt::next(&mut iter).await {
                keys.push(k?);
            }
            Ok(keys)
        }
        .await;
        let done = match keys {
            Ok(keys) if keys.is_empty() => true,
            Ok(keys) => conn.del::<_, ()>(keys).await.is_ok(),
            Err(_) => false,
        };
        if !done {
            missed.store(true, Ordering::Release);
            return false;
        }
    }
    tracing::info!(%prefix, "cache entries dropped: writes were lost while redis was unreachable");
    true
}
