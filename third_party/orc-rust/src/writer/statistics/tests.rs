// Licensed to the Apache Software Foundation (ASF) under one
// or more contributor license agreements.  See the NOTICE file
// distributed with this work for additional information
// regarding copyright ownership.  The ASF licenses this file
// to you under the Apache License, Version 2.0 (the
// "License"); you may not use this file except in compliance
// with the License.  You may obtain a copy of the License at
//
//   http://www.apache.org/licenses/LICENSE-2.0
//
// Unless required by applicable law or agreed to in writing,
// software distributed under the License is distributed on an
// "AS IS" BASIS, WITHOUT WARRANTIES OR CONDITIONS OF ANY
// KIND, either express or implied.  See the License for the
// specific language governing permissions and limitations
// under the License.

//! Statistics as written to files: each test writes arrays, one stripe each,
//! reads the footer and metadata section back and compares every field.

use std::{io::Read, sync::Arc};

use arrow::{
    array::{
        ArrayRef, BinaryArray, BooleanArray, Date32Array, Float32Array, Float64Array, Int64Array,
        LargeBinaryArray, LargeStringArray, RecordBatch, StringArray, TimestampMicrosecondArray,
        TimestampMillisecondArray, TimestampNanosecondArray, TimestampSecondArray,
    },
    compute::{cast, concat_batches},
    datatypes::{DataType as ArrowDataType, Field, Schema},
};
use bytes::Bytes;
use prost::Message;

use super::{truncate_lower_bound, truncate_upper_bound};
use crate::{
    compression::{Compression, CompressionType, Decompressor},
    proto,
    statistics::TypeStatistics,
    ArrowReaderBuilder, ArrowWriterBuilder,
};

/// Write each batch as its own stripe.
fn write_stripes(batches: &[RecordBatch], compression: Option<CompressionType>) -> Bytes {
    let mut file = vec![];
    let mut builder = ArrowWriterBuilder::new(&mut file, batches[0].schema());
    if let Some(compression) = compression {
        builder = builder.with_compression(compression);
    }
    let mut writer = builder.try_build().unwrap();
    for batch in batches {
        writer.write(batch).unwrap();
        writer.flush_stripe().unwrap();
    }
    writer.close().unwrap();
    Bytes::from(file)
}

/// The footer and the metadata section of an ORC file.
fn read_tail(file: &Bytes) -> (proto::Footer, proto::Metadata) {
    let postscript_length = file[file.len() - 1] as usize;
    let postscript_start = file.len() - 1 - postscript_length;
    let postscript = proto::PostScript::decode(&file[postscript_start..file.len() - 1]).unwrap();
    let compression =
        Compression::from_proto(postscript.compression(), postscript.compression_block_size);
    let footer_start = postscript_start - postscript.footer_length() as usize;
    let metadata_start = footer_start - postscript.metadata_length() as usize;
    let decompress = |start: usize, end: usize| {
        let mut bytes = vec![];
        Decompressor::new(file.slice(start..end), compression, vec![])
            .read_to_end(&mut bytes)
            .unwrap();
        bytes
    };
    let footer = proto::Footer::decode(decompress(footer_start, postscript_start).as_slice());
    let metadata = proto::Metadata::decode(decompress(metadata_start, footer_start).as_slice());
    (footer.unwrap(), metadata.unwrap())
}

/// Write `stripes` of one column named "c" and return its file statistics and
/// its statistics per stripe, after checking those of the root struct.
fn write_column(stripes: &[ArrayRef]) -> (proto::ColumnStatistics, Vec<proto::ColumnStatistics>) {
    let schema = Arc::new(Schema::new(vec![Field::new(
        "c",
        stripes[0].data_type().clone(),
        true,
    )]));
    let batches = stripes
        .iter()
        .map(|array| RecordBatch::try_new(schema.clone(), vec![array.clone()]).unwrap())
        .collect::<Vec<_>>();
    let (footer, metadata) = read_tail(&write_stripes(&batches, None));

    let rows = stripes.iter().map(|array| array.len() as u64).sum::<u64>();
    assert_eq!(footer.number_of_rows, Some(rows));
    assert_eq!(footer.statistics.len(), 2);
    assert_eq!(footer.statistics[0], counts(rows, false));
    assert_eq!(metadata.stripe_stats.len(), stripes.len());
    for (stripe, array) in metadata.stripe_stats.iter().zip(stripes) {
        assert_eq!(stripe.col_stats.len(), 2);
        assert_eq!(stripe.col_stats[0], counts(array.len() as u64, false));
    }
    let stripe_statistics = metadata
        .stripe_stats
        .iter()
        .map(|stripe| stripe.col_stats[1].clone())
        .collect();
    (footer.statistics[1].clone(), stripe_statistics)
}

/// Statistics with only the counts set.
fn counts(number_of_values: u64, has_null: bool) -> proto::ColumnStatistics {
    proto::ColumnStatistics {
        number_of_values: Some(number_of_values),
        has_null: Some(has_null),
        ..Default::default()
    }
}

fn integers(
    number_of_values: u64,
    has_null: bool,
    min: i64,
    max: i64,
    sum: Option<i64>,
) -> proto::ColumnStatistics {
    proto::ColumnStatistics {
        int_statistics: Some(proto::IntegerStatistics {
            minimum: Some(min),
            maximum: Some(max),
            sum,
        }),
        ..counts(number_of_values, has_null)
    }
}

#[test]
fn integer_statistics_for_every_width() {
    let first: ArrayRef = Arc::new(Int64Array::from(vec![Some(-7), None, Some(12), Some(3)]));
    let second: ArrayRef = Arc::new(Int64Array::from(vec![100, -50]));
    for data_type in [
        ArrowDataType::Int8,
        ArrowDataType::Int16,
        ArrowDataType::Int32,
        ArrowDataType::Int64,
    ] {
        let stripes = [
            cast(&first, &data_type).unwrap(),
            cast(&second, &data_type).unwrap(),
        ];
        let (file, stripes) = write_column(&stripes);
        assert_eq!(
            stripes[0],
            integers(3, true, -7, 12, Some(8)),
            "{data_type}"
        );
        assert_eq!(
            stripes[1],
            integers(2, false, -50, 100, Some(50)),
            "{data_type}"
        );
        assert_eq!(file, integers(5, true, -50, 100, Some(58)), "{data_type}");
    }
}

#[test]
fn integer_sum_is_left_out_when_it_overflows() {
    let (file, stripes) = write_column(&[
        Arc::new(Int64Array::from(vec![i64::MAX, 1])),
        Arc::new(Int64Array::from(vec![i64::MIN, -1])),
        Arc::new(Int64Array::from(vec![-1])),
    ]);
    assert_eq!(stripes[0], integers(2, false, 1, i64::MAX, None));
    assert_eq!(stripes[1], integers(2, false, i64::MIN, -1, None));
    assert_eq!(stripes[2], integers(1, false, -1, -1, Some(-1)));
    // The file's sum is exact: MAX + 1 + MIN - 1 - 1 = -2.
    assert_eq!(file, integers(5, false, i64::MIN, i64::MAX, Some(-2)));
}

#[test]
fn all_null_column_has_counts_but_no_range() {
    let (file, stripes) = write_column(&[Arc::new(Int64Array::from(vec![None, None]))]);
    let expected = proto::ColumnStatistics {
        int_statistics: Some(proto::IntegerStatistics {
            minimum: None,
            maximum: None,
            sum: Some(0),
        }),
        ..counts(0, true)
    };
    assert_eq!(stripes, vec![expected.clone()]);
    assert_eq!(file, expected);
}

fn doubles(
    number_of_values: u64,
    has_null: bool,
    range: Option<(f64, f64)>,
    sum: f64,
) -> proto::ColumnStatistics {
    proto::ColumnStatistics {
        double_statistics: Some(proto::DoubleStatistics {
            minimum: range.map(|(min, _)| min),
            maximum: range.map(|(_, max)| max),
            sum: Some(sum),
        }),
        ..counts(number_of_values, has_null)
    }
}

#[test]
fn double_statistics_for_float_and_double() {
    let first = vec![Some(1.5), None, Some(-2.25), Some(10.0)];
    let second = vec![Some(0.5)];
    let (file, stripes) = write_column(&[
        Arc::new(Float64Array::from(first.clone())),
        Arc::new(Float64Array::from(second.clone())),
    ]);
    assert_eq!(stripes[0], doubles(3, true, Some((-2.25, 10.0)), 9.25));
    assert_eq!(stripes[1], doubles(1, false, Some((0.5, 0.5)), 0.5));
    assert_eq!(file, doubles(4, true, Some((-2.25, 10.0)), 9.75));

    let to_f32 = |values: Vec<Option<f64>>| {
        Arc::new(Float32Array::from(
            values
                .into_iter()
                .map(|value| value.map(|value| value as f32))
                .collect::<Vec<_>>(),
        )) as ArrayRef
    };
    let (file, _) = write_column(&[to_f32(first), to_f32(second)]);
    assert_eq!(file, doubles(4, true, Some((-2.25, 10.0)), 9.75));
}

#[test]
fn nan_is_out_of_the_range_and_makes_the_sum_nan() {
    let (file, stripes) = write_column(&[
        Arc::new(Float64Array::from(vec![f64::NAN, 1.0, -1.0])),
        Arc::new(Float64Array::from(vec![f64::NAN])),
    ]);
    for statistics in [&stripes[0], &file] {
        let doubles = statistics.double_statistics.as_ref().unwrap();
        assert_eq!((doubles.minimum, doubles.maximum), (Some(-1.0), Some(1.0)));
        assert!(doubles.sum.unwrap().is_nan());
    }
    let doubles = stripes[1].double_statistics.as_ref().unwrap();
    assert_eq!((doubles.minimum, doubles.maximum), (None, None));
    assert!(doubles.sum.unwrap().is_nan());
    assert_eq!(file.number_of_values, Some(4));
}

fn strings(
    number_of_values: u64,
    has_null: bool,
    min: &str,
    max: &str,
    sum: i64,
) -> proto::ColumnStatistics {
    proto::ColumnStatistics {
        string_statistics: Some(proto::StringStatistics {
            minimum: Some(min.to_owned()),
            maximum: Some(max.to_owned()),
            sum: Some(sum),
            lower_bound: None,
            upper_bound: None,
        }),
        ..counts(number_of_values, has_null)
    }
}

#[test]
fn string_statistics_for_utf8_and_large_utf8() {
    // "é" is two bytes in UTF-8 and sorts after every ASCII string.
    let first = vec![Some("banana"), None, Some("apple"), Some("é"), Some("")];
    let second = vec![Some("cherry")];
    let (file, stripes) = write_column(&[
        Arc::new(StringArray::from(first.clone())),
        Arc::new(StringArray::from(second.clone())),
    ]);
    assert_eq!(stripes[0], strings(4, true, "", "é", 13));
    assert_eq!(stripes[1], strings(1, false, "cherry", "cherry", 6));
    assert_eq!(file, strings(5, true, "", "é", 19));

    let (file, _) = write_column(&[
        Arc::new(LargeStringArray::from(first)),
        Arc::new(LargeStringArray::from(second)),
    ]);
    assert_eq!(file, strings(5, true, "", "é", 19));
}

#[test]
fn long_string_bounds_are_truncated() {
    let min = "a".repeat(1500);
    // 1 + 2 * 600 = 1201 bytes; the longest prefix within 1024 bytes that
    // ends on a character boundary is "z" and 511 "é" (1023 bytes).
    let max = format!("z{}", "é".repeat(600));
    let (file, stripes) = write_column(&[
        Arc::new(StringArray::from(vec![min.as_str(), max.as_str()])),
        Arc::new(StringArray::from(vec!["m"])),
    ]);
    let expected = |number_of_values, sum| proto::ColumnStatistics {
        string_statistics: Some(proto::StringStatistics {
            minimum: None,
            maximum: None,
            sum: Some(sum),
            lower_bound: Some("a".repeat(1024)),
            upper_bound: Some(format!("z{}ê", "é".repeat(510))),
        }),
        ..counts(number_of_values, false)
    };
    assert_eq!(stripes[0], expected(2, 2701));
    assert_eq!(stripes[1], strings(1, false, "m", "m", 1));
    assert_eq!(file, expected(3, 2702));
}

#[test]
fn truncated_bounds_stay_within_1024_bytes_and_on_characters() {
    assert_eq!(truncate_lower_bound("short"), "short");
    let value = format!("{}{}", "x".repeat(1023), "€".repeat(2));
    assert_eq!(truncate_lower_bound(&value), "x".repeat(1023));
    // The last "x" becomes "y".
    assert_eq!(
        truncate_upper_bound(&value),
        Some(format!("{}y", "x".repeat(1022)))
    );
    // Characters that cannot be incremented are dropped; the surrogate range
    // is skipped.
    let value = format!(
        "{}\u{D7FF}{}",
        "a".repeat(1000),
        char::MAX.to_string().repeat(300)
    );
    assert_eq!(
        truncate_upper_bound(&value),
        Some(format!("{}\u{E000}", "a".repeat(1000)))
    );
    assert_eq!(
        truncate_upper_bound(&char::MAX.to_string().repeat(300)),
        None
    );
    // An increment that needs one more byte than the limit leaves moves on to
    // the previous character: "\u{7F}" + 1 takes two bytes.
    let value = format!("{}\u{7F}{}", "a".repeat(1023), "a".repeat(10));
    assert_eq!(
        truncate_upper_bound(&value),
        Some(format!("{}b", "a".repeat(1022)))
    );
}

#[test]
fn binary_statistics_sum_the_lengths() {
    let first: Vec<Option<&[u8]>> = vec![Some(b"ab"), None, Some(b""), Some(b"xyz")];
    let second: Vec<Option<&[u8]>> = vec![Some(b"1234")];
    let binary = |number_of_values, has_null, sum| proto::ColumnStatistics {
        binary_statistics: Some(proto::BinaryStatistics { sum: Some(sum) }),
        ..counts(number_of_values, has_null)
    };
    let (file, stripes) = write_column(&[
        Arc::new(BinaryArray::from(first.clone())),
        Arc::new(BinaryArray::from(second.clone())),
    ]);
    assert_eq!(stripes, vec![binary(3, true, 5), binary(1, false, 4)]);
    assert_eq!(file, binary(4, true, 9));

    let (file, _) = write_column(&[
        Arc::new(LargeBinaryArray::from(first)),
        Arc::new(LargeBinaryArray::from(second)),
    ]);
    assert_eq!(file, binary(4, true, 9));
}

#[test]
fn boolean_statistics_count_the_true_values() {
    let booleans = |number_of_values, has_null, true_count| proto::ColumnStatistics {
        bucket_statistics: Some(proto::BucketStatistics {
            count: vec![true_count],
        }),
        ..counts(number_of_values, has_null)
    };
    let (file, stripes) = write_column(&[
        Arc::new(BooleanArray::from(vec![
            Some(true),
            None,
            Some(false),
            Some(true),
        ])),
        Arc::new(BooleanArray::from(vec![true, false])),
    ]);
    assert_eq!(stripes, vec![booleans(3, true, 2), booleans(2, false, 1)]);
    assert_eq!(file, booleans(5, true, 3));
}

#[test]
fn date_statistics_in_days() {
    let dates = |number_of_values, has_null, min, max| proto::ColumnStatistics {
        date_statistics: Some(proto::DateStatistics {
            minimum: Some(min),
            maximum: Some(max),
        }),
        ..counts(number_of_values, has_null)
    };
    let (file, stripes) = write_column(&[
        Arc::new(Date32Array::from(vec![Some(19_000), None, Some(-1)])),
        Arc::new(Date32Array::from(vec![20_000])),
    ]);
    assert_eq!(
        stripes,
        vec![dates(2, true, -1, 19_000), dates(1, false, 20_000, 20_000)]
    );
    assert_eq!(file, dates(3, true, -1, 20_000));
}

/// Timestamp statistics: minimum and maximum UTC milliseconds, and the
/// nanoseconds below the millisecond plus one, as the ORC Java writer does.
fn timestamps(
    number_of_values: u64,
    has_null: bool,
    (min, min_nanos): (i64, Option<i32>),
    (max, max_nanos): (i64, Option<i32>),
) -> proto::ColumnStatistics {
    proto::ColumnStatistics {
        timestamp_statistics: Some(proto::TimestampStatistics {
            minimum: None,
            maximum: None,
            minimum_utc: Some(min),
            maximum_utc: Some(max),
            minimum_nanos: min_nanos,
            maximum_nanos: max_nanos,
        }),
        ..counts(number_of_values, has_null)
    }
}

#[test]
fn timestamp_statistics_for_every_unit_with_and_without_time_zone() {
    for timezone in [None, Some("UTC")] {
        // Whole milliseconds: the minimum's nanoseconds are at their default
        // (0) and left out, the maximum's are not (999,999 is the default).
        let (file, stripes) = write_column(&[
            Arc::new(
                TimestampMillisecondArray::from(vec![Some(1_700_000_000_000), None, Some(-1_500)])
                    .with_timezone_opt(timezone),
            ),
            Arc::new(TimestampMillisecondArray::from(vec![0]).with_timezone_opt(timezone)),
        ]);
        let expected = timestamps(2, true, (-1_500, None), (1_700_000_000_000, Some(1)));
        assert_eq!(stripes[0], expected);
        assert_eq!(stripes[1], timestamps(1, false, (0, None), (0, Some(1))));
        assert_eq!(
            file,
            timestamps(3, true, (-1_500, None), (1_700_000_000_000, Some(1)))
        );

        let (file, _) = write_column(&[Arc::new(
            TimestampSecondArray::from(vec![0, 86_400]).with_timezone_opt(timezone),
        )]);
        assert_eq!(file, timestamps(2, false, (0, None), (86_400_000, Some(1))));

        let (file, _) = write_column(&[Arc::new(
            TimestampMicrosecondArray::from(vec![1, 2_000_001]).with_timezone_opt(timezone),
        )]);
        assert_eq!(
            file,
            timestamps(2, false, (0, Some(1_001)), (2_000, Some(1_001)))
        );

        // Before the epoch the milliseconds round down: 1,000,000,001ns before
        // it is 1,001ms before plus 999,999ns. (The writer cannot encode the
        // second just before the epoch with sub-millisecond digits, ORC-763.)
        let (file, _) = write_column(&[Arc::new(
            TimestampNanosecondArray::from(vec![
                Some(1_700_000_000_123_456_789),
                None,
                Some(-1_000_000_001),
            ])
            .with_timezone_opt(timezone),
        )]);
        assert_eq!(
            file,
            timestamps(
                2,
                true,
                (-1_001, Some(1_000_000)),
                (1_700_000_000_123, Some(456_790))
            )
        );
    }
}

#[test]
fn empty_file_has_empty_statistics_for_every_column() {
    let schema = Arc::new(Schema::new(vec![
        Field::new("i", ArrowDataType::Int64, true),
        Field::new("s", ArrowDataType::Utf8, true),
    ]));
    let mut file = vec![];
    ArrowWriterBuilder::new(&mut file, schema)
        .try_build()
        .unwrap()
        .close()
        .unwrap();
    let (footer, metadata) = read_tail(&Bytes::from(file));
    assert_eq!(footer.number_of_rows, Some(0));
    assert_eq!(
        footer.statistics,
        vec![
            counts(0, false),
            proto::ColumnStatistics {
                int_statistics: Some(proto::IntegerStatistics {
                    minimum: None,
                    maximum: None,
                    sum: Some(0),
                }),
                ..counts(0, false)
            },
            proto::ColumnStatistics {
                string_statistics: Some(proto::StringStatistics {
                    sum: Some(0),
                    ..Default::default()
                }),
                ..counts(0, false)
            },
        ]
    );
    assert!(metadata.stripe_stats.is_empty());
}

/// The crate's own reader sees the statistics of a compressed file with
/// several columns and stripes, and the values read back unchanged.
#[test]
fn reader_sees_statistics_of_compressed_files() {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", ArrowDataType::Int64, false),
        Field::new("url", ArrowDataType::Utf8, true),
    ]));
    let batches = [
        RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Int64Array::from(vec![1, 2, 3])),
                Arc::new(StringArray::from(vec![Some("/b"), None, Some("/a")])),
            ],
        )
        .unwrap(),
        RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Int64Array::from(vec![4])),
                Arc::new(StringArray::from(vec!["/c"])),
            ],
        )
        .unwrap(),
    ];
    for compression in [CompressionType::Zlib, CompressionType::Snappy] {
        let file = write_stripes(&batches, Some(compression));
        let builder = ArrowReaderBuilder::try_new(file).unwrap();
        let metadata = builder.file_metadata();

        let file_statistics = metadata.column_file_statistics();
        assert_eq!(file_statistics.len(), 3);
        assert_eq!(file_statistics[0].number_of_values(), 4);
        assert!(matches!(
            file_statistics[1].type_statistics(),
            Some(TypeStatistics::Integer {
                min: 1,
                max: 4,
                sum: Some(10)
            })
        ));
        assert_eq!(file_statistics[2].number_of_values(), 3);
        assert!(file_statistics[2].has_null());
        assert!(matches!(
            file_statistics[2].type_statistics(),
            Some(TypeStatistics::String { lower_bound, upper_bound, sum: 6, is_exact_min: true, is_exact_max: true })
                if lower_bound == "/a" && upper_bound == "/c"
        ));

        let stripes = metadata.stripe_metadatas();
        assert_eq!(stripes.len(), 2);
        assert_eq!(stripes[0].column_statistics()[0].number_of_values(), 3);
        assert_eq!(stripes[1].column_statistics()[1].number_of_values(), 1);
        assert!(!stripes[1].column_statistics()[2].has_null());

        let rows = builder.build().collect::<Result<Vec<_>, _>>().unwrap();
        assert_eq!(
            concat_batches(&schema, &rows).unwrap(),
            concat_batches(&schema, &batches).unwrap()
        );
    }
}
