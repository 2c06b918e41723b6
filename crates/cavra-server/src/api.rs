//! The OpenAPI 3.1 document, generated from the handlers' types (`utoipa`).

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

struct Bearer;

impl Modify for Bearer {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        let components = api.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("A token from `cavra tokens issue`"))
                    .build(),
            ),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "CAVRA", description = "Before the agent acts, CAVRA decides: decisions, hooks and approvals over HTTP (docs/server.md)."),
    paths(
        crate::meta::health,
        crate::meta::version,
        crate::meta::console_config,
        crate::meta::metrics,
        crate::meta::openapi,
        crate::decisions::post_decision,
        crate::decisions::list_decisions,
        crate::decisions::get_decision,
        crate::stream::decision_stream,
        crate::hooks::post_hook,
        crate::approvals::list_approvals,
        crate::approvals::get_approval,
        crate::approvals::approve,
        crate::approvals::deny,
        crate::sync::get_pack,
        crate::sync::post_evidence,
    ),
    components(schemas(crate::error::ErrorDocument, crate::error::ErrorBody)),
    modifiers(&Bearer)
)]
pub struct Api;

/// The document as JSON text.
pub fn document() -> String {
    Api::openapi()
        .to_pretty_json()
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    #[test]
    fn the_document_is_openapi_3_1_with_every_route() {
        let v: serde_json::Value = serde_json::from_str(&super::document()).unwrap();
        assert!(
            v["openapi"].as_str().unwrap().starts_with("3.1"),
            "{}",
            v["openapi"]
        );
        for p in [
            "/health",
            "/metrics",
            "/v1/decisions",
            "/v1/decisions/{id}",
            "/v1/hooks/{agent}",
            "/v1/approvals/{id}/approve",
            "/v1/sync/pack",
            "/v1/decisions/stream",
            "/v1/sync/evidence",
        ] {
            assert!(v["paths"].get(p).is_some(), "{p} missing");
        }
        assert!(v["components"]["securitySchemes"]["bearer"].is_object());
    }
}
