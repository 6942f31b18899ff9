//! Arrow schemas derived from the DDL, and the check that a batch fits one.
//!
//! | Hive type   | Arrow type                          | ORC type                      |
//! |-------------|-------------------------------------|-------------------------------|
//! | `STRING`    | `Utf8`                              | `STRING`                      |
//! | `BIGINT`    | `Int64`                             | `LONG`                        |
//! | `INT`       | `Int32`                             | `INT`                         |
//! | `BOOLEAN`   | `Boolean`                           | `BOOLEAN`                     |
//! | `TIMESTAMP` | `Timestamp(Millisecond, None)`      | `TIMESTAMP`, writer zone UTC  |
//! | `BINARY`    | `Binary`                            | `BINARY`                      |
//!
//! Timestamps: an Arrow timestamp without a zone holds UTC epoch milliseconds, and orc-rust
//! writes it as an ORC `TIMESTAMP` whose stripes name `UTC` as the writer's time zone. ORC
//! `TIMESTAMP` is wall-clock (local date-time) semantics: a reader in any JVM zone shifts the
//! stored value by the difference between the writer's zone and its own, so the value it shows
//! is the UTC wall-clock time we wrote, whatever its zone. (An Arrow timestamp *with* zone `UTC`
//! would become ORC `TIMESTAMP_INSTANT`, which Hive 2.3's reader does not know.) One instant
//! cannot be written: a time in the last second before 1970 with a fraction of a second (ORC-763;
//! orc-rust refuses it with an error rather than store a value that reads back changed).

use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use arrow::record_batch::RecordBatch;

use crate::ddl::{HiveType, TableDef};
use crate::HiveError;

/// The Arrow type our writer uses for a Hive column type (table in the module docs).
pub fn arrow_type(hive_type: HiveType) -> DataType {
    match hive_type {
        HiveType::String => DataType::Utf8,
        HiveType::Bigint => DataType::Int64,
        HiveType::Int => DataType::Int32,
        HiveType::Boolean => DataType::Boolean,
        HiveType::Timestamp => DataType::Timestamp(TimeUnit::Millisecond, None),
        HiveType::Binary => DataType::Binary,
    }
}

/// The Arrow schema of a table's files: its data columns in DDL order, all nullable (Hive 2.3
/// has no NOT NULL), without the partition column.
pub fn arrow_schema(def: &TableDef) -> Schema {
    Schema::new(
        def.columns
            .iter()
            .map(|c| Field::new(&c.name, arrow_type(c.hive_type), true))
            .collect::<Vec<_>>(),
    )
}

/// Checks that `batch` has exactly the columns of `schema` (names and types, in order;
/// nullability and metadata are not compared) and returns it re-labelled with `schema`, as the
/// ORC writer wants every batch to carry the file's schema.
///
/// # Errors
/// [`HiveError::SchemaMismatch`] naming the first column that differs.
pub fn conform(
    table: &str,
    schema: &arrow::datatypes::SchemaRef,
    batch: &RecordBatch,
) -> Result<RecordBatch, HiveError> {
    let got = batch.schema();
    let mismatch = |detail: String| HiveError::SchemaMismatch {
        table: table.to_string(),
        detail,
    };
    if got.fields().len() != schema.fields().len() {
        return Err(mismatch(format!(
            "batch has {} columns, the table {}",
            got.fields().len(),
            schema.fields().len()
        )));
    }
    for (i, (g, w)) in got.fields().iter().zip(schema.fields()).enumerate() {
        if g.name() != w.name() || g.data_type() != w.data_type() {
            return Err(mismatch(format!(
                "column {i} is `{}: {}`, the table has `{}: {}`",
                g.name(),
                g.data_type(),
                w.name(),
                w.data_type()
            )));
        }
    }
    RecordBatch::try_new(schema.clone(), batch.columns().to_vec())
        .map_err(|e| mismatch(e.to_string()))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{BooleanArray, Int64Array, StringArray};

    use super::*;
    use crate::Table;

    #[test]
    fn page_analytics_schema_follows_the_ddl() {
        let schema = Table::PageAnalytics.arrow_schema();
        let got: Vec<_> = schema
            .fields()
            .iter()
            .map(|f| (f.name().as_str(), f.data_type().clone()))
            .collect();
        let ts = DataType::Timestamp(TimeUnit::Millisecond, None);
        assert_eq!(
            got,
            vec![
                ("page_url", DataType::Utf8),
                ("event_type", DataType::Utf8),
                ("event_count", DataType::Int64),
                ("window_start", ts.clone()),
                ("window_end", ts),
            ]
        );
        assert!(schema.fields().iter().all(|f| f.is_nullable()));
    }

    #[test]
    fn sessions_schema_has_a_boolean_column() {
        let schema = Table::Sessions.arrow_schema();
        let is_bounce = schema.field_with_name("is_bounce").unwrap();
        assert_eq!(is_bounce.data_type(), &DataType::Boolean);
        assert!(is_bounce.is_nullable());
        assert_eq!(arrow_type(HiveType::Boolean), DataType::Boolean);
    }

    #[test]
    fn conform_accepts_same_columns_and_names_the_first_difference() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("a", DataType::Utf8, true),
            Field::new("n", DataType::Int64, true),
        ]));
        let strict = Arc::new(Schema::new(vec![
            Field::new("a", DataType::Utf8, false),
            Field::new("n", DataType::Int64, false),
        ]));
        let batch = RecordBatch::try_new(
            strict,
            vec![
                Arc::new(StringArray::from(vec!["x"])),
                Arc::new(Int64Array::from(vec![1])),
            ],
        )
        .unwrap();
        let out = conform("t", &schema, &batch).unwrap();
        assert_eq!(out.schema(), schema);
        assert_eq!(out.num_rows(), 1);

        let renamed = Arc::new(Schema::new(vec![
            Field::new("a", DataType::Utf8, true),
            Field::new("m", DataType::Int64, true),
        ]));
        let other = RecordBatch::try_new(renamed, batch.columns().to_vec()).unwrap();
        let err = conform("t", &schema, &other).unwrap_err().to_string();
        assert!(err.contains("column 1 is `m: Int64`"), "{err}");

        // A flag sent as an integer is not a BOOLEAN column.
        let flags = Arc::new(Schema::new(vec![Field::new("b", DataType::Boolean, true)]));
        let as_int = RecordBatch::try_new(
            Arc::new(Schema::new(vec![Field::new("b", DataType::Int64, true)])),
            vec![Arc::new(Int64Array::from(vec![1]))],
        )
        .unwrap();
        let err = conform("t", &flags, &as_int).unwrap_err().to_string();
        assert!(
            err.contains("column 0 is `b: Int64`, the table has `b: Boolean`"),
            "{err}"
        );
        let as_bool = RecordBatch::try_new(
            Arc::new(Schema::new(vec![Field::new("b", DataType::Boolean, false)])),
            vec![Arc::new(BooleanArray::from(vec![Some(true)]))],
        )
        .unwrap();
        assert_eq!(conform("t", &flags, &as_bool).unwrap().schema(), flags);
    }
}
