#!/usr/bin/env python3
"""Turns one `bench/run` directory (meta.json + results.jsonl) into the table it prints and,
with --doc PATH, into docs/BENCHMARKS.md. Parts that were not measured say so.

    bench/report.py .bench/<run id> [.bench/<later run id> …] [--doc docs/BENCHMARKS.md]

With several runs (e.g. a part re-run alone with `bench/run --only memory,stages`), each
system's figures of each kind come from the last run that has them; machine and settings from
the first.
"""

import argparse
import json
import statistics
from pathlib import Path

NAMES = {
    "limit": "limit: bare librdkafka consumer, counts only",
    "ours-1p": "ours: wa-dataflow, 1 process",
    "ours-2p": "ours: wa-dataflow, 2 processes",
    "spark": "seed's job: Spark Structured Streaming",
}


# Everything after this line in docs/BENCHMARKS.md is written by hand and survives a new run.
KEEP_MARKER = "<!-- written by hand from here on; bench/report.py keeps it -->"


def load_all(run_dirs):
    """(meta of the first run, rows, {part: run id} for parts taken from a later run).

    A part is one system's figures of one kind (e.g. the throughput of ours-1p, the memory of
    ours-2p at 2 M events), or all stage costs: a later run replaces only the parts it has."""
    meta, rows = load(run_dirs[0])
    later = {}
    for d in run_dirs[1:]:
        m, more = load(d)
        more = [r for r in more if r["kind"] != "prefill"]
        parts = {part(r) for r in more}
        rows = [r for r in rows if part(r) not in parts] + more
        later.update({label(p): f"{m['run_id']} (commit {m['versions']['commit']})" for p in parts})
    return meta, rows, later


def part(row):
    return row["kind"], row.get("system"), row.get("events")


def label(p):
    kind, system, events = p
    return " ".join(x for x in (kind, system and f"of {system}", events and f"at {events:,}") if x)


def load(run_dir):
    meta = json.loads((run_dir / "meta.json").read_text())
    rows = [json.loads(l) for l in (run_dir / "results.jsonl").read_text().splitlines() if l.strip()]
    return meta, rows


def fmt_int(v):
    return "–" if v is None else f"{v:,.0f}".replace(",", " ")


def percent(x):
    return f"{100 * x:.0f} %" if x >= 0.1 else f"{100 * x:.1f} %"


def fmt_ratio(a, b):
    return "–" if not a or not b else f"{a / b:.2f}×"


def throughput(rows):
    """{system: {median, lo, hi, n, extra…}} over the rounds."""
    out = {}
    for system in NAMES:
        rs = [r for r in rows if r["kind"] == "throughput" and r["system"] == system]
        if not rs:
            continue
        eps = [r["events_per_sec"] for r in rs]
        out[system] = {
            "median": statistics.median(eps), "lo": min(eps), "hi": max(eps), "n": len(rs),
            "events": rs[0]["events"],
            "mb": statistics.median([r["mb_per_sec"] for r in rs]) if "mb_per_sec" in rs[0] else None,
            "rss": max((r.get("rss") or {}).get("max_mb") or 0 for r in rs) or None,
            "rss_sum": max((r.get("rss") or {}).get("sum_mb") or 0 for r in rs) or None,
            "cpu": statistics.median([r["cpu_us_per_event"] for r in rs]) if all("cpu_us_per_event" in r for r in rs) else None,
            "check": ", ".join(sorted({r["check"] for r in rs if "check" in r})) or "–",
            "wall": statistics.median([r["wall_events_per_sec"] for r in rs]) if "wall_events_per_sec" in rs[0] else None,
            "startup": statistics.median([r["startup_seconds"] for r in rs]) if "startup_seconds" in rs[0] else None,
            "note": rs[0].get("note"),
        }
    return out


def tables(meta, rows):
    """The report as a list of Markdown lines."""
    t = throughput(rows)
    limit = t.get("limit", {}).get("median")
    spark = t.get("spark", {}).get("median")
    s = meta["settings"]
    L = []
    L.append(f"### Throughput: draining {fmt_int(s['events'])} prefilled events "
             f"({s['partitions']} partitions), median of {s['rounds']} round(s)")
    L.append("")
    L.append("| system | events/s | range | of the limit | ÷ Spark | CPU µs/event | peak RSS (MB, largest process / all) | rows in Hive |")
    L.append("|---|---:|---:|---:|---:|---:|---:|---|")
    for system, name in NAMES.items():
        r = t.get(system)
        if not r:
            L.append(f"| {name} | not measured | | | | | | |")
            continue
        rng = f"{fmt_int(r['lo'])}–{fmt_int(r['hi'])}" if r["n"] > 1 else "–"
        of_limit = "100 %" if system == "limit" else (percent(r["median"] / limit) if limit else "–")
        vs_spark = fmt_ratio(r["median"], spark) if system.startswith("ours") else "–"
        rss = "–" if not r["rss"] else f"{r['rss']} / {r['rss_sum']}"
        extra = f"; {r['mb']:.1f} MB/s" if r.get("mb") else ""
        cpu = "–" if r["cpu"] is None else f"{r['cpu']:.2f}"
        L.append(f"| {name}{extra} | {fmt_int(r['median'])} | {rng} | {of_limit} | {vs_spark} | {cpu} | {rss} | {r['check']} |")
    L.append("")
    L.append("CPU µs/event: user + system CPU time of the run's processes (the kernel's count for the "
             "process and every child it waited for: our launcher and its worker processes; Spark's JVM "
             "and Python workers; the counter) divided by the events it read, start-up included — a "
             "figure that stays meaningful when other work shares the cores.")
    if "spark" in t:
        r = t["spark"]
        L.append("")
        L.append(f"Spark's figure counts from the start of its queries to their end; over the whole "
                 f"process (JVM and session start-up, {r['startup']:.0f} s, and shutdown) it is "
                 f"{fmt_int(r['wall'])} events/s. "
                 f"{r['note'] or ''}.")
    L.append("")

    lat = [r for r in rows if r["kind"] == "latency"]
    if lat:
        L.append(f"### Latency: window end → rows visible in Hive SQL, steady {fmt_int(lat[0]['rate'])} "
                 f"events/s for {lat[0]['seconds']} s, "
                 f"{lat[0].get('window_s', 60)}-second tumbling windows")
    else:
        L.append("### Latency: window end → rows visible in Hive SQL")
    L.append("")
    if lat:
        L.append("| system | windows | p50 | p99 | max | not yet visible at (p50 / p99) | first → last window | producer events/s |")
        L.append("|---|---:|---:|---:|---:|---:|---:|---:|")
        for r in lat:
            f = lambda v: "–" if v is None else f"{v:.1f} s"
            p99 = f(r["p99_s"]) if r["windows"] >= 20 else "– (< 20 windows)"
            p99_lower = f(r.get("p99_lower_s")) if r["windows"] >= 20 else "–"
            L.append(f"| {NAMES.get(r['system'], r['system'])} | {r['windows']} | {f(r['p50_s'])} | "
                     f"{p99} | {f(r['max_s'])} | {f(r.get('p50_lower_s'))} / {p99_lower} | "
                     f"{f(r.get('first_window_s'))} → "
                     f"{f(r.get('last_window_s'))} | {fmt_int(r.get('producer_events_per_sec'))} |")
        L.append("")
        L.append("A percentile is only shown over at least 20 windows (with fewer, p99 is the maximum "
                 "of a handful of values, not a percentile).")
        L.append("")
        L.append("The probe polls once a second, so each window's latency is known within a bracket: "
                 "p50, p99 and max are its upper ends (the end of the first poll that saw the window); "
                 "\"not yet visible at\" gives the lower ends (the start of the poll before, which did "
                 "not see it). The time the rows became visible lies between the two.")
        L.append("")
        for r in lat:
            if r["windows"] == 0:
                L.append(f"{NAMES.get(r['system'], r['system'])}: no window the data closes was visible "
                         f"in Hive by the end of the run ({r['seconds']} s of traffic + 90 s), so its "
                         "latency at this rate is longer than that: it does not keep up (see its "
                         "drain rate above).")
                L.append("")
        L.append("A latency that grows from the first window to the last means the system did not keep "
                 "up with the rate; a producer figure below the rate means events reached Kafka late "
                 "(the latency then includes that).")
        by = {r["system"]: r for r in lat}
        if "ours-2p" in by and "spark" in by and by["ours-2p"]["p50_s"] and by["spark"]["p50_s"]:
            L.append("")
            L.append(f"Ours ÷ Spark at p50: {by['ours-2p']['p50_s'] / by['spark']['p50_s']:.2f}× "
                     f"(lower is better).")
    else:
        L.append("not measured")
    L.append("")

    mem = [r for r in rows if r["kind"] in ("memory", "throughput") and r["system"].startswith("ours")]
    L.append("### Memory: peak RSS of our processes")
    L.append("")
    if mem:
        L.append("| events | events/s of event time (span) | processes × workers | largest process (MB) | "
                 "all processes (MB) | events/s |")
        L.append("|---:|---:|---|---:|---:|---:|")
        seen = set()
        for r in sorted(mem, key=lambda r: (r["events"], r.get("event_rate") or 0, r["processes"])):
            key = (r["events"], r.get("event_rate"), r["processes"])
            if key in seen:
                continue
            seen.add(key)
            same = [m for m in mem if (m["events"], m.get("event_rate"), m["processes"]) == key]
            top = max(same, key=lambda m: m["rss"]["max_mb"] or 0)
            er = top.get("event_rate") or s.get("rate")
            span = f"{fmt_int(er)} ({r['events'] / er / 60:.0f} min)" if er else "?"
            L.append(f"| {fmt_int(r['events'])} | {span} | {r['processes']} × {r['threads']} | "
                     f"{top['rss']['max_mb']} | {top['rss']['sum_mb']} | {fmt_int(r['events_per_sec'])} |")
    else:
        L.append("not measured")
    L.append("")

    stages = [r for r in rows if r["kind"] == "stage"]
    L.append("### Cost of each stage (criterion, `cargo bench -p wa-bench`)")
    L.append("")
    if stages:
        L.append("| stage | bench | time per iteration (one batch) | throughput |")
        L.append("|---|---|---:|---:|")
        for r in stages:
            L.append(f"| {r['group']} | {r['bench']} | {r['time']} | {r['throughput']} |")
    else:
        L.append("not measured")
    L.append("")
    return L


def setup(meta):
    m, v, s = meta["machine"], meta["versions"], meta["settings"]
    return [
        "## Machine, versions, settings",
        "",
        f"- Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GiB RAM; {m['os']}, Linux {m['kernel']}. "
        "Kafka, HDFS (NameNode + 2 DataNodes), the metastore and the Spark Thrift Server of the "
        "local stack run on the same machine.",
        f"- Versions: our commit {v['commit']} (later parts: the commits named above); {v['rustc']}; librdkafka (rdkafka-sys) {v['librdkafka']}; "
        f"timely {v['timely']}, differential-dataflow {v['differential-dataflow']}, orc-rust {v['orc-rust']}; "
        f"Kafka {v['kafka']}; Hadoop {v['hadoop']}; Spark (pyspark) {v['spark']} with "
        f"spark-sql-kafka-0-10 {v['spark-sql-kafka']}; {v['java']}.",
        f"- Workload: `wa-producer simulate --seed {s['seed']} --rate {s['rate']} --start-time "
        f"{s['start_time']}`: {fmt_int(s['events'])} events into {s['partitions']} partitions (key = "
        "session_id), event times from a fixed start at the rate's pace, so every run reads the same "
        "records; all valid, in order.",
        f"- Ours: `wa-dataflow launch --workers-file` with {s['workers']} worker threads in all (1 process × "
        f"{s['workers']}, or 2 processes × {max(1, s['workers'] // 2)}), {s['window']} windows, watermark delay "
        f"{s['watermark_delay']}, ZLIB ORC (level and deflate backend as built at the run's commit), `--stop-at-watermark` = the end of the window of the last event, "
        f"`--idle-timeout {s['ours_idle_timeout_drain'].replace(' ', '')}` when draining (the last windows close "
        "once the partitions are idle; default settings otherwise). Time: process start to exit.",
        f"- Spark: `bench/spark/kafka_to_hive.py` under `spark-submit --master local[{s['workers']}] "
        f"--driver-memory {s['spark_driver_memory']}`, shuffle partitions {s['spark_shuffle_partitions']}, "
        "two streaming queries (raw_web_events; 1-minute windows with a 5 s watermark → page_analytics), "
        "`foreachBatch` + `insertInto` partitioned Hive ORC tables (ZLIB), `Trigger.AvailableNow` to drain, "
        f"a {s['spark_trigger_latency']} processing-time trigger for latency.",
        "- Limit: `wa-bench kafka-count`, one librdkafka consumer reading every partition from its "
        "first to its end offset, counting records and bytes (first fetch to last record).",
        "- Latency: a live producer at the rate above into a fresh topic; `WindowVisibility` polls "
        "`SELECT … GROUP BY window_end` over Hive JDBC every second and notes when each window first "
        "shows. Only whole windows that the data itself closes (end + 5 s ≤ last event) count.",
        "- Memory: VmHWM (peak RSS) of every process of the run, read every 500 ms until it exits.",
        "",
        "Where the two jobs differ, by design of each (see `bench/spark/kafka_to_hive.py`): Spark "
        "reads the topic once per query (two queries), its watermark is global rather than per "
        "partition, late events are dropped rather than kept, the last window stays open when the "
        "topic stops, invalid records are filtered rather than written to a dead-letter table, and "
        "`foreachBatch` is at-least-once where ours is exactly once (ours also checkpoints offsets "
        "on HDFS).",
        "",
    ]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("run_dir", type=Path, nargs="+")
    p.add_argument("--doc", type=Path)
    a = p.parse_args()
    meta, rows, later = load_all(a.run_dir)
    body = tables(meta, rows)
    print("\n".join(body))
    if a.doc:
        # What people wrote below the marker (profiles, what changed and by how much) is kept.
        kept = []
        if a.doc.exists():
            old = a.doc.read_text()
            if KEEP_MARKER in old:
                kept = ["", KEEP_MARKER + old.split(KEEP_MARKER, 1)[1].rstrip("\n"), ""]
        doc = [
            "# Benchmarks",
            "",
            f"Measured by `bench/run` on {meta['date']} (run {meta['run_id']}; its logs were in "
            f"`.bench/{meta['run_id']}/`)"
            + "".join(f"; {k} from run {r}" for k, r in sorted(later.items()))
            + ". This file is written by `bench/run`; run it again rather "
            "than editing the figures (the part after the marker at the end is written by hand and kept).",
            "",
            "## Figures",
            "",
        ] + body + setup(meta) + kept
        a.doc.write_text("\n".join(doc))
        print(f"\nwritten: {a.doc}")


if __name__ == "__main__":
    main()
