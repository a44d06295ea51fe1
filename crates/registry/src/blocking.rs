//! The PostgreSQL client and the S3 client block on runtimes of their own, which an async
//! runtime (the server) refuses on its threads: their calls go through [`off_runtime`].

/// Runs `f` where it may block: directly on a plain thread, on a scoped helper thread when
/// called from inside an async runtime.
pub(crate) fn off_runtime<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    if tokio::runtime::Handle::try_current().is_err() {
        return f();
    }
    std::thread::scope(|s| match s.spawn(f).join() {
        Ok(v) => v,
        Err(panic) => std::panic::resume_unwind(panic),
    })
}
