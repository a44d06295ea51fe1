//! The accept loop: HTTP/1.1 connections served by hyper with the timeouts a public server
//! needs, and a shutdown that always ends. A client that sends its headers too slowly, or
//! keeps an idle keep-alive connection open, is cut off after [`Timeouts::idle`]; on stop,
//! new connections are refused, idle ones are closed, requests in flight are answered, and
//! whatever is still open after [`Timeouts::drain`] is dropped, so a supervisor's stop
//! never waits on a stranger's half-sent request.

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
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
    /// Connections open at once from one client address; one more is closed at accept and
    /// counted, so one host cannot take every slot (default: a quarter of `max`, at least
    /// 16; 0 turns it off, for a proxy that funnels every client through one address).
    pub per_client: Option<usize>,
}

impl Connections {
    /// The per-address cap in force (`None`: off).
    fn per_client_cap(&self) -> Option<usize> {
        match self.per_client {
            Some(0) => None,
            Some(n) => Some(n),
            None => Some((self.max / 4).max(16).min(self.max)),
        }
    }
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
            per_client: None,
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
    /// Counts the connections closed because `connections.max` were open, or
    /// `connections.per_client` from one address.
    pub refused: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// HTTPS, when set.
    pub tls: Option<tokio_rustls::TlsAcceptor>,
}

/// Open connections per client address.
type PerClient = std::sync::Arc<std::sync::Mutex<HashMap<IpAddr, usize>>>;

/// Holds one of the open-connection slots (and its address's share) until the connection
/// ends.
struct Slot {
    open: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    client: Option<(PerClient, IpAddr)>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.open.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
        if let Some((per_client, ip)) = &self.client {
            let mut counts = lock(per_client);
            if let Some(n) = counts.get_mut(ip) {
                *n -= 1;
                if *n == 0 {
                    counts.remove(ip);
                }
            }
        }
    }
}

/// The per-address counts, also after a panic elsewhere left the lock poisoned (the counts
/// stay right: every change is one statement), so a panic never refuses every later client.
fn lock(per_client: &PerClient) -> std::sync::MutexGuard<'_, HashMap<IpAddr, usize>> {
    per_client
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Takes a slot for a connection from `ip`, or `None` when the server (`max`) or that
/// address (`per_client`) is full.
fn take_slot(
    open: &std::sync::Arc<std::sync::atomic::AtomicUsize>,
    per_client: &PerClient,
    connections: &Connections,
    ip: IpAddr,
) -> Option<Slot> {
    if open.fetch_add(1, std::sync::atomic::Ordering::SeqCst) >= connections.max {
        open.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
        tracing::warn!(
            max = connections.max,
            "too many open connections; closed a new one"
        );
        return None;
    }
    let mut slot = Slot {
        open: std::sync::Arc::clone(open),
        client: None,
    };
    let Some(cap) = connections.per_client_cap() else {
        return Some(slot);
    };
    let mut counts = lock(per_client);
    let n = counts.entry(ip).or_default();
    if *n >= cap {
        tracing::warn!(
            client = %ip,
            per_client = cap,
            "too many open connections from one address; closed a new one"
        );
        return None; // `slot` drops and frees the server-wide count
    }
    *n += 1;
    slot.client = Some((std::sync::Arc::clone(per_client), ip));
    Some(slot)
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
    let per_client = PerClient::default();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        // Out of file descriptors and the like: back off, keep serving.
                        tracing::warn!(error = %e, "accepting a connection failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let Some(slot) = take_slot(&open, &per_client, &connections, peer.ip()) else {
                    refused.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    drop(stream);
                    continue;
                };
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
