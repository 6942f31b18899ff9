//! `wa-producer serve`: the HTTP collector for real browsers.
//!
//! | route | answer |
//! |---|---|
//! | `POST /collect` | body: one JSON event, a JSON array of events, or NDJSON ([`crate::batch`]). Missing `event_id` (a UUID) and `event_time` (now) are filled, missing `browser`/`os` come from `User-Agent`; an `event_time` sent with a `sent_at` is corrected for the browser's clock skew ([`crate::skew`]). `204` when every event was accepted; `400` + JSON `{"accepted": n, "rejected_count": m, "rejected": [{"index", "reason", "field", "detail"}, …]}` (at most 100 listed) when some were not — the valid ones are still sent; `413` over `--max-body-bytes`; `503` + `Retry-After: 1` when Kafka's local queue is full (the valid events before the first refused one were sent: `accepted` says how many) |
//! | `GET /collect.js` | the beacon script a page includes |
//! | `GET /health` | `200` `{"status":"ok", …}` while the process serves |
//!
//! `GET /metrics` (Prometheus text format) and `GET /health` are also served on
//! `--metrics-addr`, a separate address (loopback by default), never on the public port.
//!
//! Every record's Kafka timestamp is the request's receipt time (UTC epoch ms, one value per
//! request): the event's ingestion time, whatever its `event_time` says.
//!
//! CORS: every route answers browsers from `--cors-origins` (default `*`: any page may send
//! beacons, which is what a collector embedded in third-party pages needs; list origins to
//! accept beacons only from your own sites).
//!
//! Slow and stalled clients are cut off by the limits of [`crate::limits`]: a request body
//! must arrive within `--body-timeout` (else `408`), and the connection-level limits
//! (`--idle-timeout`, `--header-timeout`, `--request-timeout`, `--max-connections`,
//! `--max-header-bytes`) are described there.
//!
//! On SIGTERM or Ctrl-C the collector stops accepting connections, answers the requests it
//! is reading, then flushes Kafka: every beacon answered `204` (or counted in a `400`'s
//! `accepted`) is delivered before the process exits, or the exit status says it was not.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER, USER_AGENT};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use events::Fill;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use serde_json::json;
use tower_http::cors::{AllowOrigin, CorsLayer};
use wa_cli::parse_duration;

use crate::batch::split_items;
use crate::kafka::{Enqueue, EventProducer, KafkaArgs};
use crate::limits::Limits;
use crate::{skew, user_agent};

/// The beacon script served at `GET /collect.js`.
const COLLECT_JS: &str = include_str!("collect.js");

/// Most rejected items listed in a 400 response (the count is always complete).
const MAX_LISTED_REJECTIONS: usize = 100;

/// Flags of `serve`.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub kafka: KafkaArgs,

    /// Address and port to listen on.
    #[arg(long, env = "WA_COLLECTOR_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Largest accepted request body, bytes (larger: 413). Each event in it is also limited
    /// to 64 KiB (`events::MAX_EVENT_BYTES`).
    #[arg(long, env = "WA_COLLECTOR_MAX_BODY_BYTES", default_value_t = 1024 * 1024)]
    pub max_body_bytes: usize,

    /// Origins allowed to send beacons (CORS), comma-separated, e.g.
    /// `https://shop.example,https://www.shop.example`; `*` allows any origin.
    #[arg(
        long,
        env = "WA_COLLECTOR_CORS_ORIGINS",
        default_value = "*",
        value_delimiter = ','
    )]
    pub cors_origins: Vec<String>,

    /// Address of `/metrics` (Prometheus) and `/health` for operators; keep it off the public
    /// network.
    #[arg(
        long,
        env = "WA_COLLECTOR_METRICS_ADDR",
        default_value = "127.0.0.1:9183"
    )]
    pub metrics_addr: SocketAddr,

    /// Longest wait for a request's first byte, on a new connection or between the requests
    /// of a kept-alive one (then the connection is closed).
    #[arg(long, env = "WA_COLLECTOR_IDLE_TIMEOUT", default_value = "15s", value_parser = parse_duration)]
    pub idle_timeout: Duration,

    /// Longest time from a request's first byte to the end of its head (then the connection
    /// is closed).
    #[arg(long, env = "WA_COLLECTOR_HEADER_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub header_timeout: Duration,

    /// Longest time to receive a request's body once its head is in (then `408`).
    #[arg(long, env = "WA_COLLECTOR_BODY_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub body_timeout: Duration,

    /// Longest time from the end of a request's head to its response, body included (then
    /// `408`). Also the most that shutdown waits for requests in progress.
    #[arg(long, env = "WA_COLLECTOR_REQUEST_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    pub request_timeout: Duration,

    /// Most connections open at once; one accepted beyond that is closed at once. Each open
    /// connection holds one file descriptor and a few KiB of buffers.
    #[arg(long, env = "WA_COLLECTOR_MAX_CONNECTIONS", default_value_t = 4096)]
    pub max_connections: usize,

    /// Largest request head (request line and headers), bytes (larger: `431`).
    #[arg(long, env = "WA_COLLECTOR_MAX_HEADER_BYTES", default_value_t = 16 * 1024)]
    pub max_header_bytes: usize,
}

impl ServeArgs {
    /// The connection limits these flags give.
    fn limits(&self) -> Limits {
        Limits {
            idle_timeout: self.idle_timeout,
            header_timeout: self.header_timeout,
            request_timeout: self.request_timeout,
            max_connections: self.max_connections.max(1),
            max_header_bytes: self.max_header_bytes,
        }
    }
}

struct AppState {
    producer: EventProducer,
    prometheus: PrometheusHandle,
    max_body_bytes: usize,
    body_timeout: Duration,
}

/// Serves until Ctrl-C or SIGTERM, answers the requests in progress (at most
/// `--request-timeout`), then flushes Kafka (at most 30 s).
///
/// # Errors
/// A bad flag, an address that cannot be bound, or undelivered events at shutdown.
pub async fn run(args: ServeArgs) -> Result<()> {
    let prometheus = PrometheusBuilder::new()
        .install_recorder()
        .context("installing the Prometheus recorder")?;
    // Every reason shows up (as 0) before the first rejection, so dashboards and alerts
    // see the series from the start.
    for reason in events::RejectReason::ALL {
        metrics::counter!("wa_producer_events_rejected_total", "reason" => reason.as_str())
            .absolute(0);
    }
    let producer = EventProducer::new(&args.kafka)?;
    let state = Arc::new(AppState {
        producer,
        prometheus,
        max_body_bytes: args.max_body_bytes,
        body_timeout: args.body_timeout,
    });
    warn_if_too_few_files(args.max_connections);
    // The collector serves even while Kafka is away (answering 503 once the queue fills),
    // so a missing topic or broker is a warning here, not a reason not to start.
    let checker = state.clone();
    tokio::task::spawn_blocking(move || {
        match checker.producer.check_topic(Duration::from_secs(30)) {
            Ok(partitions) => tracing::info!(partitions, "Kafka topic found"),
            Err(error) => tracing::warn!(error = format!("{error:#}"), "Kafka not ready"),
        }
    });
    let app = router(state.clone(), &args)?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    let metrics_listener = tokio::net::TcpListener::bind(args.metrics_addr)
        .await
        .with_context(|| format!("binding the metrics address {}", args.metrics_addr))?;
    tracing::info!(
        listen = %listener.local_addr()?,
        metrics = %metrics_listener.local_addr()?,
        topic = %args.kafka.topic,
        "collector listening"
    );
    let operators = Router::new()
        .route("/metrics", get(metrics_text))
        .route("/health", get(health))
        .with_state(state.clone());
    let metrics_server = tokio::spawn(async move {
        if let Err(error) = axum::serve(metrics_listener, operators).await {
            tracing::error!(%error, "the metrics endpoint stopped");
        }
    });
    crate::limits::serve(
        listener,
        app,
        args.limits(),
        crate::shutdown_signal(),
        args.request_timeout + Duration::from_secs(1),
    )
    .await;
    metrics_server.abort();
    tracing::info!("shutting down: flushing Kafka");
    tokio::task::spawn_blocking(move || state.producer.flush(Duration::from_secs(30)))
        .await
        .context("flush task")?
}

/// Warns when the soft limit on open files is below what `max_connections` may need.
fn warn_if_too_few_files(max_connections: usize) {
    let Ok(limits) = std::fs::read_to_string("/proc/self/limits") else {
        return;
    };
    let soft = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|v| v.parse::<usize>().ok());
    // Kafka's sockets, the listeners and the runtime need some descriptors of their own.
    if let Some(soft) = soft.filter(|&soft| soft < max_connections + 256) {
        tracing::warn!(
            open_files = soft,
            max_connections,
            "the open-files limit is below --max-connections + 256: raise it (ulimit -n) or lower --max-connections"
        );
    }
}

fn router(state: Arc<AppState>, args: &ServeArgs) -> Result<Router> {
    let origins = if args.cors_origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        let list = args
            .cors_origins
            .iter()
            .map(|o| HeaderValue::from_str(o.trim()).with_context(|| format!("CORS origin {o:?}")))
            .collect::<Result<Vec<_>>>()?;
        AllowOrigin::list(list)
    };
    let cors = CorsLayer::new()
        .allow_origin(origins)
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([CONTENT_TYPE])
        .max_age(Duration::from_secs(86_400));
    Ok(Router::new()
        .route("/collect", post(collect))
        .route("/collect.js", get(collect_js))
        .route("/health", get(health))
        .layer(cors)
        .with_state(state))
}

/// Reads a request body of at most `max` bytes within `timeout`.
///
/// # Errors
/// The response to send instead: `413` over `max` (at once when `Content-Length` says so),
/// `408` (closing the connection) past `timeout`, `400` when the client broke off.
async fn read_body(
    headers: &HeaderMap,
    body: Body,
    max: usize,
    timeout: Duration,
) -> Result<Bytes, Response> {
    let too_large = || {
        respond(
            StatusCode::PAYLOAD_TOO_LARGE,
            Some(json!({ "error": format!("request body over {max} bytes") })),
        )
    };
    let announced = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|length| length > max as u64) {
        return Err(too_large());
    }
    match tokio::time::timeout(timeout, Limited::new(body, max).collect()).await {
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(error)) if error.is::<LengthLimitError>() => Err(too_large()),
        Ok(Err(error)) => Err(respond(
            StatusCode::BAD_REQUEST,
            Some(json!({ "error": format!("reading the request body: {error}") })),
        )),
        Err(_elapsed) => {
            metrics::counter!("wa_producer_connections_timed_out_total", "reason" => "body")
                .increment(1);
            let response = crate::limits::request_timeout_response();
            metrics::counter!("wa_producer_http_requests_total", "route" => "/collect", "status" => "408")
                .increment(1);
            Err(response)
        }
    }
}

async fn collect(State(state): State<Arc<AppState>>, headers: HeaderMap, body: Body) -> Response {
    let body = match read_body(&headers, body, state.max_body_bytes, state.body_timeout).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    let user_agent = headers.get(USER_AGENT).and_then(|v| v.to_str().ok());
    // The receipt time: the fill for a missing event_time, the collector's side of the
    // clock-skew correction, and the Kafka timestamp (ingestion time) of every record.
    let received_at_ms = chrono::Utc::now().timestamp_millis();
    let items = split_items(&body);
    let mut accepted = 0usize;
    let mut rejected_count = 0usize;
    let mut rejected = Vec::new();
    for (index, item) in items.iter().enumerate() {
        metrics::counter!("wa_producer_events_received_total", "source" => "collect").increment(1);
        let fill = Fill {
            event_id: uuid::Uuid::new_v4().to_string(),
            event_time_ms: received_at_ms,
        };
        let parsed = events::parse_filling(item, &fill).and_then(|mut event| {
            let sent_at = skew::correct(item, &mut event, received_at_ms)?;
            Ok((event, sent_at))
        });
        let (mut event, sent_at) = match parsed {
            Ok(parsed) => parsed,
            Err(rejection) => {
                metrics::counter!("wa_producer_events_rejected_total", "reason" => rejection.reason.as_str())
                    .increment(1);
                rejected_count += 1;
                if rejected.len() < MAX_LISTED_REJECTIONS {
                    rejected.push(json!({
                        "index": index,
                        "reason": rejection.reason.as_str(),
                        "field": rejection.field,
                        "detail": rejection.detail,
                    }));
                }
                continue;
            }
        };
        if event.browser.is_none() {
            event.browser = user_agent.and_then(user_agent::browser).map(str::to_owned);
        }
        if event.os.is_none() {
            event.os = user_agent.and_then(user_agent::os).map(str::to_owned);
        }
        let sent = skew::wire_form(&event, sent_at)
            .context("serialising a validated event")
            .and_then(|json| state.producer.enqueue(&event, &json, received_at_ms));
        match sent {
            Ok(Enqueue::Queued) => {
                accepted += 1;
                metrics::counter!("wa_producer_events_sent_total", "source" => "collect")
                    .increment(1);
            }
            Ok(Enqueue::QueueFull) => {
                tracing::warn!(accepted, "Kafka queue full: answering 503");
                return respond(
                    StatusCode::SERVICE_UNAVAILABLE,
                    Some(json!({
                        "error": "Kafka is backed up; retry later",
                        "accepted": accepted,
                        "rejected_count": rejected_count,
                        "rejected": rejected,
                    })),
                );
            }
            Err(error) => {
                tracing::error!(error = format!("{error:#}"), "enqueueing an event");
                return respond(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    Some(json!({ "error": format!("{error:#}"), "accepted": accepted })),
                );
            }
        }
    }
    if rejected_count == 0 {
        respond(StatusCode::NO_CONTENT, None)
    } else {
        respond(
            StatusCode::BAD_REQUEST,
            Some(json!({
                "accepted": accepted,
                "rejected_count": rejected_count,
                "rejected": rejected,
            })),
        )
    }
}

fn respond(status: StatusCode, body: Option<serde_json::Value>) -> Response {
    metrics::counter!("wa_producer_http_requests_total", "route" => "/collect", "status" => status.as_str().to_owned())
        .increment(1);
    let mut response = match body {
        Some(body) => (status, Json(body)).into_response(),
        None => status.into_response(),
    };
    if status == StatusCode::SERVICE_UNAVAILABLE {
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from_static("1"));
    }
    response
}

async fn collect_js() -> impl IntoResponse {
    (
        [
            (CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (CACHE_CONTROL, "public, max-age=300"),
        ],
        COLLECT_JS,
    )
}

async fn health(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    let counter = state.producer.counter();
    Json(json!({
        "status": "ok",
        "events_delivered": counter.delivered(),
        "delivery_errors": counter.failed(),
    }))
}

async fn metrics_text(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.prometheus.render(),
    )
}
