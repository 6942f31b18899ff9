//! The oracle's pure rules on tiny hand-made topics, where the right answer is obvious.

use super::*;

/// 2026-11-30T00:00:00Z in epoch ms.
const MIDNIGHT: i64 = 1_795_996_800_000;

/// A valid event's wire form: session `s`, page `page`, type `kind`, time `t` (epoch ms).
fn event(id: &str, s: &str, page: &str, kind: &str, t: i64) -> Vec<u8> {
    format!(
        "{{\"event_id\":\"{id}\",\"user_id\":\"u\",\"session_id\":\"{s}\",\"event_type\":\"{kind}\",\
         \"page_url\":\"{page}\",\"browser\":\"Firefox\",\"os\":null,\"event_time\":{t}}}"
    )
    .into_bytes()
}

/// A one-partition topic holding events of page `/p`, type `click` at `times`, in order.
fn one_partition(times: &[i64]) -> Layout {
    let mut layout = Layout::new("t", 1);
    for (i, &t) in times.iter().enumerate() {
        layout.push(0, None, &event(&format!("e{i}"), "s", "/p", "click", t), t);
    }
    layout
}

fn late_offsets(expected: &Expected) -> Vec<(i64, String)> {
    expected
        .tables
        .late
        .iter()
        .map(|r| (r.kafka_offset, r.watermark.clone()))
        .collect()
}

#[test]
fn an_event_is_late_only_when_behind_its_partitions_watermark_and_changes_nothing() {
    let base = MIDNIGHT;
    let times = [
        base + 100_000, // 0: first event, never late; watermark becomes 95 000
        base + 96_000,  // 1: out of order but within the bound
        base + 94_999,  // 2: 1 ms behind the watermark: late
        base + 95_000,  // 3: exactly at the watermark: on time
        base + 110_000, // 4: watermark 105 000
        base + 104_999, // 5: late, and must not lower anything
        base + 105_000, // 6: on time (the late event did not move the watermark)
    ];
    let expected = Expected::compute(
        &one_partition(&times),
        &OracleConfig::tumbling(60_000, 5_000),
    );
    assert_eq!(
        late_offsets(&expected),
        vec![
            (2, sql_timestamp(base + 95_000)),
            (5, sql_timestamp(base + 105_000))
        ]
    );
    // Every valid event is in raw_web_events, late or not.
    assert_eq!(expected.tables.raw.len(), times.len());
    assert_eq!(expected.max_event_time_ms, Some(base + 110_000));
    // The five on-time events (0, 1, 3, 4, 6) all fall in the minute [60 s, 120 s).
    let total: i64 = expected.tables.page.iter().map(|r| r.event_count).sum();
    assert_eq!(total, 5);
}

#[test]
fn a_late_event_never_raises_the_maximum() {
    // 50 000 is late (watermark 99 000). It must not move anything: 98 999 that follows is
    // judged against the same watermark and is late too; 99 000 is on time.
    let b = MIDNIGHT;
    let expected = Expected::compute(
        &one_partition(&[b + 100_000, b + 50_000, b + 98_999, b + 99_000]),
        &OracleConfig::tumbling(60_000, 1_000),
    );
    let offsets: Vec<i64> = late_offsets(&expected).iter().map(|l| l.0).collect();
    assert_eq!(offsets, vec![1, 2]);
}

#[test]
fn lateness_is_judged_per_partition() {
    let b = MIDNIGHT;
    let mut layout = Layout::new("t", 2);
    layout.push(
        0,
        None,
        &event("a", "s0", "/p", "click", b + 600_000),
        b + 600_000,
    );
    // Far behind partition 0, but the first event of partition 1: on time.
    layout.push(1, None, &event("b", "s1", "/p", "click", b), b);
    layout.push(1, None, &event("c", "s1", "/p", "click", b + 1), b + 1);
    // Behind partition 0's watermark: late.
    layout.push(0, None, &event("d", "s0", "/p", "click", b + 1), b + 1);
    let expected = Expected::compute(&layout, &OracleConfig::tumbling(60_000, 5_000));
    let late: Vec<(i32, i64)> = expected
        .tables
        .late
        .iter()
        .map(|r| (r.kafka_partition, r.kafka_offset))
        .collect();
    assert_eq!(late, vec![(0, 1)]);
    assert_eq!(expected.tables.late[0].event_id, "d");
    assert_eq!(expected.tables.late[0].kafka_topic, "t");
}

#[test]
fn tumbling_windows_count_on_time_events_per_page_and_type() {
    let b = MIDNIGHT;
    let mut layout = Layout::new("t", 1);
    for (i, (page, kind, t)) in [
        ("/a", "click", b),
        ("/a", "click", b + 59_999),
        ("/a", "page_view", b + 30_000),
        ("/a", "click", b + 60_000), // next window: window_end is exclusive
        ("/b", "click", b + 61_000),
    ]
    .into_iter()
    .enumerate()
    {
        layout.push(0, None, &event(&format!("e{i}"), "s", page, kind, t), t);
    }
    let expected = Expected::compute(&layout, &OracleConfig::tumbling(60_000, 100_000));
    let mut page: Vec<(&str, &str, String, i64, &str)> = expected
        .tables
        .page
        .iter()
        .map(|r| {
            (
                r.page_url.as_str(),
                r.event_type.as_str(),
                r.window_start.clone(),
                r.event_count,
                r.window_end.as_str(),
            )
        })
        .collect();
    page.sort();
    let (w0, w1, w2) = (
        "2026-11-30 00:00:00.000",
        "2026-11-30 00:01:00.000",
        "2026-11-30 00:02:00.000",
    );
    assert_eq!(
        page,
        vec![
            ("/a", "click", w0.to_owned(), 2, w1),
            ("/a", "click", w1.to_owned(), 1, w2),
            ("/a", "page_view", w0.to_owned(), 1, w1),
            ("/b", "click", w1.to_owned(), 1, w2),
        ]
    );
}

#[test]
fn hopping_windows_are_aligned_to_the_slide_and_count_each_event_size_over_slide_times() {
    let spec = OracleConfig::hopping(60_000, 20_000, 0);
    assert_eq!(spec.window_starts(65_000), vec![20_000, 40_000, 60_000]);
    assert_eq!(spec.window_starts(60_000), vec![20_000, 40_000, 60_000]);
    assert_eq!(spec.window_starts(59_999), vec![0, 20_000, 40_000]);
    assert_eq!(spec.window_starts(-1), vec![-60_000, -40_000, -20_000]);
    // A size that is not a multiple of the slide still means "every window containing t".
    assert_eq!(
        OracleConfig::hopping(30, 20, 0).window_starts(45),
        vec![20, 40]
    );
    assert_eq!(
        OracleConfig::tumbling(60_000, 0).window_starts(125_000),
        vec![120_000]
    );

    let b = MIDNIGHT;
    let layout = one_partition(&[b + 5_000, b + 25_000, b + 45_000]);
    let expected = Expected::compute(&layout, &spec);
    let mut windows: Vec<(&str, i64, &str)> = expected
        .tables
        .page
        .iter()
        .map(|r| (r.window_start.as_str(), r.event_count, r.dt.as_str()))
        .collect();
    windows.sort();
    // dt is the date of window_start, so windows around midnight split across days.
    assert_eq!(
        windows,
        vec![
            ("2026-11-29 23:59:20.000", 1, "2026-11-29"),
            ("2026-11-29 23:59:40.000", 2, "2026-11-29"),
            ("2026-11-30 00:00:00.000", 3, "2026-11-30"),
            ("2026-11-30 00:00:20.000", 2, "2026-11-30"),
            ("2026-11-30 00:00:40.000", 1, "2026-11-30"),
        ]
    );
}

#[test]
fn raw_rows_keep_nulls_and_take_the_date_of_the_event_time() {
    let t = MIDNIGHT - 1;
    let expected = Expected::compute(&one_partition(&[t]), &OracleConfig::tumbling(60_000, 0));
    let row = &expected.tables.raw[0];
    assert_eq!(row.event_time, "2026-11-29 23:59:59.999");
    assert_eq!(row.dt, "2026-11-29");
    assert_eq!(row.browser.as_deref(), Some("Firefox"));
    assert_eq!(row.os, None);
    assert_eq!(row.country, None);
}

#[test]
fn invalid_records_are_rejected_with_their_position_and_do_not_touch_watermarks() {
    let b = MIDNIGHT;
    let mut layout = Layout::new("t", 2);
    layout.push(
        1,
        None,
        &event("a", "s", "/p", "click", b + 100_000),
        b + 100_000,
    );
    layout.push(1, Some(b"k"), b"not json {", b - 5);
    layout.push(1, None, &[0xff, 0xfe, b'x'], b + 7);
    layout.push(
        1,
        None,
        br#"{"event_id":"x","session_id":"s","event_type":"click","page_url":"/p","event_time":1}"#,
        b + 8,
    );
    layout.push(
        1,
        None,
        &event("b", "s", "/p", "click", b + 99_000),
        b + 99_000,
    );
    let expected = Expected::compute(&layout, &OracleConfig::tumbling(60_000, 5_000));
    let rejected: Vec<(&str, i64, &str, &str)> = expected
        .tables
        .rejected
        .iter()
        .map(|r| {
            (
                r.reason.as_str(),
                r.kafka_offset,
                r.raw_value_hex.as_str(),
                r.dt.as_str(),
            )
        })
        .collect();
    assert_eq!(rejected.len(), 3);
    assert!(rejected.contains(&("not_json", 1, "6E6F74206A736F6E207B", "2026-11-29")));
    assert!(rejected.contains(&("invalid_utf8", 2, "FFFE78", "2026-11-30")));
    assert!(rejected.iter().any(|r| r.0 == "missing_field" && r.1 == 3));
    let not_json = expected
        .tables
        .rejected
        .iter()
        .find(|r| r.kafka_offset == 1)
        .unwrap();
    assert_eq!(
        not_json.kafka_timestamp.as_deref(),
        Some("2026-11-29 23:59:59.995")
    );
    assert_eq!(not_json.kafka_partition, 1);
    // The event after the rejects is judged against the first event only: on time.
    assert!(expected.tables.late.is_empty());
    assert_eq!(expected.tables.raw.len(), 2);
}

#[test]
fn the_layout_partitions_events_by_murmur2_of_the_session_and_counts_offsets() {
    let mut layout = Layout::new("t", 4);
    // "foobar" → partition 2, "abc" → 3 (see the partitioner's Java vectors).
    let r = layout
        .push_event(&event("1", "foobar", "/p", "click", MIDNIGHT))
        .unwrap()
        .clone();
    assert_eq!((r.partition, r.offset), (2, 0));
    assert_eq!(r.key.as_deref(), Some(&b"foobar"[..]));
    // The simulator stamps records with its send time: not predicted, not compared.
    assert_eq!(r.timestamp_ms, None);
    layout.push(2, None, b"junk", MIDNIGHT);
    let log = [
        event("2", "abc", "/p", "click", MIDNIGHT + 1),
        event("3", "foobar", "/p", "click", MIDNIGHT + 2),
    ]
    .map(|e| String::from_utf8(e).unwrap())
    .join("\n");
    assert_eq!(layout.push_log(&log).unwrap(), 2);
    let places: Vec<(i32, i64)> = layout
        .records()
        .iter()
        .map(|r| (r.partition, r.offset))
        .collect();
    assert_eq!(places, vec![(2, 0), (2, 1), (3, 0), (2, 2)]);
    assert!(layout.push_log("{\"not\":\"an event\"}").is_err());

    // The check accepts the same records in any order, and names the first difference.
    let mut actual: Vec<TopicRecord> = layout.records().iter().rev().cloned().collect();
    layout.check_against(&actual).unwrap();
    actual[0].value = b"other".to_vec();
    let err = layout.check_against(&actual).unwrap_err().to_string();
    assert!(err.contains("partition 2 offset 2"), "{err}");
    actual.pop();
    assert!(layout.check_against(&actual).is_err());
}

#[test]
fn timestamps_and_hex_print_like_hive_sql() {
    assert_eq!(sql_timestamp(1_796_011_699_123), "2026-11-30 04:08:19.123");
    assert_eq!(sql_timestamp(MIDNIGHT), "2026-11-30 00:00:00.000");
    assert_eq!(date(MIDNIGHT - 1), "2026-11-29");
    assert_eq!(hex_upper(&[0x00, 0xab, 0x7f]), "00AB7F");
    assert_eq!(hex_upper(b""), "");
}

#[test]
fn page_rows_ending_by_keeps_only_closed_windows() {
    let b = MIDNIGHT;
    let expected = Expected::compute(
        &one_partition(&[b, b + 60_000, b + 120_000]),
        &OracleConfig::tumbling(60_000, 0),
    );
    assert_eq!(expected.page_rows_ending_by(b + 59_999).len(), 0);
    assert_eq!(expected.page_rows_ending_by(b + 60_000).len(), 1);
    assert_eq!(expected.page_rows_ending_by(b + 180_000).len(), 3);
}
