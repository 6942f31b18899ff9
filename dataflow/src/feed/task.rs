//! The feed's publishing task (process 0): takes each written checkpoint's `F`, publishes the
//! groups with `P < end ≤ F` in order of end, and raises and stores the published frontier
//! `P` once Kafka has acknowledged them.
//!
//! The coordinator hands `F` over a `tokio::sync::watch` ([`Feed::checkpoint_written`]), so
//! the timely worker never waits for Kafka. The task lists the `dt=` partitions that can hold
//! such groups ([`super::first_date`] to the date of `F`), picks the files by name, makes sure
//! each partition is in the metastore (so a published row is visible to Hive SQL), reads the
//! files back and produces their rows in batches of at most [`MAX_BATCH_GROUPS`] groups or
//! [`MAX_BATCH_BYTES`] bytes, cut only between groups of different ends. After every delivery
//! report of a batch is in, `P` becomes the batch's last end; once every group up to `F` is
//! delivered, `P = F`. `P` is stored (`results-feed.json`, [`FeedStore`]) at most once a
//! second and whenever a drain ends.
//!
//! Any failure (Kafka down, a delivery error, HDFS or the metastore unreachable) leaves `P`
//! where it is: the task waits (1 s, doubling up to a minute) and starts again from `P`,
//! re-sending what the failed batch may have delivered, with the same keys and values. A
//! fatal producer error (idempotence broken) also replaces the producer. Hive commits never
//! wait for any of this.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hive::hdfs::AtomicWrite;
use hive::{Hdfs, HiveTables, PartitionDate, Table, WriteRetry};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::ClientConfig;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::{first_date, groups_to_publish, records, GroupFile, FEED_TABLES};

/// Most groups in one batch.
pub const MAX_BATCH_GROUPS: usize = 64;
/// Most record bytes (keys and values) in one batch, unless one group alone is larger.
pub const MAX_BATCH_BYTES: usize = 8 * 1024 * 1024;
/// The results topic's retention (`retention.ms`), when the feed creates it: 7 days.
pub const RETENTION_MS: i64 = 7 * 86_400_000;
/// How often at most `P` is stored while a drain runs.
const STORE_EVERY: Duration = Duration::from_secs(1);

/// The `F` of a written checkpoint, as handed to the task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Final {
    /// The checkpoint's frontier, UTC epoch ms.
    pub frontier_ms: i64,
    /// Its `written_at` (RFC 3339): header `wa-committed-at` of the rows it made final.
    pub written_at: String,
}

/// Settings of the feed (from `--results-topic`, `--results-drain-timeout` and the Kafka and
/// window flags).
#[derive(Clone)]
pub struct FeedSettings {
    /// The results topic.
    pub results_topic: String,
    /// Producer settings: ours ([`producer_config`]) then the user's `-X`.
    pub producer: ClientConfig,
    /// The tables (reading files, registering partitions).
    pub tables: HiveTables,
    /// Where `P` is stored.
    pub store: FeedStore,
    /// `--window-size`, ms: how far back a window starts before it ends.
    pub window_size_ms: i64,
    /// `--max-session-duration`, ms: how far back a session starts before it closes.
    pub max_session_ms: i64,
    /// How long a run that reached its stop watermark waits for the feed.
    pub drain_timeout: Duration,
}

/// librdkafka producer settings of the feed, before the user's `-X` properties.
pub fn producer_config(brokers: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", brokers)
        // Names us in broker logs, quotas and metrics.
        .set("client.id", "wa-dataflow-feed")
        // No duplicates or reordering when librdkafka retries within one producer session
        // (re-sends across restarts are the same-value re-sends of the delivery guarantee).
        .set("enable.idempotence", "true")
        // Said explicitly (idempotence requires it): a row counts as published only once all
        // in-sync replicas have it, because `P` moves past it then.
        .set("acks", "all")
        // JSON rows compress well; lz4 is the cheapest codec in CPU.
        .set("compression.type", "lz4")
        // A batch of groups is produced at once; 20 ms gathers it into few requests.
        .set("linger.ms", "20")
        // murmur2 of the key, as the Java client: a re-sent row lands in the same partition.
        .set("partitioner", "murmur2_random");
    c
}

/// `<checkpoint dir>/<topic>/results-feed.json`: the published frontier `P` of one results
/// topic, replaced atomically through the process's HDFS client.
#[derive(Clone)]
pub struct FeedStore {
    hdfs: Hdfs,
    retry: WriteRetry,
    path: String,
    results_topic: String,
}

#[derive(Serialize, Deserialize)]
struct Stored {
    results_topic: String,
    published_ms: i64,
}

impl FeedStore {
    /// The store of `results_topic`'s `P` beside the checkpoint of input `topic` under `dir`.
    /// Makes no call to HDFS.
    pub fn new(hdfs: Hdfs, retry: WriteRetry, dir: &str, topic: &str, results_topic: &str) -> Self {
        FeedStore {
            hdfs,
            retry,
            path: format!("{}/{topic}/results-feed.json", dir.trim_end_matches('/')),
            results_topic: results_topic.to_string(),
        }
    }

    /// Path of the file.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The stored `P`, UTC epoch ms; `i64::MIN` (publish every committed row) when there is no
    /// file, it names another results topic, or it cannot be parsed (logged).
    ///
    /// # Errors
    /// [`hive::HiveError::Hdfs`] when HDFS cannot be read.
    pub async fn load(&self) -> Result<i64, hive::HiveError> {
        let Some(bytes) = self.hdfs.read(&self.path).await? else {
            return Ok(i64::MIN);
        };
        match serde_json::from_slice::<Stored>(&bytes) {
            Ok(s) if s.results_topic == self.results_topic => Ok(s.published_ms),
            Ok(s) => {
                tracing::info!(path = %self.path, stored = %s.results_topic, results_topic = %self.results_topic, "the stored published frontier is for another results topic; publishing every committed row");
                Ok(i64::MIN)
            }
            Err(e) => {
                tracing::warn!(path = %self.path, error = %e, "unreadable published frontier; publishing every committed row");
                Ok(i64::MIN)
            }
        }
    }

    /// Replaces the stored `P` atomically.
    ///
    /// # Errors
    /// [`hive::HiveError::Hdfs`] once the write's retries are spent.
    pub async fn store(&self, published_ms: i64) -> Result<(), hive::HiveError> {
        let stored = Stored {
            results_topic: self.results_topic.clone(),
            published_ms,
        };
        let json = serde_json::to_vec(&stored).unwrap_or_default();
        let (dir, name) = self.path.rsplit_once('/').unwrap_or(("", &self.path));
        let temp_path = |token: &str| format!("{dir}/.{name}.{token}.tmp");
        let write = AtomicWrite {
            target: &self.path,
            temp_path: &temp_path,
            replace: true,
            retry: self.retry,
        };
        self.hdfs
            .write_atomic(&write, bytes::Bytes::from(json), |_, _| {})
            .await?;
        Ok(())
    }
}

/// The coordinator's handle on the feed task.
pub struct Feed {
    tx: watch::Sender<Option<Final>>,
    /// `P` as last stored (`i64::MIN` until the task has loaded it).
    stored: Arc<AtomicI64>,
    last_frontier_ms: i64,
    drain_timeout: Duration,
    drain_deadline: Option<Instant>,
}

impl Feed {
    /// Starts the task on `runtime`; it loads `P`, creates the results topic if missing, then
    /// waits for frontiers.
    pub fn start(settings: FeedSettings, runtime: &tokio::runtime::Handle) -> Feed {
        let (tx, rx) = watch::channel(None);
        let stored = Arc::new(AtomicI64::new(i64::MIN));
        let drain_timeout = settings.drain_timeout;
        runtime.spawn(run(settings, rx, stored.clone()));
        Feed {
            tx,
            stored,
            last_frontier_ms: i64::MIN,
            drain_timeout,
            drain_deadline: None,
        }
    }

    /// Hands the task the frontier of a written checkpoint (the restored one at start-up).
    /// Never waits.
    pub fn checkpoint_written(&mut self, frontier_ms: i64, written_at: &str) {
        self.last_frontier_ms = self.last_frontier_ms.max(frontier_ms);
        self.tx.send_replace(Some(Final {
            frontier_ms: self.last_frontier_ms,
            written_at: written_at.to_string(),
        }));
    }

    /// Whether a run may end: the feed has published and stored `P` through the last frontier
    /// handed to it, or `--results-drain-timeout` has passed since the first call that found
    /// it behind (logged; the next run re-sends from the stored `P`).
    pub fn is_drained(&mut self) -> bool {
        let stored = self.stored.load(Ordering::Acquire);
        if self.last_frontier_ms == i64::MIN || stored >= self.last_frontier_ms {
            return true;
        }
        let deadline = *self
            .drain_deadline
            .get_or_insert_with(|| Instant::now() + self.drain_timeout);
        if Instant::now() >= deadline {
            tracing::warn!(published = stored, frontier = self.last_frontier_ms, timeout = ?self.drain_timeout, "the results feed did not publish through the last checkpoint in time; the next run re-sends from its published frontier");
            return true;
        }
        false
    }
}

/// Why one drain stopped short.
#[derive(Debug, thiserror::Error)]
enum DrainError {
    #[error(transparent)]
    Hive(#[from] hive::HiveError),
    #[error("Kafka: {0}")]
    Kafka(#[from] KafkaError),
    #[error(transparent)]
    Row(#[from] super::FeedRowError),
}

struct State {
    settings: FeedSettings,
    producer: Option<FutureProducer>,
    topic_ready: bool,
    registered: BTreeSet<(Table, PartitionDate)>,
    published_ms: i64,
    stored: Arc<AtomicI64>,
    last_store: Instant,
}

async fn run(
    settings: FeedSettings,
    mut rx: watch::Receiver<Option<Final>>,
    stored: Arc<AtomicI64>,
) {
    let mut backoff = Duration::from_secs(1);
    let published_ms = loop {
        match settings.store.load().await {
            Ok(p) => break p,
            Err(e) => {
                tracing::warn!(path = settings.store.path(), error = %e, ?backoff, "cannot read the published frontier; trying again");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(60));
            }
        }
    };
    stored.store(published_ms, Ordering::Release);
    if published_ms > i64::MIN {
        metrics::gauge!("wa_dataflow_feed_published_ms").set(published_ms as f64);
    }
    let mut st = State {
        settings,
        producer: None,
        topic_ready: false,
        registered: BTreeSet::new(),
        published_ms,
        stored,
        last_store: Instant::now(),
    };
    let mut backoff = Duration::from_secs(1);
    loop {
        let target = rx.borrow_and_update().clone();
        // Behind until `P` is stored through `F`: a failed store is tried again too.
        let behind = |f: &Final| f.frontier_ms > st.stored.load(Ordering::Acquire);
        if let Some(f) = target.filter(behind) {
            match st.drain(&f).await {
                Ok(()) => backoff = Duration::from_secs(1),
                Err(e) => {
                    metrics::counter!("wa_dataflow_feed_retries_total").increment(1);
                    let fatal = st
                        .producer
                        .as_ref()
                        .and_then(|p| p.client().fatal_error())
                        .is_some();
                    if fatal {
                        st.producer = None;
                    }
                    tracing::warn!(error = %e, published = st.published_ms, fatal, ?backoff, "the results feed stopped short; sending again from its published frontier");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(60));
                    continue;
                }
            }
        }
        if rx.changed().await.is_err() {
            return;
        }
    }
}

impl State {
    fn producer(&mut self) -> Result<FutureProducer, KafkaError> {
        if let Some(p) = &self.producer {
            return Ok(p.clone());
        }
        let p: FutureProducer = self.settings.producer.create()?;
        self.producer = Some(p.clone());
        Ok(p)
    }

    async fn ensure_topic(&mut self) -> Result<(), KafkaError> {
        if self.topic_ready {
            return Ok(());
        }
        let admin: AdminClient<DefaultClientContext> = self.settings.producer.create()?;
        let retention = RETENTION_MS.to_string();
        let topic = NewTopic::new(&self.settings.results_topic, 1, TopicReplication::Fixed(-1))
            .set("cleanup.policy", "compact,delete")
            .set("retention.ms", &retention);
        let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
        for result in admin.create_topics([&topic], &options).await? {
            match result {
                Ok(name) => tracing::info!(topic = %name, "results topic created"),
                Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((name, code)) => return Err(KafkaError::AdminOp(code)).inspect_err(|_| {
                    tracing::warn!(topic = %name, error = %code, "cannot create the results topic");
                }),
            }
        }
        self.topic_ready = true;
        Ok(())
    }

    /// The group files with `P < end ≤ F` of every feed table, by end (then table, `dt`,
    /// name).
    async fn list(&self, frontier_ms: i64) -> Result<Vec<GroupFile>, hive::HiveError> {
        let s = &self.settings;
        let last = hive::PartitionDate::from_epoch_ms(frontier_ms)?;
        let mut groups = Vec::new();
        for table in FEED_TABLES {
            let first = first_date(table, self.published_ms, s.window_size_ms, s.max_session_ms);
            for dt in s.tables.partition_dates(table).await? {
                if first.is_some_and(|f| dt < f) || dt > last {
                    continue;
                }
                let names = s.tables.partition_files(table, dt).await?;
                groups.extend(groups_to_publish(
                    table,
                    dt,
                    &names,
                    self.published_ms,
                    frontier_ms,
                ));
            }
        }
        groups.sort();
        Ok(groups)
    }

    async fn drain(&mut self, f: &Final) -> Result<(), DrainError> {
        self.ensure_topic().await?;
        let groups = self.list(f.frontier_ms).await?;
        let mut rest = &groups[..];
        while !rest.is_empty() {
            let mut taken = 0;
            let mut bytes = 0;
            let producer = self.producer()?;
            let mut deliveries = Vec::new();
            let mut rows = [0u64; 3];
            while let Some(g) = rest.get(taken) {
                let full = taken >= MAX_BATCH_GROUPS || bytes >= MAX_BATCH_BYTES;
                if full && g.end_ms != rest[taken - 1].end_ms {
                    break;
                }
                if self.registered.insert((g.table, g.dt)) {
                    if let Err(e) = self.settings.tables.ensure_partition(g.table, g.dt).await {
                        self.registered.remove(&(g.table, g.dt));
                        return Err(e.into());
                    }
                }
                let Some(batches) = self
                    .settings
                    .tables
                    .read_file(g.table, g.dt, &g.name)
                    .await?
                else {
                    tracing::warn!(table = g.table.name(), dt = %g.dt, file = %g.name, "a listed group file is gone; skipped");
                    taken += 1;
                    continue;
                };
                for batch in &batches {
                    for r in records(g.table, g.dt, batch)? {
                        bytes += r.key.len() + r.value.len();
                        rows[FEED_TABLES.iter().position(|t| *t == g.table).unwrap_or(0)] += 1;
                        deliveries.push(
                            send(&producer, &self.settings.results_topic, &r, &f.written_at)
                                .await?,
                        );
                    }
                }
                taken += 1;
            }
            let end_ms = rest[taken - 1].end_ms;
            for d in deliveries {
                match d.await {
                    Ok(Ok(_)) => {}
                    Ok(Err((e, _))) => return Err(e.into()),
                    Err(_) => return Err(KafkaError::Canceled.into()),
                }
            }
            for (table, n) in FEED_TABLES.iter().zip(rows) {
                metrics::counter!("wa_dataflow_feed_rows_total", "table" => table.name())
                    .increment(n);
            }
            self.raise(end_ms, false).await?;
            rest = &rest[taken..];
        }
        self.raise(f.frontier_ms, true).await?;
        Ok(())
    }

    /// Raises `P` to `to_ms`; stores it when `always` or a second has passed since the last
    /// store.
    ///
    /// # Errors
    /// A failed store when `always` (the drain's last); otherwise a failed store is logged and
    /// the next one covers it.
    async fn raise(&mut self, to_ms: i64, always: bool) -> Result<(), hive::HiveError> {
        self.published_ms = self.published_ms.max(to_ms);
        metrics::gauge!("wa_dataflow_feed_published_ms").set(self.published_ms as f64);
        if !always && self.last_store.elapsed() < STORE_EVERY {
            return Ok(());
        }
        match self.settings.store.store(self.published_ms).await {
            Ok(()) => {
                self.last_store = Instant::now();
                self.stored.store(self.published_ms, Ordering::Release);
                Ok(())
            }
            Err(e) if always => Err(e),
            Err(e) => {
                tracing::warn!(path = self.settings.store.path(), error = %e, "storing the published frontier failed");
                Ok(())
            }
        }
    }
}

/// Queues one record (waiting while librdkafka's queue is full) and returns its delivery
/// report's future.
async fn send(
    producer: &FutureProducer,
    topic: &str,
    r: &super::FeedRecord,
    committed_at: &str,
) -> Result<rdkafka::producer::DeliveryFuture, KafkaError> {
    loop {
        let headers = OwnedHeaders::new()
            .insert(Header {
                key: "wa-table",
                value: Some(r.table.name()),
            })
            .insert(Header {
                key: "wa-committed-at",
                value: Some(committed_at),
            });
        let record = FutureRecord::to(topic)
            .key(&r.key)
            .payload(&r.value)
            .headers(headers);
        match producer.send_result(record) {
            Ok(delivery) => return Ok(delivery),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Err((e, _)) => return Err(e),
        }
    }
}
