//! Encoding record batches into one ORC file in memory, and reading one back, with orc-rust.

use arrow::datatypes::{DataType, SchemaRef};
use arrow::record_batch::RecordBatch;
use orc_rust::{ArrowReaderBuilder, ArrowWriterBuilder};

use crate::config::Compression;
use crate::HiveError;

/// Target stripe size: 64 MiB, orc-rust's and Hive's default (`hive.exec.orc.default.stripe.size`).
pub const DEFAULT_STRIPE_BYTES: usize = 64 * 1024 * 1024;

/// Deflate level of our ZLIB files: 2, the level Java ORC (Hive's and Spark's writer) uses
/// for data streams under its default `orc.compression.strategy=SPEED`. orc-rust's own
/// default, 6 (on miniz_oxide), spent half of the dataflow's CPU in deflate; level 2 on
/// flate2's zlib-rs backend (our build) encodes `raw_web_events` 3× faster into files of
/// the same size (docs/BENCHMARKS.md).
pub const ZLIB_LEVEL: i32 = 2;

/// Dictionary key threshold of our string columns: a stripe's strings are dictionary-encoded
/// (ORC `DICTIONARY_V2`) when its distinct values are at most this share of its values, and
/// written directly otherwise — Java ORC's default `orc.dictionary.key.threshold`. Low-cardinality
/// columns (`event_type`, `browser`, `os`, `country`, `page_url`, …) then hold each value once
/// per stripe plus a small integer per row, which makes files smaller and leaves less to
/// deflate; ids (`event_id`, `session_id`) fail the check after 10 000 values and stay direct.
pub const DICTIONARY_KEY_THRESHOLD: f64 = 0.8;

/// Encodes `batches` (all with schema `schema`) into one complete ORC file and returns its bytes,
/// with string columns dictionary-encoded per [`DICTIONARY_KEY_THRESHOLD`].
///
/// The whole file is built in memory: callers size their files (rows per file) accordingly.
/// Timestamps are written as ORC `TIMESTAMP` with writer time zone UTC (see [`crate::schema`]).
///
/// # Errors
/// [`HiveError::Orc`] when orc-rust refuses a batch (e.g. a type it cannot write).
pub fn encode(
    schema: SchemaRef,
    batches: &[RecordBatch],
    compression: Compression,
) -> Result<Vec<u8>, HiveError> {
    encode_with(schema, batches, compression, DICTIONARY_KEY_THRESHOLD)
}

/// [`encode`] with another dictionary key threshold (0 writes every string column directly,
/// as files before dictionaries were); for comparisons such as the `orc_encode` benchmark.
///
/// # Errors
/// As [`encode`].
pub fn encode_with(
    schema: SchemaRef,
    batches: &[RecordBatch],
    compression: Compression,
    dictionary_key_threshold: f64,
) -> Result<Vec<u8>, HiveError> {
    let orc = |e: orc_rust::error::OrcError| HiveError::Orc(e.to_string());
    let mut out = Vec::new();
    let mut builder = ArrowWriterBuilder::new(&mut out, schema)
        .with_stripe_byte_size(DEFAULT_STRIPE_BYTES)
        .with_dictionary_key_threshold(dictionary_key_threshold);
    if let Some(codec) = compression.to_orc() {
        builder = builder.with_compression(codec);
    }
    if compression == Compression::Zlib {
        builder = builder.with_compression_level(ZLIB_LEVEL);
    }
    let mut writer = builder.try_build().map_err(orc)?;
    for batch in batches {
        writer.write(batch).map_err(orc)?;
    }
    writer.close().map_err(orc)?;
    Ok(out)
}

/// Reads one whole ORC file (its bytes, as [`encode`] makes them) back as record batches
/// labelled with `schema`, the schema the file was written with (a table's
/// [`crate::Table::arrow_schema`]).
///
/// orc-rust reads ORC `TIMESTAMP` columns as nanoseconds; they are cast back to `schema`'s
/// type (milliseconds, see [`crate::schema`]), so a batch reads back equal to the one written.
///
/// # Errors
/// [`HiveError::Orc`] when the bytes are not an ORC file orc-rust can read;
/// [`HiveError::SchemaMismatch`] when the file's columns are not `schema`'s.
pub fn decode(schema: &SchemaRef, bytes: bytes::Bytes) -> Result<Vec<RecordBatch>, HiveError> {
    let orc = |e: orc_rust::error::OrcError| HiveError::Orc(e.to_string());
    let reader = ArrowReaderBuilder::try_new(bytes).map_err(orc)?.build();
    let mut out = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| HiveError::Orc(e.to_string()))?;
        if batch.num_columns() != schema.fields().len() {
            return Err(HiveError::SchemaMismatch {
                table: String::new(),
                detail: format!(
                    "file has {} columns, the schema {}",
                    batch.num_columns(),
                    schema.fields().len()
                ),
            });
        }
        let mut columns = Vec::with_capacity(batch.num_columns());
        for (column, field) in batch.columns().iter().zip(schema.fields()) {
            let column = match (column.data_type(), field.data_type()) {
                (DataType::Timestamp(_, _), want @ DataType::Timestamp(_, _))
                    if column.data_type() != want =>
                {
                    arrow::compute::cast(column, want)
                        .map_err(|e| HiveError::Orc(format!("column {}: {e}", field.name())))?
                }
                _ => column.clone(),
            };
            columns.push(column);
        }
        let batch = RecordBatch::try_new(schema.clone(), columns).map_err(|e| {
            HiveError::SchemaMismatch {
                table: String::new(),
                detail: e.to_string(),
            }
        })?;
        out.push(batch);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{
        Array, BinaryArray, BooleanArray, Int32Array, Int64Array, StringArray,
        TimestampMillisecondArray,
    };
    use arrow::datatypes::DataType;
    use bytes::Bytes;
    use orc_rust::ArrowReaderBuilder;

    use super::*;
    use crate::Table;

    fn rejected_batch() -> RecordBatch {
        let ts = |v: Vec<Option<i64>>| Arc::new(TimestampMillisecondArray::from(v));
        RecordBatch::try_new(
            Table::RejectedWebEvents.arrow_schema(),
            vec![
                Arc::new(BinaryArray::from_opt_vec(vec![
                    Some(b"{\xff}".as_slice()),
                    None,
                ])),
                Arc::new(StringArray::from(vec![
                    Some("invalid_utf8"),
                    Some("not_json"),
                ])),
                Arc::new(StringArray::from(vec![
                    None,
                    Some("expected value at line 1"),
                ])),
                Arc::new(StringArray::from(vec!["web_analytics", "web_analytics"])),
                Arc::new(Int32Array::from(vec![Some(3), None])),
                Arc::new(Int64Array::from(vec![Some(i64::MAX), Some(-1)])),
                ts(vec![Some(1_796_083_199_999), None]),
                ts(vec![Some(-86_400_001), Some(0)]),
            ],
        )
        .unwrap()
    }

    /// A `sessions` batch: the one table with a `BOOLEAN` column (true, false and null).
    fn sessions_batch() -> RecordBatch {
        let ts = |v: Vec<Option<i64>>| Arc::new(TimestampMillisecondArray::from(v));
        let text = |v: Vec<Option<&str>>| Arc::new(StringArray::from(v));
        let n = |v: Vec<Option<i64>>| Arc::new(Int64Array::from(v));
        RecordBatch::try_new(
            Table::Sessions.arrow_schema(),
            vec![
                text(vec![Some("s-1"), Some("s-2"), Some("s-3")]),
                text(vec![Some("u-1"), Some("u-2"), None]),
                ts(vec![Some(1_796_083_190_000), Some(0), None]),
                ts(vec![Some(1_796_083_199_999), Some(0), None]),
                n(vec![Some(9_999), Some(0), None]),
                n(vec![Some(3), Some(1), None]),
                n(vec![Some(1), Some(0), None]),
                text(vec![Some("/"), Some("/p/Zürich"), None]),
                text(vec![Some("/checkout"), Some("/p/Zürich"), None]),
                Arc::new(BooleanArray::from(vec![Some(false), Some(true), None])),
                text(vec![Some("Firefox"), None, None]),
                text(vec![Some("Linux"), None, None]),
                text(vec![Some("DE"), None, None]),
            ],
        )
        .unwrap()
    }

    #[test]
    fn refuses_fractions_of_the_last_second_before_1970() {
        // ORC-763: 1969-12-31T23:59:59.001..999 cannot be stored without changing on read.
        let batch = RecordBatch::try_new(
            Table::RawWebEvents
                .arrow_schema()
                .project(&[8])
                .map(Arc::new)
                .unwrap(),
            vec![Arc::new(TimestampMillisecondArray::from(vec![-1]))],
        )
        .unwrap();
        let err = encode(batch.schema(), &[batch], Compression::Zlib).unwrap_err();
        assert!(matches!(err, HiveError::Orc(_)), "{err}");
    }

    #[test]
    fn round_trips_every_column_type_through_orc_rust() {
        let cases = [Compression::Zlib, Compression::Snappy, Compression::None]
            .into_iter()
            .flat_map(|c| [(c, rejected_batch()), (c, sessions_batch())]);
        for (compression, batch) in cases {
            let bytes =
                encode(batch.schema(), &[batch.clone(), batch.clone()], compression).unwrap();
            assert_eq!(&bytes[..3], b"ORC");
            let reader = ArrowReaderBuilder::try_new(Bytes::from(bytes))
                .unwrap()
                .build();
            let read: Vec<RecordBatch> = reader.collect::<Result<_, _>>().unwrap();
            let rows: usize = read.iter().map(RecordBatch::num_rows).sum();
            assert_eq!(rows, 2 * batch.num_rows(), "{compression:?}");
            let decoded = decode(
                &batch.schema(),
                Bytes::from(
                    encode(batch.schema(), std::slice::from_ref(&batch), compression).unwrap(),
                ),
            )
            .unwrap();
            assert_eq!(decoded, vec![batch.clone()], "decode, {compression:?}");
            let first = &read[0];
            for (i, col) in batch.columns().iter().enumerate() {
                let got = first.column(i).slice(0, batch.num_rows());
                // orc-rust reads timestamps back in nanoseconds; compare them in milliseconds.
                let got = match col.data_type() {
                    DataType::Timestamp(_, _) => {
                        arrow::compute::cast(&got, col.data_type()).unwrap()
                    }
                    _ => got,
                };
                assert_eq!(got.to_data(), col.to_data(), "column {i}, {compression:?}");
            }
        }
    }
}
