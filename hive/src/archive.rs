//! The raw archive's table, `raw_web_events_json`: defined by `hive/ddl/raw_web_events_json.sql`
//! like our other tables, but stored as text under the archiver's root and partitioned by
//! `date` (the UTC date of the Kafka record timestamp, directories `date=YYYY-MM-DD`). Created
//! and extended through the same [`crate::metastore::MetastoreClient`] as the ORC tables.

use std::sync::OnceLock;

use crate::ddl::TableDef;

/// The archive table's default name.
pub const DEFAULT_TABLE: &str = "raw_web_events_json";

const DDL: &str = include_str!("../ddl/raw_web_events_json.sql");

/// The archive table's definition, named `name` (the DDL's own name is [`DEFAULT_TABLE`]).
pub fn archive_table(name: &str) -> TableDef {
    static PARSED: OnceLock<TableDef> = OnceLock::new();
    let mut def = PARSED
        .get_or_init(|| {
            // Compiled in and parsed by a unit test: a failure is a build of broken DDL.
            TableDef::parse(DDL).unwrap_or_else(|e| panic!("hive/ddl/raw_web_events_json.sql: {e}"))
        })
        .clone();
    def.name = name.to_ascii_lowercase();
    def
}

/// The table's location for an archive rooted at `root` (a full URL,
/// `hdfs://host:port/raw/web_analytics`): the root itself.
pub fn archive_location(def: &TableDef, root: &str) -> String {
    def.location_template
        .replace("${ARCHIVE_ROOT}", root.trim_end_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ddl::{HiveType, StorageFormat};

    #[test]
    fn the_archive_ddl_is_text_partitioned_by_date() {
        let def = archive_table(DEFAULT_TABLE);
        assert_eq!(def.name, DEFAULT_TABLE);
        assert_eq!(def.format, StorageFormat::TextFile);
        let cols: Vec<_> = def
            .columns
            .iter()
            .map(|c| (&*c.name, c.hive_type))
            .collect();
        assert_eq!(cols, vec![("line", HiveType::String)]);
        assert_eq!(def.partition_keys[0].name, "date");
        assert!(def.comment.as_deref().unwrap().contains("'~b64:'"));
        assert_eq!(
            archive_location(&def, "hdfs://nn:9000/raw/web_analytics/"),
            "hdfs://nn:9000/raw/web_analytics"
        );
        assert_eq!(archive_table("Other_Name").name, "other_name");
    }
}
