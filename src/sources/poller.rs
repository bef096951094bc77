//! Polling: one tokio task per source, on its own fixed schedule.
//!
//! Each tick of a source starts a round of polls as separate tasks, so a
//! slow or hung request never delays the next tick nor another source; a
//! round that overruns its interval overlaps the next one (each request is
//! bounded by the source timeout). Results carry (source, seq) so the
//! receiver can drop a late answer that arrives after a newer one
//! ([`LatestFilter`]). Shutdown, or the receiver going away, ends every task.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use tokio::sync::{mpsc, watch};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;

use super::http::HttpEndpoint;
use super::{command, http_json, probe, prometheus::Prometheus};
use crate::engine::{Cohort, Reading, Timestamp};
use crate::plan::{Baseline, MetricQuery, Plan, ProbeField, Source, SourceKind};
use crate::template::{Encoding, MetricVars};

/// One poll result for one metric and cohort.
#[derive(Debug, Clone, PartialEq)]
pub struct SampleMsg {
    /// Name of the source that produced it.
    pub source: String,
    /// The source's round number (1, 2, ...): later rounds have larger seq.
    pub seq: u64,
    pub metric: String,
    pub cohort: Cohort,
    pub reading: Reading,
    /// Wall-clock time at which the round was started (its schedule).
    pub at: Timestamp,
    /// How long the request (or command) took.
    pub latency_ms: u64,
}

/// Drops results older than the newest already seen for the same metric and
/// cohort: a round that answered late must not overwrite a newer one.
#[derive(Debug, Clone, Default)]
pub struct LatestFilter {
    newest: HashMap<(String, Cohort), u64>,
}

impl LatestFilter {
    /// A filter that has seen nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// True when a result of round `seq` is newer than every result seen so
    /// far for (metric, cohort); it then becomes the newest.
    pub fn accept(&mut self, metric: &str, cohort: Cohort, seq: u64) -> bool {
        match self.newest.get_mut(&(metric.to_string(), cohort)) {
            Some(newest) if *newest >= seq => false,
            Some(newest) => {
                *newest = seq;
                true
            }
            None => {
                self.newest.insert((metric.to_string(), cohort), seq);
                true
            }
        }
    }

    /// [`LatestFilter::accept`] for a message.
    pub fn accept_msg(&mut self, msg: &SampleMsg) -> bool {
        self.accept(&msg.metric, msg.cohort, msg.seq)
    }
}

/// What is polled for one metric and cohort.
#[derive(Debug, Clone)]
enum Query {
    Promql(String),
    Pointer(String),
    Argv(Vec<String>),
    Probe(ProbeField),
}

#[derive(Debug, Clone)]
struct Job {
    metric: String,
    cohort: Cohort,
    query: Query,
}

/// The cohorts polled live for a metric: the canary, and the baseline when it
/// comes from the same source (`cohort` or `query`).
fn jobs_for(plan: &Plan, source: &Source, service: &str, cohort_name: &str) -> Vec<Job> {
    let mut jobs = Vec::new();
    for m in plan.metrics.iter().filter(|m| m.source == source.name) {
        let mut cohorts = vec![(Cohort::Canary, None)];
        match &m.baseline {
            Baseline::Cohort => cohorts.push((Cohort::Baseline, None)),
            Baseline::Query(q) => cohorts.push((Cohort::Baseline, Some(q.as_str()))),
            Baseline::Value(_) | Baseline::PreDeploy(_) | Baseline::None => {}
        }
        for (cohort, alt) in cohorts {
            // Rendered once here; every poll sends the same text.
            let vars = MetricVars {
                service,
                cohort,
                cohort_name,
            };
            let query = match &m.query {
                MetricQuery::Promql(q) => {
                    Query::Promql(vars.render(alt.unwrap_or(q), Encoding::PromqlLabel))
                }
                MetricQuery::JsonPointer(p) => {
                    Query::Pointer(vars.render(alt.unwrap_or(p), Encoding::Pointer))
                }
                MetricQuery::Command(argv) => Query::Argv(match alt {
                    // A baseline query for a command source is one argv
                    // string split on whitespace.
                    Some(q) => q
                        .split_whitespace()
                        .map(|a| vars.render(a, Encoding::Argv))
                        .collect(),
                    None => argv
                        .iter()
                        .map(|a| vars.render(a, Encoding::Argv))
                        .collect(),
                }),
                // A probe has no cohorts: one target, canary only.
                MetricQuery::Probe(f) if cohort == Cohort::Canary => Query::Probe(*f),
                MetricQuery::Probe(_) => continue,
            };
            jobs.push(Job {
                metric: m.id.clone(),
                cohort,
                query,
            });
        }
    }
    jobs
}

/// A source ready to poll.
#[derive(Debug, Clone)]
enum Client {
    Prometheus(Prometheus),
    HttpJson(HttpEndpoint),
    Probe {
        ep: HttpEndpoint,
        expect_status: u16,
        body_contains: Option<String>,
    },
    Command(command::Limits),
}

/// Builds a source's client, resolving its secrets. Errors name the source
/// and what to fix (e.g. the missing environment variable).
fn client_for(source: &Source) -> Result<Client, super::SourceError> {
    let ep = |t| {
        HttpEndpoint::new(&source.name, t, source.timeout)
            .map(|ep| ep.with_max_response(source.max_response))
    };
    Ok(match &source.kind {
        SourceKind::Prometheus(t) => Client::Prometheus(Prometheus::new(ep(t)?)),
        SourceKind::HttpJson(t) => Client::HttpJson(ep(t)?),
        SourceKind::Probe {
            target,
            expect_status,
            body_contains,
        } => Client::Probe {
            ep: ep(target)?,
            expect_status: *expect_status,
            body_contains: body_contains.clone(),
        },
        SourceKind::Command => Client::Command(command::Limits::for_source(source)),
    })
}

/// Checks that every source can start (secrets present, CA readable,
/// headers valid). Call before [`spawn_pollers`] to refuse to start with a
/// clear error; a source that cannot start is otherwise polled as a
/// provider error every interval.
pub fn check_sources(plan: &Plan) -> Result<(), super::SourceError> {
    plan.sources
        .iter()
        .try_for_each(|s| client_for(s).map(|_| ()))
}

fn now() -> Timestamp {
    Timestamp(chrono::Utc::now().timestamp_millis())
}

/// Starts one polling task per source. Each task polls every metric of its
/// source for the canary and (for `cohort` and `query` baselines) the
/// baseline, concurrently, every interval, and sends [`SampleMsg`]s to `tx`.
/// Tasks end when `shutdown` becomes true (or its sender is dropped) or when
/// the receiver is gone.
pub fn spawn_pollers(
    plan: Arc<Plan>,
    service: String,
    tx: mpsc::Sender<SampleMsg>,
    shutdown: watch::Receiver<bool>,
) -> Vec<JoinHandle<()>> {
    let (_, no_cohort) = watch::channel(String::new());
    spawn_pollers_for(plan, service, no_cohort, tx, shutdown)
}

/// [`spawn_pollers`], with `{cohort_name}` in metric templates filled from
/// `cohort_name`: the cohort the current step targets. A source renders
/// its queries again at its first round after it changes.
pub fn spawn_pollers_for(
    plan: Arc<Plan>,
    service: String,
    cohort_name: watch::Receiver<String>,
    tx: mpsc::Sender<SampleMsg>,
    shutdown: watch::Receiver<bool>,
) -> Vec<JoinHandle<()>> {
    plan.sources
        .iter()
        .filter_map(|source| {
            let name = cohort_name.borrow().clone();
            let jobs = jobs_for(&plan, source, &service, &name);
            if jobs.is_empty() {
                return None;
            }
            let client = client_for(source).map_err(|e| Reading::ProviderError {
                message: e.to_string(),
                code: Some("config".into()),
            });
            let jobs = Jobs {
                plan: Arc::clone(&plan),
                service: service.clone(),
                cohort_name: cohort_name.clone(),
                rendered_for: name,
                jobs: Arc::new(jobs),
            };
            Some(tokio::spawn(run_source(
                source.clone(),
                client,
                jobs,
                tx.clone(),
                shutdown.clone(),
            )))
        })
        .collect()
}

/// A source's jobs, rendered for the current step's cohort name.
struct Jobs {
    plan: Arc<Plan>,
    service: String,
    cohort_name: watch::Receiver<String>,
    rendered_for: String,
    jobs: Arc<Vec<Job>>,
}

impl Jobs {
    /// The jobs for the cohort name now, rendered again if it changed.
    fn current(&mut self, source: &Source) -> Arc<Vec<Job>> {
        let now = self.cohort_name.borrow().clone();
        if now != self.rendered_for {
            self.jobs = Arc::new(jobs_for(&self.plan, source, &self.service, &now));
            self.rendered_for = now;
        }
        Arc::clone(&self.jobs)
    }
}

/// The schedule of one source: a random phase (up to half the interval, at
/// most 2.5 s) so sources do not fire at once and one source's burst of
/// queries rarely lands on another's slot, then a fixed cadence that an
/// overrunning round never shifts.
async fn run_source(
    source: Source,
    client: Result<Client, Reading>,
    mut jobs: Jobs,
    tx: mpsc::Sender<SampleMsg>,
    mut shutdown: watch::Receiver<bool>,
) {
    let interval = source.interval.max(Duration::from_millis(100));
    let max_phase = (interval / 2).min(Duration::from_millis(2500));
    let phase = rand::rng().random_range(Duration::ZERO..=max_phase);
    let mut next = Instant::now() + phase;
    // Rounds still running are bounded: each request ends by its timeout,
    // so at most timeout/interval + 1 rounds overlap; past a generous cap a
    // round is skipped rather than piling up behind a stalled receiver.
    let overlap = (source.timeout.as_millis() / interval.as_millis().max(1)) as usize + 2;
    let cap = jobs.jobs.len().max(1) * overlap * 2;
    let mut running: JoinSet<()> = JoinSet::new();
    let client = Arc::new(client);
    let name: Arc<str> = Arc::from(source.name.as_str());
    let mut seq = 0u64;
    loop {
        if *shutdown.borrow() {
            break;
        }
        tokio::select! {
            _ = tokio::time::sleep_until(next) => {}
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() { break; }
                continue;
            }
            _ = tx.closed() => break,
        }
        next += interval;
        // If the machine slept past several ticks, resume from now rather
        // than firing the missed rounds in a burst.
        let now_i = Instant::now();
        if next < now_i {
            next = now_i + interval;
        }
        while running.try_join_next().is_some() {}
        if running.len() >= cap {
            continue;
        }
        seq += 1;
        let at = now();
        let round = jobs.current(&source);
        start_round(&mut running, &name, &client, &round, seq, at, &tx);
    }
    // Dropping the JoinSet aborts rounds still in flight.
    running.abort_all();
}

fn start_round(
    running: &mut JoinSet<()>,
    name: &Arc<str>,
    client: &Arc<Result<Client, Reading>>,
    jobs: &Arc<Vec<Job>>,
    seq: u64,
    at: Timestamp,
    tx: &mpsc::Sender<SampleMsg>,
) {
    match client.as_ref() {
        Err(reading) => {
            let msgs: Vec<SampleMsg> = jobs
                .iter()
                .map(|j| sample(name, seq, j, reading.clone(), at, 0))
                .collect();
            let tx = tx.clone();
            running.spawn(send_all(tx, msgs));
        }
        // One request serves every metric of the source.
        Ok(Client::HttpJson(ep)) => {
            let (ep, jobs, tx) = (ep.clone(), jobs.clone(), tx.clone());
            let name = name.clone();
            running.spawn(async move {
                let (doc, ms) = http_json::fetch(&ep).await;
                let msgs = jobs
                    .iter()
                    .map(|j| {
                        let reading = match (&doc, &j.query) {
                            (Err(r), _) => r.clone(),
                            (Ok(d), Query::Pointer(p)) => http_json::reading_at(d, p),
                            _ => mismatch(&name),
                        };
                        sample(&name, seq, j, reading, at, ms)
                    })
                    .collect();
                send_all(tx, msgs).await;
            });
        }
        Ok(Client::Probe {
            ep,
            expect_status,
            body_contains,
        }) => {
            let (ep, jobs, tx) = (ep.clone(), jobs.clone(), tx.clone());
            let (expect, needle, name) = (*expect_status, body_contains.clone(), name.clone());
            running.spawn(async move {
                let outcome = probe::probe(&ep, expect, needle.as_deref()).await;
                let ms = outcome.latency_ms.unwrap_or(0.0) as u64;
                let msgs = jobs
                    .iter()
                    .map(|j| {
                        let reading = match j.query {
                            Query::Probe(f) => outcome.reading(f),
                            _ => mismatch(&name),
                        };
                        sample(&name, seq, j, reading, at, ms)
                    })
                    .collect();
                send_all(tx, msgs).await;
            });
        }
        // One request (or process) per metric and cohort, concurrently.
        // Each shares the client and the jobs (no copy per poll).
        Ok(_) => {
            for k in 0..jobs.len() {
                let (client, jobs, tx, name) =
                    (client.clone(), jobs.clone(), tx.clone(), name.clone());
                running.spawn(async move {
                    let job = &jobs[k];
                    let (reading, ms) = match (client.as_ref(), &job.query) {
                        (Ok(Client::Prometheus(p)), Query::Promql(q)) => p.query(q).await,
                        (Ok(Client::Command(l)), Query::Argv(a)) => command::run(a, l).await,
                        _ => (mismatch(&name), 0),
                    };
                    let _ = tx.send(sample(&name, seq, job, reading, at, ms)).await;
                });
            }
        }
    }
}

/// One poll's result for one job, tagged with its source and round.
fn sample(
    source: &str,
    seq: u64,
    job: &Job,
    reading: Reading,
    at: Timestamp,
    latency_ms: u64,
) -> SampleMsg {
    SampleMsg {
        source: source.to_string(),
        seq,
        metric: job.metric.clone(),
        cohort: job.cohort,
        reading,
        at,
        latency_ms,
    }
}

/// A metric whose query does not fit its source's kind (config validation
/// prevents it; this keeps the poller total).
fn mismatch(source: &str) -> Reading {
    Reading::ProviderError {
        message: format!("the metric's query does not fit source {source:?}'s kind"),
        code: Some("config".into()),
    }
}

async fn send_all(tx: mpsc::Sender<SampleMsg>, msgs: Vec<SampleMsg>) {
    for m in msgs {
        if tx.send(m).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latest_filter_drops_older_results() {
        let mut f = LatestFilter::new();
        assert!(f.accept("err", Cohort::Canary, 2));
        assert!(
            !f.accept("err", Cohort::Canary, 1),
            "late round 1 after round 2"
        );
        assert!(!f.accept("err", Cohort::Canary, 2), "duplicate");
        assert!(f.accept("err", Cohort::Baseline, 1), "cohorts are separate");
        assert!(f.accept("p95", Cohort::Canary, 1), "metrics are separate");
        assert!(f.accept("err", Cohort::Canary, 3));
    }
}
