//! Every operation of the schema, generated from the server's own introspection: a test that
//! walks them cannot miss an operation added later.
//!
//! Each operation gets a document with every required argument filled with a value of its
//! type (input objects recursively), and the smallest selection (`__typename` for objects).
//! Arguments naming an app (`id`, `appId`) or a deployment (`deployment`) take the ids the
//! caller gives (of someone else's app, say); other ids are fresh.

use anyhow::Context;
use serde_json::{Map, Value, json};

use crate::Client;

/// The introspection the generator needs: root types, fields, arguments, input objects.
const INTROSPECTION: &str = "{
  __schema {
    queryType { name } mutationType { name } subscriptionType { name }
    types {
      name kind
      enumValues { name }
      inputFields { name type { ...T } }
      fields { name args { name type { ...T } } type { ...T } }
    }
  }
}
fragment T on __Type { kind name ofType { kind name ofType { kind name ofType { kind name } } } }";

/// Query, mutation or subscription.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Query,
    Mutation,
    Subscription,
}

/// One generated operation.
#[derive(Clone, Debug)]
pub struct Operation {
    pub kind: Kind,
    /// The root field it calls.
    pub field: String,
    /// Whether it names the given app or deployment.
    pub takes_owned_id: bool,
    pub document: String,
    pub variables: Value,
}

/// The ids operations are pointed at.
#[derive(Clone, Debug, Default)]
pub struct Owned {
    pub app: String,
    pub deployment: Option<String>,
}

impl Owned {
    pub fn app(id: &str) -> Self {
        Self {
            app: id.to_owned(),
            deployment: None,
        }
    }
}

/// Every root field of the schema the server at `client` serves, as an operation on `owned`.
pub async fn all(client: &Client, owned: &Owned) -> anyhow::Result<Vec<Operation>> {
    let schema = client.data(INTROSPECTION, json!({})).await?["__schema"].clone();
    let types: Map<String, Value> = schema["types"]
        .as_array()
        .context("types")?
        .iter()
        .filter_map(|t| Some((t["name"].as_str()?.to_owned(), t.clone())))
        .collect();
    let mut ops = Vec::new();
    for (kind, root, keyword) in [
        (Kind::Query, "queryType", "query"),
        (Kind::Mutation, "mutationType", "mutation"),
        (Kind::Subscription, "subscriptionType", "subscription"),
    ] {
        let Some(name) = schema[root]["name"].as_str() else {
            continue;
        };
        let fields = types[name]["fields"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for f in fields {
            let field = f["name"].as_str().context("field name")?.to_owned();
            let mut params = Vec::new();
            let mut args = Vec::new();
            let mut variables = Map::new();
            let mut takes_owned_id = false;
            for a in f["args"].as_array().cloned().unwrap_or_default() {
                let ty = &a["type"];
                if ty["kind"] != "NON_NULL" {
                    continue;
                }
                let arg = a["name"].as_str().context("arg name")?;
                let id = named(ty) == Some("ID");
                let value = match arg {
                    "id" | "appId" if id => Some(owned.app.clone()),
                    "deployment" if id => owned.deployment.clone(),
                    _ => None,
                };
                takes_owned_id |= value.is_some();
                let value = match value {
                    Some(v) => json!(v),
                    None => value_of(ty, &types, 0)?,
                };
                params.push(format!("${arg}: {}", type_ref(ty)?));
                args.push(format!("{arg}: ${arg}"));
                variables.insert(arg.to_owned(), value);
            }
            let params = if params.is_empty() {
                String::new()
            } else {
                format!("({})", params.join(", "))
            };
            let args = if args.is_empty() {
                String::new()
            } else {
                format!("({})", args.join(", "))
            };
            let selection = match types.get(named(&f["type"]).unwrap_or_default()) {
                Some(t)
                    if t["kind"] == "OBJECT"
                        || t["kind"] == "INTERFACE"
                        || t["kind"] == "UNION" =>
                {
                    " { __typename }"
                }
                _ => "",
            };
            ops.push(Operation {
                kind,
                document: format!("{keyword}{params} {{ {field}{args}{selection} }}"),
                field,
                takes_owned_id,
                variables: Value::Object(variables),
            });
        }
    }
    Ok(ops)
}

/// The named type under any list and non-null wrappers.
fn named(ty: &Value) -> Option<&str> {
    match ty["name"].as_str() {
        Some(n) => Some(n),
        None => named(&ty["ofType"]),
    }
}

/// The type as written in a variable definition (`ID!`, `[String!]!`).
fn type_ref(ty: &Value) -> anyhow::Result<String> {
    Ok(match ty["kind"].as_str() {
        Some("NON_NULL") => format!("{}!", type_ref(&ty["ofType"])?),
        Some("LIST") => format!("[{}]", type_ref(&ty["ofType"])?),
        _ => ty["name"].as_str().context("type name")?.to_owned(),
    })
}

/// A value of a required type: input objects get their required fields, recursively.
fn value_of(ty: &Value, types: &Map<String, Value>, depth: usize) -> anyhow::Result<Value> {
    anyhow::ensure!(depth < 8, "input types nest too deep");
    Ok(match ty["kind"].as_str() {
        Some("NON_NULL") => value_of(&ty["ofType"], types, depth + 1)?,
        Some("LIST") => json!([value_of(&ty["ofType"], types, depth + 1)?]),
        _ => {
            let name = ty["name"].as_str().context("type name")?;
            let def = types.get(name).context("unknown type")?;
            match def["kind"].as_str() {
                Some("ENUM") => def["enumValues"][0]["name"].clone(),
                Some("INPUT_OBJECT") => {
                    let mut object = Map::new();
                    for f in def["inputFields"].as_array().cloned().unwrap_or_default() {
                        if f["type"]["kind"] == "NON_NULL" {
                            let key = f["name"].as_str().context("input field")?.to_owned();
                            object.insert(key, value_of(&f["type"], types, depth + 1)?);
                        }
                    }
                    Value::Object(object)
                }
                _ => match name {
                    "ID" => json!(uuid::Uuid::now_v7().to_string()),
                    "Int" => json!(1),
                    "Float" => json!(1.0),
                    "Boolean" => json!(false),
                    _ => json!("x"),
                },
            }
        }
    })
}
