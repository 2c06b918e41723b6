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
    info(title = "CAVRA", description = "Before the agent acts, CAVRA decides: decisions, hooks, approvals, sessions, registries, policies and evidence over HTTP (docs/server.md)."),
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
        crate::slack::interactions,
        crate::breakglass::post_break_glass,
        crate::sessions::list_sessions,
        crate::sessions::get_session,
        crate::sessions::release_session,
        crate::registry::list_agents,
        crate::registry::add_agent,
        crate::registry::get_agent,
        crate::registry::approve_agent,
        crate::registry::block_agent,
        crate::registry::list_mcp_servers,
        crate::registry::add_mcp_server,
        crate::registry::get_mcp_server,
        crate::registry::approve_mcp_server,
        crate::registry::block_mcp_server,
        crate::policies::list_policies,
        crate::policies::get_policy,
        crate::policies::validate_policy,
        crate::policies::diff_policies,
        crate::policies::replay_policy,
        crate::evidence::verify,
        crate::evidence::get_record,
        crate::evidence::get_proof,
        crate::evidence::post_bundle,
        crate::evidence::export,
        crate::posture::get_posture,
        crate::inventory::list_repositories,
        crate::inventory::get_repository,
        crate::rollouts::post_draft,
        crate::rollouts::list_rollouts,
        crate::rollouts::get_rollout,
        crate::rollouts::approve_rollout,
        crate::rollouts::reject_rollout,
        crate::rollouts::assign_rollout,
        crate::rollouts::promote_rollout,
        crate::rollouts::rollback_rollout,
        crate::rollouts::get_shadow,
        crate::rollouts::register_repository,
        crate::rollouts::put_labels,
        crate::deliveries::list_deliveries,
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
        for (p, method) in [
            ("/health", "get"),
            ("/metrics", "get"),
            ("/v1/decisions", "post"),
            ("/v1/decisions", "get"),
            ("/v1/decisions/{id}", "get"),
            ("/v1/hooks/{agent}", "post"),
            ("/v1/approvals", "get"),
            ("/v1/approvals/{id}", "get"),
            ("/v1/approvals/{id}/approve", "post"),
            ("/v1/approvals/{id}/deny", "post"),
            ("/v1/connectors/slack/interactions", "post"),
            ("/v1/break-glass", "post"),
            ("/v1/sessions", "get"),
            ("/v1/sessions/{id}", "get"),
            ("/v1/sessions/{id}/release", "post"),
            ("/v1/registry/agents", "get"),
            ("/v1/registry/agents", "post"),
            ("/v1/registry/agents/{id}", "get"),
            ("/v1/registry/agents/{id}/approve", "post"),
            ("/v1/registry/agents/{id}/block", "post"),
            ("/v1/registry/mcp-servers", "get"),
            ("/v1/registry/mcp-servers", "post"),
            ("/v1/registry/mcp-servers/{id}", "get"),
            ("/v1/registry/mcp-servers/{id}/approve", "post"),
            ("/v1/registry/mcp-servers/{id}/block", "post"),
            ("/v1/policies", "get"),
            ("/v1/policies/{id}", "get"),
            ("/v1/policies/validate", "post"),
            ("/v1/policies/diff", "post"),
            ("/v1/policies/replay", "post"),
            ("/v1/posture", "get"),
            ("/v1/evidence/verify", "get"),
            ("/v1/evidence/records/{id}", "get"),
            ("/v1/evidence/records/{id}/proof", "get"),
            ("/v1/evidence/bundles", "post"),
            ("/v1/evidence/export", "get"),
            ("/v1/sync/pack", "get"),
            ("/v1/sync/evidence", "post"),
            ("/v1/decisions/stream", "get"),
            ("/v1/repositories", "get"),
            ("/v1/repositories/{id}", "get"),
        ] {
            let op = &v["paths"][p][method];
            assert!(op.is_object(), "{method} {p} missing");
            if p.starts_with("/v1/") {
                assert!(op["security"].is_array(), "{method} {p}: no security");
                assert!(op["responses"]["401"].is_object(), "{method} {p}: no 401");
                assert!(op["responses"]["403"].is_object(), "{method} {p}: no 403");
            }
            if p.contains('{') {
                assert!(
                    op["parameters"].is_array(),
                    "{method} {p}: no path parameter"
                );
            }
        }
        // the twin routes keep their own descriptions
        assert_ne!(
            v["paths"]["/v1/approvals/{id}/approve"]["post"]["operationId"],
            v["paths"]["/v1/approvals/{id}/deny"]["post"]["operationId"]
        );
        assert!(v["components"]["securitySchemes"]["bearer"].is_object());
    }
}
