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

/// A valid event with every field chosen: user `user`, browser `browser` (os and country
/// fixed), in session `s`.
fn visit(id: &str, user: &str, s: &str, page: &str, kind: &str, t: i64, browser: &str) -> Vec<u8> {
    format!(
        "{{\"event_id\":\"{id}\",\"user_id\":\"{user}\",\"session_id\":\"{s}\",\
         \"event_type\":\"{kind}\",\"page_url\":\"{page}\",\"browser\":\"{browser}\",\
         \"os\":\"Linux\",\"country\":\"DE\",\"event_time\":{t}}}"
    )
    .into_bytes()
}

/// A one-partition topic of session `s`'s events `(page, type, time offset from MIDNIGHT)`,
/// in order, all by user `u`.
fn one_session(s: &str, events: &[(&str, &str, i64)]) -> Layout {
    let mut layout = Layout::new("t", 1);
    for (i, &(page, kind, dt)) in events.iter().enumerate() {
        let t = MIDNIGHT + dt;
        let value = visit(&format!("{s}-{i}"), "u", s, page, kind, t, "Firefox");
        layout.push(0, Some(s.as_bytes()), &value, t);
    }
    layout
}

/// (start, end, events) of every expected session, as offsets from MIDNIGHT.
fn spans(expected: &Expected) -> Vec<(i64, i64, i64)> {
    let ms = |text: &str| {
        chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.3f")
            .unwrap()
            .and_utc()
            .timestamp_millis()
            - MIDNIGHT
    };
    expected
        .visitor_tables
        .sessions
        .iter()
        .map(|r| (ms(&r.session_start), ms(&r.session_end), r.events))
        .collect()
}

#[test]
fn the_session_defaults_are_the_dataflows() {
    let config = OracleConfig::tumbling(60_000, 0);
    assert_eq!(config.session_gap_ms, 30 * 60_000);
    assert_eq!(config.max_session_duration_ms, 24 * 3_600_000);
    let config = config
        .with_session_gap(8_000)
        .with_max_session_duration(60_000);
    assert_eq!(
        (config.session_gap_ms, config.max_session_duration_ms),
        (8_000, 60_000)
    );
}

#[test]
fn a_gap_up_to_the_session_gap_continues_the_session_and_a_longer_one_starts_another() {
    let events = [
        ("/a", "page_view", 0),
        ("/b", "click", 8_000), // exactly the gap after the last event: joins
        ("/c", "page_view", 16_001), // 1 ms more than the gap: a new session
        ("/d", "click", 23_999), // 1 ms less than the gap: joins
    ];
    let config = OracleConfig::tumbling(60_000, 100_000).with_session_gap(8_000);
    let expected = Expected::compute(&one_session("s", &events), &config);
    assert_eq!(spans(&expected), vec![(0, 8_000, 2), (16_001, 23_999, 2)]);
    let sessions = &expected.visitor_tables.sessions;
    assert_eq!(
        (
            sessions[0].entry_page.as_str(),
            sessions[0].exit_page.as_str()
        ),
        ("/a", "/b")
    );
    assert_eq!(
        (
            sessions[1].entry_page.as_str(),
            sessions[1].exit_page.as_str()
        ),
        ("/c", "/d")
    );
    assert!(sessions.iter().all(|r| r.session_id == "s"));
    // Closed once the watermark is past last + gap: at last + gap + 1.
    let closes: Vec<i64> = sessions.iter().map(|r| expected.close_ms(r)).collect();
    assert_eq!(closes, vec![MIDNIGHT + 16_001, MIDNIGHT + 23_999 + 8_001]);
    assert!(expected
        .session_rows_closed_by(MIDNIGHT + 16_000)
        .is_empty());
    assert_eq!(expected.session_rows_closed_by(MIDNIGHT + 16_001).len(), 1);
    assert_eq!(expected.session_rows_closed_by(MIDNIGHT + 31_999).len(), 1);
    assert_eq!(expected.session_rows_closed_by(MIDNIGHT + 32_000).len(), 2);
}

#[test]
fn a_session_reaching_the_maximum_duration_is_split_at_the_first_event_at_or_past_it() {
    let events = [
        ("/a", "page_view", 0),
        ("/a", "click", 5_000),
        ("/a", "click", 10_000),
        ("/a", "click", 15_000),
        ("/b", "page_view", 19_999), // 1 ms before start + max: still this session
        ("/c", "page_view", 20_000), // start + max: a new session, though within the gap
        ("/c", "click", 25_000),
    ];
    let config = OracleConfig::tumbling(60_000, 100_000)
        .with_session_gap(8_000)
        .with_max_session_duration(20_000);
    let expected = Expected::compute(&one_session("s", &events), &config);
    assert_eq!(spans(&expected), vec![(0, 19_999, 5), (20_000, 25_000, 2)]);
    let sessions = &expected.visitor_tables.sessions;
    assert_eq!(sessions[0].duration_ms, 19_999);
    assert_eq!(sessions[0].page_views, 2);
    assert_eq!(sessions[1].entry_page, "/c");
    // The first closes at start + max, before last + gap + 1; the second at last + gap + 1.
    assert_eq!(expected.close_ms(&sessions[0]), MIDNIGHT + 20_000);
    assert_eq!(expected.close_ms(&sessions[1]), MIDNIGHT + 25_000 + 8_001);
    // The same session with a smaller gap splits on the gap too: 5 s apart > 4 s.
    let expected = Expected::compute(&one_session("s", &events), &config.with_session_gap(4_000));
    assert_eq!(spans(&expected).len(), 6);
}

#[test]
fn events_at_the_same_time_are_ordered_by_partition_then_offset() {
    let t = MIDNIGHT + 1_000;
    let mut layout = Layout::new("t", 2);
    // One session whose events reached two partitions (sent with other keys), all at `t`.
    layout.push(
        1,
        None,
        &visit("e0", "u1", "s", "/p1o0", "click", t, "Edge"),
        t,
    );
    layout.push(
        0,
        None,
        &visit("e1", "u0", "s", "/p0o0", "page_view", t, "Safari"),
        t,
    );
    layout.push(
        0,
        None,
        &visit("e2", "u2", "s", "/p0o1", "click", t, "Opera"),
        t,
    );
    let expected = Expected::compute(&layout, &OracleConfig::tumbling(60_000, 5_000));
    let sessions = &expected.visitor_tables.sessions;
    assert_eq!(sessions.len(), 1);
    let row = &sessions[0];
    assert_eq!(row.entry_page, "/p0o0");
    // Partition before offset: the first record pushed (partition 1, offset 0) is the last.
    assert_eq!(row.exit_page, "/p1o0");
    // user, browser, os and country are the first event's.
    assert_eq!(row.user_id, "u0");
    assert_eq!(row.browser.as_deref(), Some("Safari"));
    assert_eq!((row.events, row.page_views, row.duration_ms), (3, 1, 0));
    assert_eq!(row.dt, "2026-11-30");
    assert_eq!(expected.close_ms(row), t + DEFAULT_SESSION_GAP_MS + 1);
}

#[test]
fn a_bounce_is_a_session_not_engaged_by_time_page_views_or_a_form() {
    let config = OracleConfig::tumbling(60_000, 100_000);
    let bounce = |events: &[(&str, &str, i64)]| {
        let expected = Expected::compute(&one_session("s", events), &config);
        assert_eq!(expected.visitor_tables.sessions.len(), 1);
        expected.visitor_tables.sessions[0].is_bounce
    };
    assert!(bounce(&[("/a", "page_view", 0)]), "one page view");
    assert!(bounce(&[("/a", "click", 0)]), "one click, no page view");
    assert!(
        bounce(&[("/a", "page_view", 0), ("/a", "click", 9_999)]),
        "1 ms short of 10 s"
    );
    assert!(
        !bounce(&[("/a", "page_view", 0), ("/a", "click", ENGAGED_DURATION_MS)]),
        "exactly 10 s"
    );
    assert!(
        !bounce(&[("/a", "page_view", 0), ("/b", "page_view", 1)]),
        "two page views"
    );
    assert!(
        !bounce(&[("/a", "click", 0), ("/a", "form_submit", 1)]),
        "a form, no page view"
    );
    assert!(
        bounce(&[
            ("/a", "page_view", 0),
            ("/a", "scroll", 1),
            ("/a", "video_play", 2)
        ]),
        "three events, one page view, 2 ms"
    );
}

#[test]
fn late_and_duplicate_events_are_in_no_session_and_no_visitor_count() {
    let b = MIDNIGHT;
    let mut layout = Layout::new("t", 1);
    let mut push = |id: &str, user: &str, t: i64| {
        layout.push(0, None, &visit(id, user, "s", "/p", "click", t, "Edge"), t);
    };
    push("a", "u1", b + 50_000);
    push("b", "u2", b + 40_000); // late: watermark 45 000
    push("a", "u3", b + 50_001); // a copy of "a": dropped
    push("c", "u1", b + 52_000);
    let expected = Expected::compute(&layout, &OracleConfig::tumbling(60_000, 5_000));
    assert_eq!(expected.tables.late.len(), 1);
    assert_eq!(spans(&expected), vec![(50_000, 52_000, 2)]);
    let visitors: Vec<(Option<&str>, i64, i64)> = expected
        .visitor_tables
        .visitors
        .iter()
        .map(|r| (r.page_url.as_deref(), r.unique_visitors, r.events))
        .collect();
    assert_eq!(visitors, vec![(None, 1, 2), (Some("/p"), 1, 2)]);
}

#[test]
fn visitors_are_distinct_users_per_page_and_window_plus_a_site_row_with_a_null_page() {
    let b = MIDNIGHT;
    let mut layout = Layout::new("t", 2);
    for (i, (partition, user, page, t)) in [
        (0, "u1", "/a", b + 1_000),
        (0, "u1", "/a", b + 2_000),
        (1, "u2", "/b", b + 3_000),
        (1, "u1", "/b", b + 4_000),
        (0, "u3", "/a", b + 61_000), // next window
    ]
    .into_iter()
    .enumerate()
    {
        let value = visit(
            &format!("e{i}"),
            user,
            &format!("s-{user}"),
            page,
            "click",
            t,
            "Edge",
        );
        layout.push(partition, None, &value, t);
    }
    let expected = Expected::compute(&layout, &OracleConfig::tumbling(60_000, 5_000));
    let rows: Vec<(&str, Option<&str>, i64, i64, &str)> = expected
        .visitor_tables
        .visitors
        .iter()
        .map(|r| {
            (
                r.window_start.as_str(),
                r.page_url.as_deref(),
                r.unique_visitors,
                r.events,
                r.window_end.as_str(),
            )
        })
        .collect();
    let (w0, w1, w2) = (
        "2026-11-30 00:00:00.000",
        "2026-11-30 00:01:00.000",
        "2026-11-30 00:02:00.000",
    );
    let mut want = vec![
        (w0, None, 2, 4, w1),
        (w0, Some("/a"), 1, 2, w1),
        (w0, Some("/b"), 2, 2, w1),
        (w1, None, 1, 1, w2),
        (w1, Some("/a"), 1, 1, w2),
    ];
    let mut rows = rows;
    rows.sort();
    want.sort();
    assert_eq!(rows, want);
    // The same windows as page_analytics, cut the same way by a stop watermark.
    assert_eq!(expected.visitor_rows_ending_by(b + 60_000).len(), 3);
    assert_eq!(expected.page_rows_ending_by(b + 60_000).len(), 2);
    assert_eq!(expected.visitor_rows_ending_by(b + 120_000).len(), 5);
    let at = expected.visitor_tables_at(b + 60_000);
    assert_eq!(at.visitors.len(), 3);
    // Sessions end 1 to 4 s after midnight plus 30 min of gap: none is closed at 00:01.
    assert!(at.sessions.is_empty());
    assert_eq!(expected.visitor_tables_at(b + 3_600_000).sessions.len(), 3);
}

#[test]
fn hopping_windows_count_each_visitor_in_every_window_holding_their_events() {
    let b = MIDNIGHT;
    let mut layout = Layout::new("t", 1);
    for (i, (user, t)) in [("u1", b + 5_000), ("u2", b + 45_000), ("u1", b + 50_000)]
        .into_iter()
        .enumerate()
    {
        let value = visit(&format!("e{i}"), user, "s", "/p", "click", t, "Edge");
        layout.push(0, None, &value, t);
    }
    let expected = Expected::compute(&layout, &OracleConfig::hopping(60_000, 20_000, 0));
    let site: Vec<(&str, i64, i64, &str)> = expected
        .visitor_tables
        .visitors
        .iter()
        .filter(|r| r.page_url.is_none())
        .map(|r| {
            (
                r.window_start.as_str(),
                r.unique_visitors,
                r.events,
                r.dt.as_str(),
            )
        })
        .collect();
    assert_eq!(
        site,
        vec![
            ("2026-11-29 23:59:20.000", 1, 1, "2026-11-29"),
            ("2026-11-29 23:59:40.000", 1, 1, "2026-11-29"),
            ("2026-11-30 00:00:00.000", 2, 3, "2026-11-30"),
            ("2026-11-30 00:00:20.000", 2, 2, "2026-11-30"),
            ("2026-11-30 00:00:40.000", 2, 2, "2026-11-30"),
        ]
    );
    // One page: its rows are the site's.
    let page = expected
        .visitor_tables
        .visitors
        .iter()
        .filter(|r| r.page_url.is_some())
        .count();
    assert_eq!(page, site.len());
    // One session across the windows, from 5 s to 50 s: 45 s apart is within 30 min.
    assert_eq!(spans(&expected), vec![(5_000, 50_000, 3)]);
}

#[test]
fn a_session_starting_before_midnight_is_dated_by_its_start() {
    let config = OracleConfig::tumbling(60_000, 100_000);
    let expected = Expected::compute(
        &one_session("s", &[("/a", "page_view", -1), ("/b", "page_view", 1)]),
        &config,
    );
    let row = &expected.visitor_tables.sessions[0];
    assert_eq!(row.session_start, "2026-11-29 23:59:59.999");
    assert_eq!(row.session_end, "2026-11-30 00:00:00.001");
    assert_eq!((row.dt.as_str(), row.duration_ms), ("2026-11-29", 2));
}
