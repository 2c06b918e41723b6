//! `/mcp`: CAVRA's MCP server (cavra-mcp) over Streamable HTTP, behind the server's
//! authentication. A request needs `Authorization: Bearer <token>` (a server token or an
//! OIDC token; the console's cookie is not accepted here) whose role may decide (`agent`,
//! `admin`): else 401 / 403 before the MCP service sees it. The tools decide through the
//! server's runtimes, on its blocking pool, with its compiled packs, so their decisions
//! land in the same evidence log as `/v1/decisions`; none of them changes CAVRA's state.

use crate::auth::{authenticate, bearer, unauthorized};
use crate::error::ApiError;
use crate::state::{blocking, AppState, Shared};
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;
use axum::Router;
use cavra_mcp::{RuntimeBackend, RuntimeSettings, RuntimeSource, ServerOptions};
use cavra_runtime::Runtime;
use cavra_store::ApiPermission;
use std::sync::{Arc, MutexGuard};

/// The server's runtime pool, as the MCP backend's runtime source.
struct Pool(Shared);

impl RuntimeSource for Pool {
    fn runtime(&self) -> MutexGuard<'_, Runtime> {
        self.0.runtime()
    }
}

/// 401 without a bearer token or with one that does not authenticate; 403 when its role
/// may not decide; else the caller's identity goes with the request ([`cavra_mcp::Requester`]).
async fn require_agent(
    State(state): State<Shared>,
    mut req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .ok_or_else(|| unauthorized("/mcp needs `Authorization: Bearer <token>`"))?
        .to_str()
        .ok()
        .and_then(bearer)
        .ok_or_else(|| unauthorized("the Authorization header is not `Bearer <token>`"))?
        .to_string();
    let caller = blocking(&state, move |s| authenticate(s, &token)).await?;
    caller.require(ApiPermission::Decide)?;
    // the decisions name who asked, as those of POST /v1/decisions do
    req.extensions_mut()
        .insert(cavra_mcp::Requester(caller.identity().to_string()));
    Ok(next.run(req).await)
}

/// The `/mcp` routes.
pub fn routes(state: &Shared) -> Router<Shared> {
    let c: &AppState = state;
    let settings = RuntimeSettings {
        cavra_dir: c.config.cavra_dir.clone(),
        project: c.config.project.clone(),
        locator: c.config.locator.clone(),
        packs: c.config.packs.clone(),
        registry: None,
        record: c.config.record,
        non_interactive: c.config.non_interactive,
    };
    let pool: Arc<dyn RuntimeSource> = Arc::new(Pool(Arc::clone(state)));
    let options = ServerOptions {
        version: c.config.version.clone(),
        session_id: format!("mcp-http-{}", std::process::id()),
    };
    let packs = Arc::clone(&c.packs);
    let service = cavra_mcp::http::streamable_http(
        move || {
            RuntimeBackend::over(Arc::clone(&pool), settings.clone())
                .with_pack_cache(Arc::clone(&packs))
        },
        options,
        c.config.body_limit,
    );
    Router::new()
        .route_service("/mcp", service)
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(state),
            require_agent,
        ))
}
