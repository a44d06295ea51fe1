//! The accept loop: HTTP/1.1 connections served by hyper with the timeouts a public server
//! needs, and a shutdown that always ends. A client that sends its headers too slowly, or
//! keeps an idle keep-alive connection open, is cut off after [`Timeouts::idle`]; on stop,
//! new connections are refused, idle ones are closed, requests in flight are answered, and
//! whatever is still open after [`Timeouts::drain`] is dropped, so a supervisor's stop
//! never waits on a stranger's half-sent request.

use std::future::Future;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;

/// How long the server waits on clients.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timeouts {
    /// A request's headers must arrive within this, counted from the connection's first
    /// byte or from the end of the previous answer; also the keep-alive idle limit.
    pub idle: Duration,
    /// After a stop signal, how long requests in flight may take before their connections
    /// are dropped.
    pub drain: Duration,
}

impl Default for Timeouts {
    /// 30 s to send headers (or idle), 20 s to drain: under Kubernetes' default 30 s grace.
    fn default() -> Self {
        Timeouts {
            idle: Duration::from_secs(30),
            drain: Duration::from_secs(20),
        }
    }
}

/// What one server accepts: how many connections at once and how many headers a request.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Connections {
    /// Connections open at once; one more is closed at accept and counted (default 1024).
    #[serde(default = "default_max_connections")]
    pub max: usize,
    /// Headers in one request; more get 431 (default 64).
    #[serde(default = "default_max_headers")]
    pub max_headers: usize,
}

fn default_max_connections() -> usize {
    1024
}

fn default_max_headers() -> usize {
    64
}

impl Default for Connections {
    fn default() -> Self {
        Connections {
            max: default_max_connections(),
            max_headers: default_max_headers(),
        }
    }
}

/// Everything [`serve`] needs besides the listener, the app and the stop signal.
#[derive(Default)]
pub struct ListenOptions {
    /// How long clients may idle and requests may drain.
    pub timeouts: Timeouts,
    /// Connection and header limits.
    pub connections: Connections,
    /// Counts the connections closed because `connections.max` were open.
    pub refused: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// HTTPS, when set.
    pub tls: Option<tokio_rustls::TlsAcceptor>,
}

/// Holds one of the open-connection slots until the connection ends.
struct Slot(std::sync::Arc<std::sync::atomic::AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// How the server stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// Every connection finished its requests within the drain deadline.
    Drained,
    /// The deadline passed before every connection finished; those left were dropped. The
    /// number is the connections open when the stop came.
    DeadlineReached(usize),
}

/// Serves `app` on `listener` until `stop` resolves, then drains within the deadline; with
/// `tls`, every connection is HTTPS, and a handshake that does not finish within
/// [`Timeouts::idle`] (or fails) closes the connection.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    stop: impl Future<Output = ()>,
    options: ListenOptions,
) -> Stopped {
    let ListenOptions {
        timeouts,
        connections,
        refused,
        tls,
    } = options;
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(timeouts.idle)
        .max_headers(connections.max_headers)
        .keep_alive(true);
    let open = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    tokio::pin!(stop);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        // Out of file descriptors and the like: back off, keep serving.
                        tracing::warn!(error = %e, "accepting a connection failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                if open.fetch_add(1, std::sync::atomic::Ordering::SeqCst) >= connections.max {
                    open.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                    refused.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    tracing::warn!(max = connections.max, "too many open connections; closed a new one");
                    drop(stream);
                    continue;
                }
                let slot = Slot(std::sync::Arc::clone(&open));
                let _ = stream.set_nodelay(true);
                let service = TowerToHyperService::new(app.clone());
                match &tls {
                    None => {
                        let connection =
                            graceful.watch(http.serve_connection(TokioIo::new(stream), service));
                        tokio::spawn(async move {
                            let _slot = slot;
                            if let Err(e) = connection.await {
                                tracing::debug!(error = %e, "connection closed with an error");
                            }
                        });
                    }
                    Some(acceptor) => {
                        let handshake = acceptor.accept(stream);
                        let (watcher, http) = (graceful.watcher(), http.clone());
                        tokio::spawn(async move {
                            let _slot = slot;
                            let stream = match tokio::time::timeout(timeouts.idle, handshake).await {
                                Ok(Ok(stream)) => stream,
                                Ok(Err(e)) => {
                                    tracing::debug!(error = %e, "TLS handshake failed");
                                    return;
                                }
                                Err(_) => {
                                    tracing::debug!("TLS handshake timed out");
                                    return;
                                }
                            };
                            let connection =
                                watcher.watch(http.serve_connection(TokioIo::new(stream), service));
                            if let Err(e) = connection.await {
                                tracing::debug!(error = %e, "connection closed with an error");
                            }
                        });
                    }
                }
            }
            () = &mut stop => break,
        }
    }
    drop(listener);
    let open = graceful.count();
    tokio::select! {
        () = graceful.shutdown() => Stopped::Drained,
        () = tokio::time::sleep(timeouts.drain) => {
            tracing::warn!(open_at_stop = open, "drain deadline reached; dropping the connections still open");
            Stopped::DeadlineReached(open)
        }
    }
}
