//! The routes: the page and its assets (embedded in the binary), the snapshot as JSON, the
//! stream of snapshots (Server-Sent Events) and a health check.
//!
//! | route | answer |
//! |---|---|
//! | `GET /` | `assets/index.html` |
//! | `GET /assets/dashboard.js`, `/assets/dashboard.css` | from `assets/` |
//! | `GET /assets/uPlot.iife.min.js`, `/assets/uPlot.min.css` | from `third_party/uplot/` |
//! | `GET /api/snapshot` | the [`Snapshot`](crate::snapshot::Snapshot), JSON |
//! | `GET /events` | `event: snapshot`, the whole snapshot, on connect and after each change, at most every [`THROTTLE`]; a keep-alive comment every [`KEEP_ALIVE`] |
//! | `GET /health` | `200 ok` |
//!
//! Every asset has an `ETag`, a hash of its bytes computed at compile time, and answers a
//! matching `If-None-Match` with `304 Not Modified`. The page and our own assets are
//! `no-cache` (revalidated on every load, so a new build shows at once); uPlot, which changes
//! only with its vendored version, may be kept a day.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State as Extract;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use futures_util::stream::{self, Stream};

use crate::scrape::now_ms;
use crate::state::State;

/// The shortest time between two snapshots on one `/events` stream.
pub const THROTTLE: Duration = Duration::from_millis(250);

/// How often an idle `/events` stream sends a keep-alive comment.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// A file served from the binary.
struct Asset {
    bytes: &'static [u8],
    content_type: &'static str,
    cache_control: &'static str,
    etag: u64,
}

/// FNV-1a, 64 bits: the assets' ETags, computed at compile time.
const fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0100_0000_01b3);
        i += 1;
    }
    hash
}

macro_rules! asset {
    ($path:literal, $content_type:literal, $cache_control:expr) => {{
        const BYTES: &[u8] = include_bytes!($path);
        const ETAG: u64 = fnv1a(BYTES);
        Asset {
            bytes: BYTES,
            content_type: $content_type,
            cache_control: $cache_control,
            etag: ETAG,
        }
    }};
}

const REVALIDATE: &str = "no-cache";
const ONE_DAY: &str = "public, max-age=86400";

static INDEX_HTML: Asset = asset!(
    "../assets/index.html",
    "text/html; charset=utf-8",
    REVALIDATE
);
static DASHBOARD_JS: Asset = asset!(
    "../assets/dashboard.js",
    "text/javascript; charset=utf-8",
    REVALIDATE
);
static DASHBOARD_CSS: Asset = asset!(
    "../assets/dashboard.css",
    "text/css; charset=utf-8",
    REVALIDATE
);
static UPLOT_JS: Asset = asset!(
    "../../third_party/uplot/uPlot.iife.min.js",
    "text/javascript; charset=utf-8",
    ONE_DAY
);
static UPLOT_CSS: Asset = asset!(
    "../../third_party/uplot/uPlot.min.css",
    "text/css; charset=utf-8",
    ONE_DAY
);

/// The router over the shared state.
pub fn router(state: Arc<State>) -> Router {
    Router::new()
        .route(
            "/",
            get(|h: HeaderMap| async move { serve(&INDEX_HTML, &h) }),
        )
        .route(
            "/assets/dashboard.js",
            get(|h: HeaderMap| async move { serve(&DASHBOARD_JS, &h) }),
        )
        .route(
            "/assets/dashboard.css",
            get(|h: HeaderMap| async move { serve(&DASHBOARD_CSS, &h) }),
        )
        .route(
            "/assets/uPlot.iife.min.js",
            get(|h: HeaderMap| async move { serve(&UPLOT_JS, &h) }),
        )
        .route(
            "/assets/uPlot.min.css",
            get(|h: HeaderMap| async move { serve(&UPLOT_CSS, &h) }),
        )
        .route("/api/snapshot", get(snapshot))
        .route("/events", get(events))
        .route("/health", get(|| async { "ok" }))
        .with_state(state)
}

fn serve(asset: &'static Asset, request: &HeaderMap) -> Response {
    let etag = format!("\"{:016x}\"", asset.etag);
    let matches = request
        .get_all(IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|tag| {
            let tag = tag.trim();
            tag == "*" || tag.trim_start_matches("W/") == etag
        });
    let headers = [
        (
            ETAG,
            HeaderValue::from_str(&etag).unwrap_or(HeaderValue::from_static("\"\"")),
        ),
        (CACHE_CONTROL, HeaderValue::from_static(asset.cache_control)),
    ];
    if matches {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    (
        headers,
        [(CONTENT_TYPE, HeaderValue::from_static(asset.content_type))],
        asset.bytes,
    )
        .into_response()
}

async fn snapshot(Extract(state): Extract<Arc<State>>) -> impl IntoResponse {
    (
        [(CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        Json(state.snapshot(now_ms())),
    )
}

async fn events(
    Extract(state): Extract<Arc<State>>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let changes = state.subscribe();
    let stream = stream::unfold(
        (state, changes, None::<tokio::time::Instant>),
        |(state, mut changes, last)| async move {
            if let Some(last) = last {
                changes.changed().await.ok()?;
                tokio::time::sleep_until(last + THROTTLE).await;
            }
            // Changes made while waiting are in the snapshot taken now.
            changes.mark_unchanged();
            let sent = tokio::time::Instant::now();
            let event = match serde_json::to_string(&state.snapshot(now_ms())) {
                Ok(json) => Event::default().event("snapshot").data(json),
                Err(error) => Event::default().comment(format!("snapshot not written: {error}")),
            };
            Some((Ok(event), (state, changes, Some(sent))))
        },
    );
    Sse::new(stream).keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags_are_content_hashes() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(INDEX_HTML.etag, fnv1a(INDEX_HTML.bytes));
        assert_ne!(DASHBOARD_JS.etag, DASHBOARD_CSS.etag);
    }

    #[test]
    fn a_matching_if_none_match_is_not_modified() {
        let etag = format!("\"{:016x}\"", DASHBOARD_JS.etag);
        let mut headers = HeaderMap::new();
        assert_eq!(serve(&DASHBOARD_JS, &headers).status(), StatusCode::OK);
        headers.insert(
            IF_NONE_MATCH,
            HeaderValue::from_str(&format!("\"x\", W/{etag}")).unwrap(),
        );
        let response = serve(&DASHBOARD_JS, &headers);
        assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(response.headers()[ETAG], etag.as_str());
        headers.insert(IF_NONE_MATCH, HeaderValue::from_static("\"other\""));
        assert_eq!(serve(&DASHBOARD_JS, &headers).status(), StatusCode::OK);
    }
}
