//! Authentication: `Authorization: Bearer <token>` on HTTP, the same in the `connection_init`
//! payload (or the upgrade request's headers) on websockets. Tokens are looked up by their
//! SHA-256; the token itself is never stored or logged.

use async_graphql::Context;
use paas_core::model::{Secret, User};
use paas_core::{Error, Platform, Result};

use crate::error::{GqlResult, gql};

/// The authenticated user of a request, put in the request's data.
#[derive(Clone, Debug)]
pub struct Viewer(pub User);

/// Reads `Bearer <token>` (scheme case-insensitive).
pub fn bearer(value: &str) -> Option<Secret> {
    let (scheme, token) = value.trim().split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty())
        .then(|| Secret::new(token.trim()))
}

/// The user a token belongs to, read through the cache.
pub async fn authenticate(platform: &Platform, token: &Secret) -> Result<User> {
    let hash = token.hash();
    if let Some(user) = platform.cache().user_by_token_hash(&hash).await {
        return Ok(user);
    }
    let user = platform
        .store()
        .user_by_token_hash(&hash)
        .await?
        .ok_or(Error::Unauthenticated)?;
    platform.cache().put_user_by_token_hash(&hash, &user).await;
    Ok(user)
}

/// The viewer of a resolver's request, or `UNAUTHENTICATED`.
pub fn viewer<'a>(ctx: &Context<'a>) -> GqlResult<&'a User> {
    ctx.data_opt::<Viewer>()
        .map(|v| &v.0)
        .ok_or_else(|| gql(Error::Unauthenticated))
}

/// Finds the token in a `connection_init` payload: `{"Authorization": "Bearer …"}` (any case),
/// or `{"token": "…"}`.
pub fn token_from_init_payload(payload: &serde_json::Value) -> Option<Secret> {
    let obj = payload.as_object()?;
    obj.iter().find_map(|(k, v)| {
        let v = v.as_str()?;
        if k.eq_ignore_ascii_case("authorization") {
            bearer(v)
        } else if k == "token" {
            Some(Secret::new(v))
        } else {
            None
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_parsing() {
        assert_eq!(
            bearer("Bearer abc").map(|s| s.expose().to_owned()),
            Some("abc".into())
        );
        assert_eq!(
            bearer("bearer  abc ").map(|s| s.expose().to_owned()),
            Some("abc".into())
        );
        assert!(bearer("Basic abc").is_none());
        assert!(bearer("Bearer ").is_none());
        let p = serde_json::json!({"authorization": "Bearer t1"});
        assert_eq!(
            token_from_init_payload(&p).map(|s| s.expose().to_owned()),
            Some("t1".into())
        );
        let p = serde_json::json!({"token": "t2"});
        assert_eq!(
            token_from_init_payload(&p).map(|s| s.expose().to_owned()),
            Some("t2".into())
        );
    }
}
