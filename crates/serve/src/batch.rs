//! Adaptive micro-batching (off by default): concurrent inference requests for the same
//! version are gathered and predicted in one GEMM pass. A batch closes at `max_rows`
//! rows, at `max_wait`, or as soon as no other request is in flight — so a lone request
//! never waits, and waiting happens only when there is someone to wait for.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use crate::Served;

/// Micro-batching limits.
#[derive(Debug, Clone, Copy, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Batching {
    /// Most rows in one batch.
    pub max_rows: usize,
    /// Longest a request waits for others to join its batch, in microseconds.
    #[serde(default = "default_wait")]
    pub max_wait_us: u64,
}

fn default_wait() -> u64 {
    500
}

/// One request's encoded rows, waiting for its probabilities.
struct Job {
    served: Arc<Served>,
    x: Vec<f32>,
    n: usize,
    reply: oneshot::Sender<Vec<f32>>,
}

/// Handle to the batching task.
pub(crate) struct Batcher {
    tx: mpsc::UnboundedSender<Job>,
    /// Inference requests being answered now (the batcher waits only for these).
    pub(crate) in_flight: Arc<AtomicUsize>,
    /// Batches predicted and the rows in them, for `/metrics`.
    pub(crate) batches: Arc<AtomicUsize>,
    pub(crate) batched_rows: Arc<AtomicUsize>,
}

impl Batcher {
    /// Starts the batching task on the current tokio runtime.
    pub(crate) fn start(limits: Batching) -> Batcher {
        let (tx, rx) = mpsc::unbounded_channel();
        let in_flight = Arc::new(AtomicUsize::new(0));
        let batches = Arc::new(AtomicUsize::new(0));
        let batched_rows = Arc::new(AtomicUsize::new(0));
        let counters = (
            Arc::clone(&in_flight),
            Arc::clone(&batches),
            Arc::clone(&batched_rows),
        );
        tokio::spawn(gather(rx, limits, counters));
        Batcher {
            tx,
            in_flight,
            batches,
            batched_rows,
        }
    }

    /// The probabilities (`n × classes`) for `n` encoded rows, predicted with whatever
    /// other requests arrive meanwhile; `None` if the batcher has stopped.
    pub(crate) async fn predict(
        &self,
        served: Arc<Served>,
        x: Vec<f32>,
        n: usize,
    ) -> Option<Vec<f32>> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Job {
                served,
                x,
                n,
                reply,
            })
            .ok()?;
        answer.await.ok()
    }
}

async fn gather(
    mut rx: mpsc::UnboundedReceiver<Job>,
    limits: Batching,
    (in_flight, batches, batched_rows): (Arc<AtomicUsize>, Arc<AtomicUsize>, Arc<AtomicUsize>),
) {
    let max_wait = Duration::from_micros(limits.max_wait_us);
    while let Some(first) = rx.recv().await {
        let deadline = tokio::time::Instant::now() + max_wait;
        let mut rows = first.n;
        let mut jobs = vec![first];
        while rows < limits.max_rows {
            // Take what is already queued; wait only while more requests are in flight.
            let next = match rx.try_recv() {
                Ok(job) => Some(job),
                Err(_) if in_flight.load(Ordering::Relaxed) > jobs.len() => {
                    let waited: Option<Job> = tokio::time::timeout_at(deadline, rx.recv())
                        .await
                        .unwrap_or_default();
                    waited
                }
                Err(_) => None,
            };
            let Some(job) = next else { break };
            rows += job.n;
            jobs.push(job);
        }
        batches.fetch_add(1, Ordering::Relaxed);
        batched_rows.fetch_add(rows, Ordering::Relaxed);
        run(jobs);
    }
}

/// Predicts each version's jobs in one pass and answers them.
fn run(mut jobs: Vec<Job>) {
    while !jobs.is_empty() {
        let served = Arc::clone(&jobs[0].served);
        let (mine, rest): (Vec<Job>, Vec<Job>) = jobs
            .into_iter()
            .partition(|j| Arc::ptr_eq(&j.served, &served));
        jobs = rest;
        let n: usize = mine.iter().map(|j| j.n).sum();
        let mut x = Vec::with_capacity(mine.iter().map(|j| j.x.len()).sum());
        for j in &mine {
            x.extend_from_slice(&j.x);
        }
        let probabilities = served.student.predict_encoded_batch(&x, n);
        let k = served.student.classes().len();
        let mut at = 0;
        for j in mine {
            let _ = j.reply.send(probabilities[at * k..(at + j.n) * k].to_vec());
            at += j.n;
        }
    }
}
