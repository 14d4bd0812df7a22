//! GraphQL over HTTP: one typed operation per request, its errors turned into [`Failure`]s
//! with the API's code.

use std::time::Duration;

use graphql_client::GraphQLQuery;
use serde_json::Value;

use super::failure::Failure;

/// A server and the token sent to it.
pub struct Api {
    server: String,
    token: Option<String>,
    http: reqwest::Client,
}

/// An operation's data, typed and as the API sent it (what `--json` prints).
pub struct Answer<T> {
    pub data: T,
    pub raw: Value,
}

impl Api {
    pub fn new(server: &str, token: Option<String>) -> Result<Self, Failure> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(120))
            .user_agent(concat!("paas-cli/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Failure::Local(format!("cannot make an HTTP client: {e}")))?;
        Ok(Self {
            server: server.trim_end_matches('/').to_owned(),
            token,
            http,
        })
    }

    pub fn server(&self) -> &str {
        &self.server
    }

    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// Runs `Q` with `variables`.
    pub async fn run<Q: GraphQLQuery>(
        &self,
        variables: Q::Variables,
    ) -> Result<Answer<Q::ResponseData>, Failure> {
        let body = Q::build_query(variables);
        let mut request = self
            .http
            .post(format!("{}/graphql", self.server))
            .json(&body);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.map_err(|e| self.unreachable(&e))?;
        let status = response.status();
        let text = response.text().await.map_err(|e| self.unreachable(&e))?;
        let answer: Value = serde_json::from_str(&text).map_err(|_| {
            Failure::Local(format!(
                "{} answered HTTP {status} without GraphQL: is it a paas server?",
                self.server
            ))
        })?;
        if let Some(failure) = api_error(answer.get("errors")) {
            return Err(failure);
        }
        let raw = answer.get("data").cloned().unwrap_or(Value::Null);
        let data = serde_json::from_value(raw.clone())
            .map_err(|e| Failure::Local(format!("an answer of an unexpected shape: {e}")))?;
        Ok(Answer { data, raw })
    }

    fn unreachable(&self, e: &reqwest::Error) -> Failure {
        Failure::Unreachable {
            server: self.server.clone(),
            detail: root_cause(e),
        }
    }
}

/// The first of a response's `errors`, with its `extensions.code` (`ERROR` without one).
pub fn api_error(errors: Option<&Value>) -> Option<Failure> {
    let first = errors?.as_array()?.first()?;
    Some(Failure::Api {
        code: first["extensions"]["code"]
            .as_str()
            .unwrap_or("ERROR")
            .to_owned(),
        message: first["message"].as_str().unwrap_or("").to_owned(),
    })
}

/// The innermost cause of an error (`Connection refused (os error 111)`), not reqwest's
/// wrapping of it.
pub fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}
