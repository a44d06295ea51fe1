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
    timeouts: Timeouts,
    tls: Option<tokio_rustls::TlsAcceptor>,
) -> Stopped {
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(timeouts.idle)
        .keep_alive(true);
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
                let _ = stream.set_nodelay(true);
                let service = TowerToHyperService::new(app.clone());
                match &tls {
                    None => {
                        let connection =
                            graceful.watch(http.serve_connection(TokioIo::new(stream), service));
                        tokio::spawn(async move {
                            if let Err(e) = connection.await {
                                tracing::debug!(error = %e, "connection closed with an error");
                            }
                        });
                    }
                    Some(acceptor) => {
                        let handshake = acceptor.accept(stream);
                        let (watcher, http) = (graceful.watcher(), http.clone());
                        tokio::spawn(async move {
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
