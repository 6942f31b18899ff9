//! Our six tables, each defined by its `hive/ddl/<name>.sql` file.

use std::sync::{Arc, OnceLock};

use arrow::datatypes::SchemaRef;

use crate::ddl::TableDef;
use crate::schema::arrow_schema;

/// One of the Hive tables this crate owns (`hive/README.md`). Every table is external, stored as ORC and
/// partitioned by `dt STRING` (a UTC date, `YYYY-MM-DD`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Table {
    /// `raw_web_events`: every valid event; `dt` = UTC date of `event_time`.
    RawWebEvents,
    /// `page_analytics`: counts per (page_url, event_type, window); `dt` = UTC date of
    /// `window_start`.
    PageAnalytics,
    /// `rejected_web_events`: invalid Kafka records verbatim, with the reason and the Kafka
    /// coordinates; `dt` = UTC date of `kafka_timestamp` (of `seen_at` when it is null).
    RejectedWebEvents,
    /// `late_web_events`: valid events read behind their partition's watermark, with the
    /// watermark they missed; `dt` = UTC date of `event_time`.
    LateWebEvents,
    /// `visitor_analytics`: unique visitors (distinct `user_id`) and events per (page_url,
    /// window) of on-time events, plus one row per window for the whole site (`page_url`
    /// NULL); `dt` = UTC date of `window_start`.
    VisitorAnalytics,
    /// `sessions`: one row per closed session (entry and exit page, duration in ms, events,
    /// page views, `is_bounce`, the first event's browser, os and country); `dt` = UTC date of
    /// `session_start`.
    Sessions,
}

const DDL: [(Table, &str); 6] = [
    (
        Table::RawWebEvents,
        include_str!("../ddl/raw_web_events.sql"),
    ),
    (
        Table::PageAnalytics,
        include_str!("../ddl/page_analytics.sql"),
    ),
    (
        Table::RejectedWebEvents,
        include_str!("../ddl/rejected_web_events.sql"),
    ),
    (
        Table::LateWebEvents,
        include_str!("../ddl/late_web_events.sql"),
    ),
    (
        Table::VisitorAnalytics,
        include_str!("../ddl/visitor_analytics.sql"),
    ),
    (Table::Sessions, include_str!("../ddl/sessions.sql")),
];

struct Parsed {
    def: TableDef,
    schema: SchemaRef,
}

fn parsed() -> &'static [Parsed; 6] {
    static PARSED: OnceLock<[Parsed; 6]> = OnceLock::new();
    PARSED.get_or_init(|| {
        DDL.map(|(table, sql)| {
            // The DDL is compiled in; `every_ddl_file_parses_and_names_its_table` proves it
            // parses, so a failure here is a build of broken DDL, not a run-time condition.
            let def = TableDef::parse(sql)
                .unwrap_or_else(|e| panic!("hive/ddl for {table:?} does not parse: {e}"));
            let schema = Arc::new(arrow_schema(&def));
            Parsed { def, schema }
        })
    })
}

impl Table {
    /// All tables, in `init` order.
    pub const ALL: [Table; 6] = [
        Table::RawWebEvents,
        Table::PageAnalytics,
        Table::RejectedWebEvents,
        Table::LateWebEvents,
        Table::VisitorAnalytics,
        Table::Sessions,
    ];

    /// The Hive table name, e.g. `page_analytics`.
    pub fn name(self) -> &'static str {
        match self {
            Table::RawWebEvents => "raw_web_events",
            Table::PageAnalytics => "page_analytics",
            Table::RejectedWebEvents => "rejected_web_events",
            Table::LateWebEvents => "late_web_events",
            Table::VisitorAnalytics => "visitor_analytics",
            Table::Sessions => "sessions",
        }
    }

    /// The table with this Hive name, if it is one of ours.
    pub fn from_name(name: &str) -> Option<Table> {
        Table::ALL.into_iter().find(|t| t.name() == name)
    }

    /// The parsed DDL of this table.
    pub fn def(self) -> &'static TableDef {
        &parsed()[self as usize].def
    }

    /// The Arrow schema of the record batches written to this table: the DDL's data columns in
    /// order, all nullable (see [`crate::schema`] for the type mapping). The partition column
    /// `dt` is not in the files: it is the partition directory.
    pub fn arrow_schema(self) -> SchemaRef {
        Arc::clone(&parsed()[self as usize].schema)
    }
}

impl std::fmt::Display for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ddl::HiveType;

    #[test]
    fn every_ddl_file_parses_and_names_its_table() {
        for (table, sql) in DDL {
            let def = TableDef::parse(sql).unwrap();
            assert_eq!(def.name, table.name());
            assert_eq!(Table::from_name(table.name()), Some(table));
            assert_eq!(
                def.location_template,
                format!("${{DB_LOCATION}}/{}", table.name())
            );
            let keys: Vec<_> = def
                .partition_keys
                .iter()
                .map(|c| (&*c.name, c.hive_type))
                .collect();
            assert_eq!(keys, vec![("dt", HiveType::String)], "{table}");
            // `def()` and `arrow_schema()` index by the enum's order: DDL must follow it.
            assert_eq!(table.def().name, table.name());
            assert_eq!(
                table.arrow_schema().fields().len(),
                table.def().columns.len(),
                "{table}"
            );
        }
        assert_eq!(Table::from_name("nope"), None);
        assert_eq!(DDL.map(|(t, _)| t), Table::ALL);
        assert_eq!(Table::ALL.len(), 6);
    }

    #[test]
    fn visitor_analytics_and_sessions_have_their_columns_in_order() {
        let columns = |t: Table| {
            t.def()
                .columns
                .iter()
                .map(|c| (c.name.as_str(), c.hive_type))
                .collect::<Vec<_>>()
        };
        use HiveType::{Bigint, Boolean, String, Timestamp};
        assert_eq!(
            columns(Table::VisitorAnalytics),
            [
                ("page_url", String),
                ("window_start", Timestamp),
                ("window_end", Timestamp),
                ("unique_visitors", Bigint),
                ("events", Bigint),
            ]
        );
        assert_eq!(
            columns(Table::Sessions),
            [
                ("session_id", String),
                ("user_id", String),
                ("session_start", Timestamp),
                ("session_end", Timestamp),
                ("duration_ms", Bigint),
                ("events", Bigint),
                ("page_views", Bigint),
                ("entry_page", String),
                ("exit_page", String),
                ("is_bounce", Boolean),
                ("browser", String),
                ("os", String),
                ("country", String),
            ]
        );
        // The windows and their partition date are those of page_analytics.
        for (table, dt_of) in [
            (Table::PageAnalytics, "window_start"),
            (Table::VisitorAnalytics, "window_start"),
            (Table::Sessions, "session_start"),
        ] {
            let dt = table.def().partition_keys[0].comment.as_deref().unwrap();
            assert_eq!(dt, format!("UTC date of {dt_of}, YYYY-MM-DD"), "{table}");
        }
    }

    #[test]
    fn the_seed_columns_are_kept_as_the_seed_names_them() {
        let names = |t: Table| {
            t.def()
                .columns
                .iter()
                .map(|c| c.name.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            names(Table::RawWebEvents),
            [
                "event_id",
                "user_id",
                "session_id",
                "event_type",
                "page_url",
                "browser",
                "os",
                "country",
                "event_time",
                "clock_skew_ms"
            ]
        );
        assert_eq!(
            names(Table::PageAnalytics),
            [
                "page_url",
                "event_type",
                "event_count",
                "window_start",
                "window_end"
            ]
        );
        assert_eq!(
            Table::PageAnalytics
                .def()
                .column("event_count")
                .unwrap()
                .hive_type,
            HiveType::Bigint
        );
        assert_eq!(
            Table::RawWebEvents
                .def()
                .column("clock_skew_ms")
                .unwrap()
                .hive_type,
            HiveType::Bigint
        );
        // A late event carries every schema column of a valid event (all of raw_web_events but
        // the collector's `clock_skew_ms`), in the same order, first.
        let raw = names(Table::RawWebEvents);
        let spec = &raw[..raw.len() - 1];
        assert_eq!(names(Table::LateWebEvents)[..spec.len()], spec[..]);
        assert_eq!(
            Table::RejectedWebEvents
                .def()
                .column("raw_value")
                .unwrap()
                .hive_type,
            HiveType::Binary
        );
    }
}
