//! Parsed GraphQL documents, kept by their text: clients send the same few queries again and
//! again (the CLI, the dashboard, an SDK's generated operations), and parsing one was a sixth of
//! a cached `application(id)` lookup's time. Only documents that parse are kept, so errors are
//! still reported by the schema, positions and all.
//!
//! Bounded twice: documents longer than [`MAX_TEXT`] are parsed each time (they are rare and
//! would make the cache large), and at [`CAPACITY`] entries one is dropped for each new one, so
//! a client sending endless distinct queries costs a fixed amount of memory.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use async_graphql::parser::parse_query;
use async_graphql::parser::types::ExecutableDocument;

/// Documents kept at most.
pub(crate) const CAPACITY: usize = 512;
/// Bytes of a document's text kept at most.
pub(crate) const MAX_TEXT: usize = 16 * 1024;

/// Parsed documents by their text; cheap to clone (one shared map).
#[derive(Clone, Default)]
pub(crate) struct Documents {
    parsed: Arc<Mutex<HashMap<Arc<str>, ExecutableDocument>>>,
}

impl Documents {
    /// Gives `request` its parsed document, from the cache or parsed now and kept. A document
    /// that does not parse is left to the schema, which reports the error.
    pub(crate) fn prepare(&self, mut request: async_graphql::Request) -> async_graphql::Request {
        if let Some(doc) = self.parsed(&request.query) {
            request.set_parsed_query(doc);
        }
        request
    }

    fn parsed(&self, text: &str) -> Option<ExecutableDocument> {
        if text.len() > MAX_TEXT {
            return None;
        }
        if let Some(doc) = self.lock().get(text) {
            return Some(doc.clone());
        }
        let doc = parse_query(text).ok()?;
        let mut parsed = self.lock();
        if parsed.len() >= CAPACITY
            && let Some(old) = parsed.keys().next().cloned()
        {
            parsed.remove(&old);
        }
        parsed.insert(Arc::from(text), doc.clone());
        Some(doc)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Arc<str>, ExecutableDocument>> {
        // A panic while holding the map leaves it whole (every change is one call).
        self.parsed.lock().unwrap_or_else(PoisonError::into_inner)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_is_parsed_once_and_kept_bounded() {
        let docs = Documents::default();
        let q = "{ viewer { id } }";
        let first = docs.prepare(async_graphql::Request::new(q));
        assert_eq!(docs.len(), 1);
        let again = docs.prepare(async_graphql::Request::new(q));
        assert_eq!(docs.len(), 1);
        let mut first = first;
        let mut again = again;
        let a = format!(
            "{:?}",
            first.parsed_query().map(|d| d.operations.iter().count())
        );
        let b = format!(
            "{:?}",
            again.parsed_query().map(|d| d.operations.iter().count())
        );
        assert_eq!(a, b);

        for i in 0..CAPACITY + 10 {
            docs.prepare(async_graphql::Request::new(format!("{{ f{i} }}")));
        }
        assert_eq!(docs.len(), CAPACITY);
    }

    #[test]
    fn broken_and_long_documents_are_not_kept() {
        let docs = Documents::default();
        let mut broken = docs.prepare(async_graphql::Request::new("{ viewer { "));
        assert_eq!(docs.len(), 0);
        assert!(
            broken.parsed_query().is_err(),
            "the schema still sees the error"
        );
        let long = format!("{{ viewer {{ id }} }} #{}", "x".repeat(MAX_TEXT));
        docs.prepare(async_graphql::Request::new(long));
        assert_eq!(docs.len(), 0);
    }
}
