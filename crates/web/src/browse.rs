//! What the Entities page browses besides one kind's entities: the Directory kinds under the
//! plugin with their counts, and the custom events SiPass's event types become. Entities
//! themselves are listed and searched by `GET /entities` (bounded pages).

use axum::Extension;
use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use model::access::Viewer;
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::error::{ApiError, ErrorBody};

/// One Directory kind under the plugin.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct KindCount {
    /// The Directory kind, as `GET /entities?kind=` takes it.
    pub kind: String,
    /// Entities of it in the Directory (0 for a user who may not see SiPass entities).
    pub count: u64,
}

/// `GET /entity-kinds`: every Directory kind a SiPass object can become, in the plugin's order.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct KindList {
    pub kinds: Vec<KindCount>,
}

#[utoipa::path(get, path = "/api/v1/entity-kinds", tag = "entities", responses((status = 200, description = "Every Directory kind with its number of entities", body = KindList), (status = 401, description = "Not signed in, or a wrong token", body = ErrorBody), (status = 503, description = "The database is unavailable", body = ErrorBody)))]
pub(crate) async fn entity_kinds(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
) -> Result<Response, ApiError> {
    let visible = crate::sees_entities(&state, &viewer).await?;
    let role = state.role.clone();
    let kinds = runtime::try_blocking(move || {
        model::DirectoryKind::ALL
            .iter()
            .map(|kind| {
                let count = if visible {
                    role.directory.count(kind.as_str())?
                } else {
                    0
                };
                Ok(KindCount {
                    kind: kind.as_str().to_owned(),
                    count,
                })
            })
            .collect::<Result<Vec<_>, store::StoreError>>()
    })
    .await??;
    Ok(Json(KindList { kinds }).into_response())
}

/// A custom event: a SiPass event type, stored under its own name, and also as the native
/// events the mapping table names.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CustomEvent {
    pub name: String,
    /// The event category its logging switch is named after (Properties).
    pub category: String,
    pub native_events: Vec<String>,
    /// False for a type SiPass sent that the mapping table does not know: stored as its
    /// custom event only.
    pub known: bool,
    /// Events of an unknown type seen so far (null for the known types: counting those
    /// would read every stored event).
    pub seen: Option<u64>,
}

/// `GET /event-types`: every custom event.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CustomEventList {
    pub custom_events: Vec<CustomEvent>,
}

/// The counter under which events of a type the table does not know are counted.
const UNKNOWN_TYPE: &str = "unknown_type:";

#[utoipa::path(get, path = "/api/v1/event-types", tag = "events", responses((status = 200, description = "Every custom event: the mapping table's SiPass event types, then the unknown types SiPass sent", body = CustomEventList), (status = 401, description = "Not signed in, or a wrong token", body = ErrorBody), (status = 503, description = "The database is unavailable", body = ErrorBody)))]
pub(crate) async fn event_types(State(state): State<AppState>) -> Result<Response, ApiError> {
    let role = state.role.clone();
    let counters = runtime::try_blocking(move || role.plugin.event_counters()).await??;
    Ok(Json(custom_events(&counters)).into_response())
}

/// The mapping table's types, then the unknown ones the counters name (bounded: each name
/// was cut to size when counted, and at most `MAX_UNKNOWN` are listed).
fn custom_events(counters: &[(String, u64)]) -> CustomEventList {
    const MAX_UNKNOWN: usize = 1000;
    let known = model::management::EVENT_TYPES.iter().map(|t| CustomEvent {
        name: t.name.to_owned(),
        category: format!("{:?}", t.category),
        native_events: model::event_mapping::native_events(t.name)
            .unwrap_or_default()
            .iter()
            .map(|n| (*n).to_owned())
            .collect(),
        known: true,
        seen: None,
    });
    let unknown = counters
        .iter()
        .filter_map(|(name, n)| Some((name.strip_prefix(UNKNOWN_TYPE)?, *n)))
        .take(MAX_UNKNOWN)
        .map(|(name, n)| CustomEvent {
            name: name.to_owned(),
            category: "Generic".into(),
            native_events: Vec::new(),
            known: false,
            seen: Some(n),
        });
    CustomEventList {
        custom_events: known.chain(unknown).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn custom_events_are_the_mapping_table_then_the_unknown_types_seen() {
        let counters = vec![
            ("unknown_type:Lift Stuck".to_owned(), 3),
            ("ignored:Door Closed".to_owned(), 9),
        ];
        let list = custom_events(&counters).custom_events;
        let granted = list.iter().find(|e| e.name == "Access Granted").unwrap();
        assert_eq!(granted.native_events, ["Access Granted"]);
        assert_eq!(granted.category, "Access");
        let last = list.last().unwrap();
        assert_eq!(
            (last.name.as_str(), last.known, last.seen),
            ("Lift Stuck", false, Some(3))
        );
        assert_eq!(list.iter().filter(|e| !e.known).count(), 1);
        assert_eq!(
            list.len(),
            model::management::EVENT_TYPES.len() + 1,
            "every type of the table"
        );
    }
}
