//! Outages of the stack's services while the pipeline runs: one of the two DataNodes, the
//! Kafka broker, the Hive Metastore.
//!
//! Every case runs the whole pipeline on a fresh topic: a live, seeded `wa-producer simulate`
//! (paced in wall-clock time, with jitter, late events and hand-made invalid records), the
//! real `wa-archiver`, and a 2-process `wa-dataflow` cluster started process by process (so a
//! crash is seen, never hidden by a supervisor's restart). One service is stopped mid-stream
//! and started again; the case checks what must hold *during* the outage, then, once the
//! stream is over and the cluster has stopped at its watermark:
//!
//! - Kafka holds exactly what the producer's log says (`Stream::finish_layout`);
//! - the four dataflow tables, read through Hive SQL, equal the oracle recomputed from that
//!   log (`wa_tests::oracle`), row for row;
//! - the raw archive on HDFS holds every record of the topic exactly once, under its date,
//!   and no temporary file is left behind.
//!
//! The cluster's idle timeout is the one the other dataflow tests use (15 s): the oracle
//! leaves the idle policy out, so these cases also prove that an outage does not make the
//! policy judge records late.

#[path = "outage_checks.rs"]
mod checks;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use crate::archive::{read_archive, wait_for_records, Archiver, ByDate, Setup};
use checks::{archive_diff, committed_under, metric_sum, replicas_of, tail, temporaries};
use wa_tests::dataflow::{init_database, Dataflow, DataflowOptions, Launcher};
use wa_tests::oracle::{assert_tables_eq, date, Expected, OracleConfig, Tables};
use wa_tests::{read_topic, stack, unique_name, Stack};

use crate::support::{
    block_on, pause, produce, start_before_midnight, trailing_records, Sim, Stream,
};

const MINUTE_MS: i64 = 60_000;
/// `--max-out-of-orderness`.
const LATENESS_MS: i64 = 3_000;
/// `--idle-timeout`: as in the dataflow tests, far above any pause of a live producer.
const IDLE_TIMEOUT: Duration = Duration::from_secs(15);
/// Longest the cluster may take, after the stream's last record, to stop at its watermark.
const FINISH_TIMEOUT: Duration = Duration::from_secs(300);

/// One pipeline over a live stream: producer, archiver and dataflow cluster, all running.
struct Pipeline {
    case: &'static str,
    stream: Stream,
    /// Waits for the producer's last event and produces the trailing records at once; `None`
    /// once joined.
    stream_end: Option<std::thread::JoinHandle<()>>,
    archive: Setup,
    archiver: Archiver,
    options: DataflowOptions,
    dataflow: Dataflow,
}

impl Pipeline {
    /// Creates the topic and the database, starts the producer, and once every partition
    /// has data, the archiver and a 2×1 cluster.
    ///
    /// The trailing records follow the producer's last event from a thread of their own,
    /// whatever the test is busy with then: the oracle leaves the idle policy out, so no
    /// partition may sit caught up for the idle timeout before its last record.
    fn start(s: &'static Stack, case: &'static str, sim: Sim) -> Pipeline {
        // Built before the live stream starts: a build takes minutes on a busy machine.
        for bin in ["wa-hive", "wa-producer", "wa-archiver", "wa-dataflow"] {
            wa_tests::binary(bin).unwrap();
        }
        let mut stream = Stream::create(s, &format!("faults_{case}"), sim);
        let database = unique_name(&format!("faults_{case}"));
        init_database(s, &database).unwrap();
        stream.produce_leading(s);
        let mut producer = stream.sim.spawn(s, &stream.topic, &stream.log);
        let (topic, sim) = (stream.topic.clone(), stream.sim.clone());
        let stream_end = std::thread::spawn(move || {
            producer.wait_success("wa-producer simulate");
            produce(s, &topic, &trailing_records(sim.start_ms, sim.end_ms()));
        });
        pause(Duration::from_secs(4), "the producer fills every partition");

        let archive = Setup {
            root: format!("/tmp/wa-tests/{}/raw", stream.topic),
            topic: stream.topic.clone(),
            database: database.clone(),
            roll_size_bytes: 1 << 20,
            roll_interval_secs: 2.0,
            gzip: false,
            log: std::env::temp_dir().join(format!("{}-archiver.log", stream.topic)),
        };
        let archiver = archive.start(s);
        let mut options = DataflowOptions::new(&stream.topic, &database).cluster(2, 1);
        options.idle_timeout = IDLE_TIMEOUT;
        options.launcher = Launcher::PerProcess;
        options.stop_at_watermark_ms = Some(stream.stop_at_ms(MINUTE_MS, LATENESS_MS));
        let dataflow = Dataflow::start(s, &options).unwrap();
        Pipeline {
            case,
            stream,
            stream_end: Some(stream_end),
            archive,
            archiver,
            options,
            dataflow,
        }
    }

    /// Runs for `duration`, failing at once if the archiver or a dataflow process exits.
    fn run_for(&mut self, duration: Duration) {
        let deadline = Instant::now() + duration;
        loop {
            self.assert_running();
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            std::thread::sleep(left.min(Duration::from_millis(500)));
        }
    }

    fn assert_running(&mut self) {
        if let Err(e) = self.dataflow.ensure_running() {
            panic!("[faults] {}: the dataflow died: {e:#}", self.case);
        }
        self.archiver.assert_running();
    }

    /// Files written again after an HDFS failure so far: the Hive layer's retries in each
    /// dataflow process (`wa_hive_write_retries_total`) and the archiver's
    /// (`wa_archiver_commit_retries_total`).
    fn write_retries(&self) -> Vec<(String, u64)> {
        let mut out = Vec::new();
        for process in 0..self.options.processes {
            let page = self.dataflow.metrics(process).unwrap_or_default();
            out.push((
                format!("dataflow {process}"),
                metric_sum(&page, "wa_hive_write_retries_total"),
            ));
        }
        out.push((
            "archiver".to_owned(),
            metric_sum(&self.archiver.metrics(), "wa_archiver_commit_retries_total"),
        ));
        out
    }

    /// The database directory of the four tables, as an HDFS path.
    fn database_dir(&self, s: &Stack) -> String {
        let warehouse = s
            .warehouse
            .strip_prefix(&s.hdfs_url)
            .unwrap_or(&s.warehouse);
        format!("{warehouse}/{}.db", self.options.database)
    }

    /// Committed data files now: (under the four tables' partitions, under the archive).
    fn committed_files(&self, s: &Stack) -> (BTreeSet<String>, BTreeSet<String>) {
        (
            committed_under(s, &self.database_dir(s), "dt="),
            committed_under(s, &self.archive.root, "date="),
        )
    }

    /// Waits for the stream to end (the producer's events, then the trailing records) and for
    /// the cluster to stop at its watermark.
    fn finish_stream(&mut self) {
        let Some(stream_end) = self.stream_end.take() else {
            return;
        };
        if stream_end.join().is_err() {
            panic!(
                "[faults] {}: the stream did not end well (see above)",
                self.case
            );
        }
        if let Err(e) = self.dataflow.wait(FINISH_TIMEOUT) {
            panic!(
                "[faults] {}: the {} cluster did not stop at its watermark: {e:#}",
                self.case,
                self.options.shape()
            );
        }
    }

    /// Lets the stream end and the cluster stop at its watermark (unless
    /// [`Pipeline::finish_stream`] did), waits for the archiver to catch up, then compares
    /// everything with ground truth. Returns a one-line summary of what was compared.
    fn finish_and_compare(mut self, s: &Stack) -> String {
        self.finish_stream();
        // The producer's log, the hand-made records and Kafka agree record for record.
        self.stream.finish_layout(s);

        let expected = Expected::compute(
            &self.stream.layout,
            &OracleConfig::tumbling(MINUTE_MS, LATENESS_MS),
        );
        let t = &expected.tables;
        assert!(
            t.late.len() > 20 && t.rejected.len() >= 10 && t.page.len() > 50,
            "[faults] {}: a degenerate stream proves little: {}",
            self.case,
            t.summary()
        );
        let actual = Tables::read(s, &self.options.database).unwrap();
        assert_tables_eq(
            t,
            &actual.without_reason_detail(),
            &format!(
                "[faults] {}: oracle vs the tables after the outage",
                self.case
            ),
        );
        let no_tmp = temporaries(s, &format!("{}/", self.database_dir(s)), "/_tmp/");
        assert!(
            no_tmp.is_empty(),
            "[faults] {}: temporary files left in the warehouse: {no_tmp:?}",
            self.case
        );

        // The archive: every record of the topic once, under its record timestamp's date.
        let records = read_topic(s, &self.stream.topic).unwrap();
        let mut want = ByDate::new();
        for r in &records {
            let ts = r
                .timestamp_ms
                .expect("every test record carries a timestamp");
            want.entry(date(ts))
                .or_default()
                .push(Some(r.value.clone()));
        }
        want.values_mut().for_each(|v| v.sort());
        let archived = block_on(wait_for_records(
            s,
            &self.archive.root,
            records.len(),
            Duration::from_secs(120),
        ));
        self.archiver.assert_running();
        let archiver_log = self.archiver.log.clone();
        self.archiver.stop();
        let (archived_after_stop, temporaries) = block_on(read_archive(s, &self.archive.root));
        assert!(
            temporaries.is_empty(),
            "[faults] {}: temporary files left in the archive: {temporaries:?}",
            self.case
        );
        if let Some(diff) = archive_diff(&want, &archived_after_stop) {
            panic!(
                "[faults] {}: the archive differs from the topic ({} records; {} archived \
                 before the archiver stopped):\n{diff}\narchiver log:\n{}",
                self.case,
                records.len(),
                crate::archive::count(&archived),
                tail(&archiver_log, 40)
            );
        }

        let summary = format!(
            "compared 4 tables ({} raw, {} page_analytics, {} late, {} rejected rows) + archive \
             ({} records over {} dates): equal",
            t.raw.len(),
            t.page.len(),
            t.late.len(),
            t.rejected.len(),
            records.len(),
            want.len()
        );
        block_on(self.archive.cleanup(s));
        block_on(wa_tests::dataflow::cleanup(s, &self.options.database)).unwrap();
        self.stream.remove_log();
        summary
    }
}

/// The stream every case uses, `seconds` long at `rate` events/s, starting `lead_ms` before a
/// past UTC midnight.
fn live_sim(seed: u64, rate: u64, seconds: u64, lead_ms: i64) -> Sim {
    Sim {
        seed,
        events: rate * seconds,
        rate,
        start_ms: start_before_midnight(lead_ms),
        out_of_order_ms: 1_000,
        late_fraction: 0.02,
        late_by_ms: 8_000,
        no_pacing: false,
    }
}

/// One of the two DataNodes stopped for 50 s mid-stream, then started again: both writers go
/// on committing on the DataNode left (hdfs-native cannot route a new block around a dead
/// node, so a write through it fails and is retried whole), the files written meanwhile
/// have one replica and get their second once the DataNode is back, and nothing is lost or
/// doubled.
#[test]
fn a_datanode_down_mid_stream_loses_nothing_and_its_files_get_their_second_replica() {
    let s = stack();
    let _claim = s.exclusive();
    s.wait_live_datanodes(2, Duration::from_secs(60))
        .expect("the stack must start with both DataNodes live");
    let started = Instant::now();
    // 15 000 events over 100 s, from 23:59:20 UTC.
    let mut p = Pipeline::start(s, "datanode", live_sim(8_001, 150, 100, 40_000));
    p.run_for(Duration::from_secs(12));
    let (tables_before, archive_before) = p.committed_files(s);
    assert!(
        !tables_before.is_empty() && !archive_before.is_empty(),
        "nothing committed in the first 12 s: {} table files, {} archive files",
        tables_before.len(),
        archive_before.len()
    );

    let down = Duration::from_secs(50);
    let outage = s.datanode_outage(1).unwrap();
    eprintln!("[faults] datanode: DataNode 1 stopped for {down:?}");
    let outage_started = Instant::now();
    // While it is down: everything keeps running; note when the NameNode declares it dead.
    let mut dead_after: Option<Duration> = None;
    while outage_started.elapsed() < down {
        p.run_for(Duration::from_millis(500));
        if dead_after.is_none() && s.live_datanodes().unwrap() == 1 {
            dead_after = Some(outage_started.elapsed());
        }
    }
    let retries = p.write_retries();
    let (tables_during, archive_during) = p.committed_files(s);
    let new_tables: BTreeSet<String> = tables_during.difference(&tables_before).cloned().collect();
    let new_archive: BTreeSet<String> = archive_during
        .difference(&archive_before)
        .cloned()
        .collect();
    let roots = [p.database_dir(s), p.archive.root.clone()];
    let roots: Vec<&str> = roots.iter().map(String::as_str).collect();
    let mut written_down: BTreeSet<String> = new_tables.clone();
    written_down.extend(new_archive.iter().cloned());
    let while_down = replicas_of(s, &roots, &written_down);
    outage.end().unwrap();
    let outage_secs = outage_started.elapsed().as_secs();
    s.wait_live_datanodes(2, Duration::from_secs(60)).unwrap();
    let dead_after = dead_after.map_or("never".to_owned(), |d| format!("{} s", d.as_secs()));
    eprintln!(
        "[faults] datanode: DataNode 1 back after {outage_secs} s (declared dead by the NameNode \
         after {dead_after}); committed meanwhile: {} table files, {} archive files; files \
         written again: {retries:?}",
        new_tables.len(),
        new_archive.len()
    );
    assert!(
        retries.iter().map(|(_, n)| n).sum::<u64>() > 0,
        "no write failed while DataNode 1 was down: the outage never hit a write pipeline, so \
         this case proves nothing about write retries"
    );
    assert!(
        !new_tables.is_empty(),
        "the dataflow committed no file while DataNode 1 was down\n{}",
        p.dataflow.log_tail(30)
    );
    assert!(
        !new_archive.is_empty(),
        "the archiver committed no file while DataNode 1 was down\n{}",
        p.archiver.log_tail()
    );
    // Written with one DataNode, a file can only have one replica until HDFS copies it.
    let doubled: Vec<_> = while_down
        .iter()
        .filter(|(_, blocks)| blocks.is_empty() || blocks.iter().any(|&n| n != 1))
        .collect();
    assert!(
        doubled.is_empty(),
        "files written while DataNode 1 was down should have exactly 1 live replica per \
         block then: {doubled:?}"
    );

    // HDFS re-replicates them (dfs.namenode.replication.interval = 1 s on the stack). The
    // stream may end meanwhile (see `Pipeline::start`); its files stay until the comparison.
    let back_at = Instant::now();
    let replicated = loop {
        let short: Vec<(String, Vec<u32>)> = replicas_of(s, &roots, &written_down)
            .into_iter()
            .filter(|(_, blocks)| blocks.is_empty() || blocks.iter().any(|&n| n < 2))
            .collect();
        if short.is_empty() {
            break back_at.elapsed();
        }
        assert!(
            back_at.elapsed() < Duration::from_secs(180),
            "{} of {} files written while DataNode 1 was down still lack their second replica \
             180 s after it came back: {:?}",
            short.len(),
            written_down.len(),
            &short[..short.len().min(5)]
        );
        std::thread::sleep(Duration::from_secs(1));
    };
    eprintln!(
        "[faults] datanode: every file written during the outage has 2 replicas \
         {replicated:.0?} after DataNode 1 came back"
    );

    let summary = p.finish_and_compare(s);
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let n = s.under_replicated_blocks().unwrap();
        if n == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the NameNode still reports {n} under-replicated blocks"
        );
        std::thread::sleep(Duration::from_secs(2));
    }
    eprintln!(
        "[faults] datanode: 1 outage of {outage_secs} s, {} files committed during it ({} \
         table, {} archive; all re-replicated to 2), {summary} ({:.0?})",
        written_down.len(),
        new_tables.len(),
        new_archive.len(),
        started.elapsed()
    );
}

/// The Kafka broker stopped for a few seconds mid-stream and started again: the idempotent
/// producer and both consumers reconnect, Kafka holds exactly the producer's log, and the
/// tables and the archive hold every record once.
#[test]
fn a_broker_restart_mid_stream_loses_and_duplicates_nothing() {
    let s = stack();
    let _claim = s.exclusive();
    let started = Instant::now();
    // 12 000 events over 60 s, from 23:59:30 UTC.
    let mut p = Pipeline::start(s, "broker", live_sim(8_002, 200, 60, 30_000));
    p.run_for(Duration::from_secs(15));
    let (tables_before, archive_before) = p.committed_files(s);
    assert!(
        !tables_before.is_empty() && !archive_before.is_empty(),
        "nothing committed in the first 15 s"
    );
    let stop_began = Instant::now();
    let outage = s.broker_outage().unwrap();
    // Down for a few seconds, and in any case for longer than the idle timeout: a partition
    // must not count as idle just because the broker is away.
    let stopped_in = stop_began.elapsed();
    let down_for = Duration::from_secs(5)
        .max((IDLE_TIMEOUT + Duration::from_secs(2)).saturating_sub(stopped_in));
    eprintln!("[faults] broker: stopped (took {stopped_in:.1?}); down for {down_for:.1?}");
    p.run_for(down_for);
    outage.end().unwrap();
    let down = stop_began.elapsed();
    eprintln!("[faults] broker: back after {down:.1?} (idle timeout {IDLE_TIMEOUT:?})");
    p.run_for(Duration::from_secs(5));
    let summary = p.finish_and_compare(s);
    eprintln!(
        "[faults] broker: 1 restart ({:.0?} from stop to accepting again), {summary} ({:.0?})",
        down,
        started.elapsed()
    );
}

/// The Hive Metastore down for 60 s while the stream crosses a UTC midnight: files of the new
/// date keep landing on HDFS meanwhile, and its partitions appear in Hive once the metastore
/// is back, with no manual step (no `MSCK REPAIR`, no `wa-hive repair`).
#[test]
fn a_metastore_outage_delays_partitions_but_not_data() {
    let s = stack();
    let _claim = s.exclusive();
    let started = Instant::now();
    // 9 000 events over 90 s, from 23:59:35 UTC: midnight comes 25 s into the stream, while
    // the metastore is down.
    let lead_ms = 25_000;
    let sim = live_sim(8_003, 100, 90, lead_ms);
    let new_day = date(sim.start_ms + lead_ms);
    let mut p = Pipeline::start(s, "metastore", sim);
    p.run_for(Duration::from_secs(6));
    let outage = s.metastore_outage().unwrap();
    let down_at = Instant::now();
    eprintln!("[faults] metastore: stopped for 60 s; the stream reaches {new_day} meanwhile");
    p.run_for(Duration::from_secs(60).saturating_sub(down_at.elapsed()));
    let (tables, archive) = p.committed_files(s);
    let new_day_tables: Vec<&String> = tables
        .iter()
        .filter(|f| f.contains(&format!("/dt={new_day}/")))
        .collect();
    let new_day_archive: Vec<&String> = archive
        .iter()
        .filter(|f| f.contains(&format!("/date={new_day}/")))
        .collect();
    assert!(
        new_day_tables
            .iter()
            .any(|f| f.contains("/raw_web_events/")),
        "no raw_web_events file under dt={new_day} while the metastore was down\n{}",
        p.dataflow.log_tail(30)
    );
    assert!(
        !new_day_archive.is_empty(),
        "no archive file under date={new_day} while the metastore was down\n{}",
        p.archiver.log_tail()
    );
    outage.end().unwrap();
    let back_at = Instant::now();
    let outage_secs = (back_at - down_at).as_secs();
    eprintln!(
        "[faults] metastore: back after {outage_secs} s; {} table files and {} archive files \
         of {new_day} committed meanwhile",
        new_day_tables.len(),
        new_day_archive.len()
    );

    // Both writers register the new date by themselves.
    let want = [
        (
            format!("{}.raw_web_events", p.options.database),
            format!("dt={new_day}"),
        ),
        (
            format!("{}.raw_web_events_json", p.options.database),
            format!("date={new_day}"),
        ),
    ];
    let deadline = Instant::now() + Duration::from_secs(180);
    for (table, partition) in &want {
        loop {
            let rows: Vec<(String,)> = s
                .query(&format!("SHOW PARTITIONS {table}"))
                .and_then(|r| r.rows_as())
                .unwrap_or_default();
            if rows.iter().any(|(name,)| name == partition) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "partition {partition} of {table} is not in Hive 180 s after the metastore came \
                 back (Hive lists {rows:?})"
            );
            std::thread::sleep(Duration::from_secs(2));
        }
    }
    let visible_after = back_at.elapsed();
    eprintln!(
        "[faults] metastore: {new_day} visible in Hive {visible_after:.0?} after the restart"
    );
    let summary = p.finish_and_compare(s);
    eprintln!(
        "[faults] metastore: 1 outage of {outage_secs} s, {} files of the new date committed \
         during it, its partitions in Hive {visible_after:.0?} after the restart, {summary} \
         ({:.0?})",
        new_day_tables.len() + new_day_archive.len(),
        started.elapsed()
    );
}
