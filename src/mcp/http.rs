//! Streamable HTTP transport: `/mcp` behind bearer-token authentication and `/healthz`.
//! Unauthenticated requests get 401 with `WWW-Authenticate` and never reach a tool.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::StewardServer;
use super::auth::{AuthFailure, TokenVerifier};
use crate::config::ServerSettings;

/// Serves MCP on `listener` until `shutdown` is cancelled.
pub async fn serve(
    listener: TcpListener,
    server: StewardServer,
    verifier: TokenVerifier,
    settings: &ServerSettings,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    // Origin is checked even with an empty allowlist: browsers may not call Steward unless a
    // page's origin is listed (MCP requires 403 for an invalid Origin).
    let config = StreamableHttpServerConfig::default()
        .with_allowed_hosts(settings.allowed_hosts.clone())
        .with_allowed_origins(settings.allowed_origins.clone())
        .enforce_origin_validation()
        .with_cancellation_token(shutdown.child_token());
    let mcp = StreamableHttpService::new(
        move || Ok(server.clone()),
        Arc::new(LocalSessionManager::default()),
        config,
    );
    let app = Router::new()
        .route_service("/mcp", mcp)
        .route_layer(middleware::from_fn_with_state(
            Arc::new(verifier),
            authenticate,
        ))
        .route("/healthz", get(|| async { "ok\n" }));
    axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
}

async fn authenticate(
    State(verifier): State<Arc<TokenVerifier>>,
    mut request: Request,
    next: Next,
) -> Response {
    let authorization = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    match verifier.verify(authorization) {
        Ok(principal) => {
            request.extensions_mut().insert(principal);
            next.run(request).await
        }
        Err(failure) => {
            // Read (and drop) what the client is still sending before answering: closing on an
            // unread body can reset the connection under the client's write, so it never sees
            // the 401.
            let _ = axum::body::to_bytes(request.into_body(), UNAUTHENTICATED_BODY_LIMIT).await;
            unauthorized(failure)
        }
    }
}

/// Most bytes read from an unauthenticated request before answering 401.
const UNAUTHENTICATED_BODY_LIMIT: usize = 1024 * 1024;

fn unauthorized(failure: AuthFailure) -> Response {
    let challenge = match failure {
        AuthFailure::Missing => r#"Bearer realm="steward""#,
        AuthFailure::Malformed => r#"Bearer realm="steward", error="invalid_request""#,
        AuthFailure::Invalid => r#"Bearer realm="steward", error="invalid_token""#,
    };
    let body = serde_json::json!({ "error": failure.to_string() }).to_string();
    let mut response = (StatusCode::UNAUTHORIZED, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(challenge),
    );
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
