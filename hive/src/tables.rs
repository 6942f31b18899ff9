//! Our four tables, each defined by its `hive/ddl/<name>.sql` file.

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
}

const DDL: [(Table, &str); 4] = [
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
];

struct Parsed {
    def: TableDef,
    schema: SchemaRef,
}

fn parsed() -> &'static [Parsed; 4] {
    static PARSED: OnceLock<[Parsed; 4]> = OnceLock::new();
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
    pub const ALL: [Table; 4] = [
        Table::RawWebEvents,
        Table::PageAnalytics,
        Table::RejectedWebEvents,
        Table::LateWebEvents,
    ];

    /// The Hive table name, e.g. `page_analytics`.
    pub fn name(self) -> &'static str {
        match self {
            Table::RawWebEvents => "raw_web_events",
            Table::PageAnalytics => "page_analytics",
            Table::RejectedWebEvents => "rejected_web_events",
            Table::LateWebEvents => "late_web_events",
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
        }
        assert_eq!(Table::from_name("nope"), None);
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
