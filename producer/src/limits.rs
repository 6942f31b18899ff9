//! Serving the collector's HTTP/1.1 connections under the limits a public endpoint needs.
//!
//! Each accepted connection is in one of three phases, and each phase has its own clock:
//!
//! | phase | from → to | limit | when it runs out |
//! |---|---|---|---|
//! | waiting | accept, or the previous response → the next request's first byte | `idle_timeout` | the connection is closed |
//! | head | the first byte → the whole request head | `header_timeout` | the connection is closed |
//! | request | the whole head → the response | `request_timeout` | `408` and the connection is closed |
//!
//! Reading the body is part of the request phase; the `/collect` handler also gives it its
//! own `body_timeout` (a `408` as well). A head larger than `max_header_bytes` is answered
//! `431` by hyper. At most `max_connections` connections are open at once: a connection
//! accepted beyond that is closed at once (counted in
//! `wa_producer_connections_refused_total`), so a flood of slow clients costs a bounded
//! number of sockets and buffers and cannot starve the process of file descriptors.
//!
//! A slow client only ever holds its own connection: every connection is its own task, and no
//! limit waits on another connection.
//!
//! Shutdown ([`serve`]'s `shutdown` future): the listener is closed, so new connections are
//! refused; connections waiting for a request are closed; requests in progress are answered
//! (each is bounded by `request_timeout`), then their connections close. [`serve`] returns
//! once every connection is gone, or after `drain` at the latest.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::http::header::CONNECTION;
use axum::http::{HeaderValue, Request, Response, StatusCode};
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::Instant;

/// The limits of [`serve`]. Every duration is wall-clock time on the collector.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Longest wait for a request's first byte, on a new connection or between the requests
    /// of a kept-alive one.
    pub idle_timeout: Duration,
    /// Longest time from a request's first byte to the end of its head.
    pub header_timeout: Duration,
    /// Longest time from the end of a request's head to its response (body read included).
    pub request_timeout: Duration,
    /// Most connections open at once.
    pub max_connections: usize,
    /// Largest request head (request line and headers), bytes.
    pub max_header_bytes: usize,
}

/// Where a connection is (see the module's table), and since when.
#[derive(Debug, Clone, Copy)]
enum Phase {
    Waiting(Instant),
    Head(Instant),
    Request,
}

/// A connection's phase, shared by its socket (a byte read starts a head), its service (a
/// request starts and ends) and its watchdog (which reads it).
#[derive(Debug)]
struct Clock(Mutex<Phase>);

impl Clock {
    fn new() -> Self {
        Clock(Mutex::new(Phase::Waiting(Instant::now())))
    }

    fn set(&self, phase: Phase) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = phase;
    }

    fn bytes_arrived(&self) {
        let mut phase = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Phase::Waiting(_) = *phase {
            *phase = Phase::Head(Instant::now());
        }
    }

    fn get(&self) -> Phase {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Resolves when the connection has outlived its phase's limit, with the phase's name (the
/// `reason` label of `wa_producer_connections_timed_out_total`: `idle` or `header`). A
/// request in progress is bounded by the service itself, so it is only looked at again.
async fn watchdog(clock: Arc<Clock>, limits: Limits) -> &'static str {
    loop {
        let now = Instant::now();
        let (deadline, reason) = match clock.get() {
            Phase::Waiting(since) => (since + limits.idle_timeout, Some("idle")),
            Phase::Head(since) => (since + limits.header_timeout, Some("header")),
            Phase::Request => (now + limits.request_timeout, None),
        };
        match reason {
            Some(reason) if deadline <= now => return reason,
            // A phase that changes while we sleep starts later, so waking at the old deadline
            // is never late; the loop then judges the phase the connection is in by then.
            _ => tokio::time::sleep_until(deadline).await,
        }
    }
}

/// A socket that tells its [`Clock`] when request bytes arrive.
struct Timed {
    stream: TcpStream,
    clock: Arc<Clock>,
}

impl AsyncRead for Timed {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.clock.bytes_arrived();
        }
        polled
    }
}

impl AsyncWrite for Timed {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

/// `408 Request Timeout`, closing the connection (its request may be only half read).
pub fn request_timeout_response() -> Response<Body> {
    let mut response = Response::new(Body::from("request timed out\n"));
    *response.status_mut() = StatusCode::REQUEST_TIMEOUT;
    response
        .headers_mut()
        .insert(CONNECTION, HeaderValue::from_static("close"));
    response
}

/// Serves `router` on `listener` under `limits` until `shutdown` resolves, then drains as the
/// module says for at most `drain`.
///
/// Never fails: an accept error (e.g. out of file descriptors) is logged and retried after a
/// pause, and a connection's error ends only that connection.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
    drain: Duration,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let mut http = http1::Builder::new();
    // Our watchdog times the head (hyper's own head timer would also run while a connection
    // waits between requests, with one limit for both), so hyper needs no timer.
    http.header_read_timeout(None)
        .max_buf_size(limits.max_header_bytes.max(8192))
        .max_header_size(limits.max_header_bytes);
    let service = TowerToHyperService::new(router);
    tokio::pin!(shutdown);
    loop {
        let (stream, _peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    metrics::counter!("wa_producer_accept_errors_total").increment(1);
                    tracing::warn!(%error, "accepting a connection; pausing 100 ms");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            metrics::counter!("wa_producer_connections_refused_total").increment(1);
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let clock = Arc::new(Clock::new());
        let io = TokioIo::new(Timed {
            stream,
            clock: clock.clone(),
        });
        let service = service.clone();
        let request_clock = clock.clone();
        let timed = hyper::service::service_fn(move |request: Request<Incoming>| {
            let service = service.clone();
            let clock = request_clock.clone();
            async move {
                clock.set(Phase::Request);
                let answered = tokio::time::timeout(
                    limits.request_timeout,
                    hyper::service::Service::call(&service, request),
                )
                .await;
                clock.set(Phase::Waiting(Instant::now()));
                Ok::<_, Infallible>(match answered {
                    Ok(Ok(response)) => response,
                    Ok(Err(never)) => match never {},
                    Err(_elapsed) => {
                        metrics::counter!("wa_producer_connections_timed_out_total", "reason" => "request")
                            .increment(1);
                        request_timeout_response()
                    }
                })
            }
        });
        let connection = graceful.watch(http.serve_connection(io, timed));
        tokio::spawn(async move {
            let _slot = slot;
            metrics::gauge!("wa_producer_connections_open").increment(1.0);
            tokio::select! {
                served = connection => {
                    if let Err(error) = served {
                        tracing::debug!(%error, "connection ended with an error");
                    }
                }
                reason = watchdog(clock, limits) => {
                    metrics::counter!("wa_producer_connections_timed_out_total", "reason" => reason)
                        .increment(1);
                }
            }
            metrics::gauge!("wa_producer_connections_open").decrement(1.0);
        });
    }
    drop(listener);
    let open = graceful.count();
    tracing::info!(
        open,
        "stopped accepting; answering the requests in progress"
    );
    if tokio::time::timeout(drain, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            after = ?drain,
            "connections still open after the drain time; closing them"
        );
    }
}
