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

//! Column statistics gathered while writing.
//!
//! An ORC file describes every column, the root struct (column 0) included,
//! with statistics in the file footer and again per stripe in the metadata
//! section. Readers depend on them beyond predicate push-down: Hive's
//! `OrcInputFormat` sizes its splits from the file statistics
//! (`getRawDataSizeOfColumns`) and fails on a file that has none.
//!
//! What is recorded follows Apache ORC's Java writer, so that its readers
//! interpret the values as they would their own:
//!
//! - every column: the number of non-null values and whether any was null;
//! - integers (tinyint to bigint): minimum, maximum and sum, the sum left out
//!   when it does not fit a signed 64-bit integer;
//! - float and double: minimum and maximum of the values that are not NaN,
//!   and their sum; a NaN makes the sum NaN, which tells readers not to prune
//!   on the column;
//! - strings: minimum, maximum and the total length in bytes; a minimum or
//!   maximum longer than 1024 bytes is recorded as a truncated lower or upper
//!   bound instead (ORC-203);
//! - binary: the total length in bytes;
//! - boolean: the number of `true` values, as the only bucket count;
//! - date: minimum and maximum, in days since the Unix epoch;
//! - timestamp: minimum and maximum in milliseconds since the Unix epoch in
//!   `minimumUtc`/`maximumUtc` (ORC-135), with the nanoseconds below the
//!   millisecond in `minimumNanos`/`maximumNanos`, stored plus one and left out
//!   at their defaults (0 for the minimum, 999,999 for the maximum).

use arrow::{
    array::{Array, AsArray, PrimitiveArray},
    datatypes::{
        ArrowPrimitiveType, ArrowTimestampType, DataType as ArrowDataType, Date32Type, Float32Type,
        Float64Type, Int16Type, Int32Type, Int64Type, Int8Type, Schema, TimeUnit,
        TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
        TimestampSecondType,
    },
};

use crate::proto;

/// Longest string minimum or maximum, in bytes, that is recorded exactly;
/// longer ones are recorded as a truncated lower or upper bound.
const MAX_STRING_STATISTICS_BYTES: usize = 1024;

const NANOSECONDS_PER_MILLISECOND: i128 = 1_000_000;

/// Statistics of one column, accumulated over the values written to a stripe,
/// or over a whole file by merging the statistics of its stripes.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnStatisticsBuilder {
    /// The Arrow type of the column's arrays.
    data_type: ArrowDataType,
    number_of_values: u64,
    has_null: bool,
    values: ValueStatistics,
}

/// The type-specific part of [`ColumnStatisticsBuilder`].
#[derive(Debug, Clone, PartialEq)]
enum ValueStatistics {
    /// Only counts: the root struct, and types without value statistics.
    Counts,
    Integer {
        range: Option<(i64, i64)>,
        /// Wide enough that it cannot overflow; recorded only if it fits `i64`.
        sum: i128,
    },
    Double {
        /// Range of the values that are not NaN.
        range: Option<(f64, f64)>,
        sum: f64,
    },
    String {
        range: Option<(String, String)>,
        /// Total length of the values in bytes.
        total_length: i64,
    },
    Binary {
        /// Total length of the values in bytes.
        total_length: i64,
    },
    Boolean {
        true_count: u64,
    },
    Date {
        /// Days since the Unix epoch.
        range: Option<(i32, i32)>,
    },
    Timestamp {
        /// Nanoseconds since the Unix epoch; `i128` holds any Arrow unit.
        range: Option<(i128, i128)>,
    },
}

/// Empty statistics for every column of a file or stripe written with
/// `schema`, indexed by ORC column ID: the root struct first, then one per
/// field.
pub fn new_column_statistics(schema: &Schema) -> Vec<ColumnStatisticsBuilder> {
    std::iter::once(ColumnStatisticsBuilder::new(&ArrowDataType::Struct(
        schema.fields().clone(),
    )))
    .chain(
        schema
            .fields()
            .iter()
            .map(|field| ColumnStatisticsBuilder::new(field.data_type())),
    )
    .collect()
}

impl ColumnStatisticsBuilder {
    /// Empty statistics for a column written from Arrow arrays of `data_type`.
    pub fn new(data_type: &ArrowDataType) -> Self {
        let values = match data_type {
            ArrowDataType::Int8
            | ArrowDataType::Int16
            | ArrowDataType::Int32
            | ArrowDataType::Int64 => ValueStatistics::Integer {
                range: None,
                sum: 0,
            },
            ArrowDataType::Float32 | ArrowDataType::Float64 => ValueStatistics::Double {
                range: None,
                sum: 0.0,
            },
            ArrowDataType::Utf8 | ArrowDataType::LargeUtf8 => ValueStatistics::String {
                range: None,
                total_length: 0,
            },
            ArrowDataType::Binary | ArrowDataType::LargeBinary => {
                ValueStatistics::Binary { total_length: 0 }
            }
            ArrowDataType::Boolean => ValueStatistics::Boolean { true_count: 0 },
            ArrowDataType::Date32 => ValueStatistics::Date { range: None },
            ArrowDataType::Timestamp(_, _) => ValueStatistics::Timestamp { range: None },
            _ => ValueStatistics::Counts,
        };
        Self {
            data_type: data_type.clone(),
            number_of_values: 0,
            has_null: false,
            values,
        }
    }

    /// Account for `count` non-null values that have no value statistics, such
    /// as the rows of the root struct.
    pub fn add_values(&mut self, count: usize) {
        self.number_of_values += count as u64;
    }

    /// Account for every value of `array`, which must be of the data type
    /// these statistics were created for (otherwise only the counts change).
    pub fn update(&mut self, array: &dyn Array) {
        let null_count = array.null_count();
        self.has_null |= null_count > 0;
        self.number_of_values += (array.len() - null_count) as u64;

        match (&mut self.values, array.data_type()) {
            (ValueStatistics::Integer { range, sum }, data_type) => match data_type {
                ArrowDataType::Int8 => {
                    update_integers(array.as_primitive::<Int8Type>(), range, sum)
                }
                ArrowDataType::Int16 => {
                    update_integers(array.as_primitive::<Int16Type>(), range, sum)
                }
                ArrowDataType::Int32 => {
                    update_integers(array.as_primitive::<Int32Type>(), range, sum)
                }
                ArrowDataType::Int64 => {
                    update_integers(array.as_primitive::<Int64Type>(), range, sum)
                }
                _ => {}
            },
            (ValueStatistics::Double { range, sum }, data_type) => match data_type {
                ArrowDataType::Float32 => {
                    update_doubles(array.as_primitive::<Float32Type>(), range, sum)
                }
                ArrowDataType::Float64 => {
                    update_doubles(array.as_primitive::<Float64Type>(), range, sum)
                }
                _ => {}
            },
            (
                ValueStatistics::String {
                    range,
                    total_length,
                },
                data_type,
            ) => {
                let values: Box<dyn Iterator<Item = &str>> = match data_type {
                    ArrowDataType::Utf8 => Box::new(array.as_string::<i32>().iter().flatten()),
                    ArrowDataType::LargeUtf8 => Box::new(array.as_string::<i64>().iter().flatten()),
                    _ => Box::new(std::iter::empty()),
                };
                for value in values {
                    *total_length = total_length.saturating_add(value.len() as i64);
                    extend_string_range(range, value);
                }
            }
            (ValueStatistics::Binary { total_length }, data_type) => {
                let lengths: Box<dyn Iterator<Item = usize>> = match data_type {
                    ArrowDataType::Binary => {
                        Box::new(array.as_binary::<i32>().iter().flatten().map(<[u8]>::len))
                    }
                    ArrowDataType::LargeBinary => {
                        Box::new(array.as_binary::<i64>().iter().flatten().map(<[u8]>::len))
                    }
                    _ => Box::new(std::iter::empty()),
                };
                for length in lengths {
                    *total_length = total_length.saturating_add(length as i64);
                }
            }
            (ValueStatistics::Boolean { true_count }, ArrowDataType::Boolean) => {
                *true_count += array.as_boolean().true_count() as u64;
            }
            (ValueStatistics::Date { range }, ArrowDataType::Date32) => {
                for value in array.as_primitive::<Date32Type>().iter().flatten() {
                    extend_range(range, value);
                }
            }
            (ValueStatistics::Timestamp { range }, ArrowDataType::Timestamp(unit, _)) => match unit
            {
                TimeUnit::Second => {
                    update_timestamps(array.as_primitive::<TimestampSecondType>(), range)
                }
                TimeUnit::Millisecond => {
                    update_timestamps(array.as_primitive::<TimestampMillisecondType>(), range)
                }
                TimeUnit::Microsecond => {
                    update_timestamps(array.as_primitive::<TimestampMicrosecondType>(), range)
                }
                TimeUnit::Nanosecond => {
                    update_timestamps(array.as_primitive::<TimestampNanosecondType>(), range)
                }
            },
            _ => {}
        }
    }

    /// Add the statistics of `other`, of the same column, to these; used to
    /// build the file's statistics from those of its stripes.
    pub fn merge(&mut self, other: &Self) {
        self.number_of_values += other.number_of_values;
        self.has_null |= other.has_null;
        match (&mut self.values, &other.values) {
            (
                ValueStatistics::Integer { range, sum },
                ValueStatistics::Integer {
                    range: other_range,
                    sum: other_sum,
                },
            ) => {
                merge_range(range, *other_range);
                *sum += other_sum;
            }
            (
                ValueStatistics::Double { range, sum },
                ValueStatistics::Double {
                    range: other_range,
                    sum: other_sum,
                },
            ) => {
                merge_range(range, *other_range);
                *sum += other_sum;
            }
            (
                ValueStatistics::String {
                    range,
                    total_length,
                },
                ValueStatistics::String {
                    range: other_range,
                    total_length: other_total_length,
                },
            ) => {
                if let Some((min, max)) = other_range {
                    extend_string_range(range, min);
                    extend_string_range(range, max);
                }
                *total_length = total_length.saturating_add(*other_total_length);
            }
            (
                ValueStatistics::Binary { total_length },
                ValueStatistics::Binary {
                    total_length: other_total_length,
                },
            ) => *total_length = total_length.saturating_add(*other_total_length),
            (
                ValueStatistics::Boolean { true_count },
                ValueStatistics::Boolean {
                    true_count: other_true_count,
                },
            ) => *true_count += other_true_count,
            (ValueStatistics::Date { range }, ValueStatistics::Date { range: other_range }) => {
                merge_range(range, *other_range)
            }
            (
                ValueStatistics::Timestamp { range },
                ValueStatistics::Timestamp { range: other_range },
            ) => merge_range(range, *other_range),
            _ => {}
        }
    }

    /// Return these statistics and reset them to empty, ready for the next
    /// stripe.
    pub fn take(&mut self) -> Self {
        let empty = Self::new(&self.data_type);
        std::mem::replace(self, empty)
    }

    /// The statistics as written to the footer and the metadata section.
    pub fn to_proto(&self) -> proto::ColumnStatistics {
        let mut statistics = proto::ColumnStatistics {
            number_of_values: Some(self.number_of_values),
            has_null: Some(self.has_null),
            ..Default::default()
        };
        match &self.values {
            ValueStatistics::Counts => {}
            ValueStatistics::Integer { range, sum } => {
                statistics.int_statistics = Some(proto::IntegerStatistics {
                    minimum: range.map(|(min, _)| min),
                    maximum: range.map(|(_, max)| max),
                    sum: i64::try_from(*sum).ok(),
                });
            }
            ValueStatistics::Double { range, sum } => {
                statistics.double_statistics = Some(proto::DoubleStatistics {
                    minimum: range.map(|(min, _)| min),
                    maximum: range.map(|(_, max)| max),
                    sum: Some(*sum),
                });
            }
            ValueStatistics::String {
                range,
                total_length,
            } => {
                let mut string_statistics = proto::StringStatistics {
                    sum: Some(*total_length),
                    ..Default::default()
                };
                if let Some((min, max)) = range {
                    if min.len() <= MAX_STRING_STATISTICS_BYTES {
                        string_statistics.minimum = Some(min.clone());
                    } else {
                        string_statistics.lower_bound = Some(truncate_lower_bound(min).to_owned());
                    }
                    if max.len() <= MAX_STRING_STATISTICS_BYTES {
                        string_statistics.maximum = Some(max.clone());
                    } else {
                        string_statistics.upper_bound = truncate_upper_bound(max);
                    }
                }
                statistics.string_statistics = Some(string_statistics);
            }
            ValueStatistics::Binary { total_length } => {
                statistics.binary_statistics = Some(proto::BinaryStatistics {
                    sum: Some(*total_length),
                });
            }
            ValueStatistics::Boolean { true_count } => {
                statistics.bucket_statistics = Some(proto::BucketStatistics {
                    count: vec![*true_count],
                });
            }
            ValueStatistics::Date { range } => {
                statistics.date_statistics = Some(proto::DateStatistics {
                    minimum: range.map(|(min, _)| min),
                    maximum: range.map(|(_, max)| max),
                });
            }
            ValueStatistics::Timestamp { range } => {
                let mut timestamp_statistics = proto::TimestampStatistics::default();
                // A bound beyond the range of i64 milliseconds (only reachable
                // with second timestamps) leaves both bounds out: unknown.
                if let Some(((min_millis, min_nanos), (max_millis, max_nanos))) =
                    range.and_then(|(min, max)| Some((split_millis(min)?, split_millis(max)?)))
                {
                    timestamp_statistics.minimum_utc = Some(min_millis);
                    timestamp_statistics.maximum_utc = Some(max_millis);
                    timestamp_statistics.minimum_nanos = (min_nanos != 0).then_some(min_nanos + 1);
                    timestamp_statistics.maximum_nanos =
                        (max_nanos != 999_999).then_some(max_nanos + 1);
                }
                statistics.timestamp_statistics = Some(timestamp_statistics);
            }
        }
        statistics
    }
}

fn update_integers<T>(array: &PrimitiveArray<T>, range: &mut Option<(i64, i64)>, sum: &mut i128)
where
    T: ArrowPrimitiveType,
    T::Native: Into<i64>,
{
    for value in array.iter().flatten() {
        let value: i64 = value.into();
        extend_range(range, value);
        *sum += i128::from(value);
    }
}

fn update_doubles<T>(array: &PrimitiveArray<T>, range: &mut Option<(f64, f64)>, sum: &mut f64)
where
    T: ArrowPrimitiveType,
    T::Native: Into<f64>,
{
    for value in array.iter().flatten() {
        let value: f64 = value.into();
        *sum += value;
        if !value.is_nan() {
            extend_range(range, value);
        }
    }
}

fn update_timestamps<T: ArrowTimestampType>(
    array: &PrimitiveArray<T>,
    range: &mut Option<(i128, i128)>,
) {
    let nanoseconds_per_unit: i128 = match T::UNIT {
        TimeUnit::Second => 1_000_000_000,
        TimeUnit::Millisecond => 1_000_000,
        TimeUnit::Microsecond => 1_000,
        TimeUnit::Nanosecond => 1,
    };
    for value in array.iter().flatten() {
        extend_range(range, i128::from(value) * nanoseconds_per_unit);
    }
}

/// Split nanoseconds since the epoch into whole milliseconds (rounded towards
/// negative infinity, as `java.sql.Timestamp.getTime` does) and the remaining
/// nanoseconds, or `None` if the milliseconds do not fit `i64`.
fn split_millis(nanoseconds: i128) -> Option<(i64, i32)> {
    let millis = i64::try_from(nanoseconds.div_euclid(NANOSECONDS_PER_MILLISECOND)).ok()?;
    // In 0..1_000_000, so it fits.
    let nanos = nanoseconds.rem_euclid(NANOSECONDS_PER_MILLISECOND) as i32;
    Some((millis, nanos))
}

fn extend_range<T: PartialOrd + Copy>(range: &mut Option<(T, T)>, value: T) {
    *range = Some(match *range {
        None => (value, value),
        Some((min, max)) => (
            if value < min { value } else { min },
            if value > max { value } else { max },
        ),
    });
}

fn merge_range<T: PartialOrd + Copy>(range: &mut Option<(T, T)>, other: Option<(T, T)>) {
    if let Some((min, max)) = other {
        extend_range(range, min);
        extend_range(range, max);
    }
}

/// Like [`extend_range`], copying `value` only when it becomes a bound.
/// Strings compare as their UTF-8 bytes, which is also how ORC orders them.
fn extend_string_range(range: &mut Option<(String, String)>, value: &str) {
    match range {
        None => *range = Some((value.to_owned(), value.to_owned())),
        Some((min, max)) => {
            if value < min.as_str() {
                *min = value.to_owned();
            }
            if value > max.as_str() {
                *max = value.to_owned();
            }
        }
    }
}

/// The longest prefix of `value` that ends on a character boundary and is at
/// most [`MAX_STRING_STATISTICS_BYTES`] long: a lower bound for `value`.
fn truncate_lower_bound(value: &str) -> &str {
    if value.len() <= MAX_STRING_STATISTICS_BYTES {
        return value;
    }
    let mut end = MAX_STRING_STATISTICS_BYTES;
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    &value[..end]
}

/// A string of at most [`MAX_STRING_STATISTICS_BYTES`] that sorts after
/// `value` and every string starting with the same truncated prefix: that
/// prefix up to its last character that can be incremented, incremented.
/// `None` only if no such character exists (all are `char::MAX`).
fn truncate_upper_bound(value: &str) -> Option<String> {
    let prefix = truncate_lower_bound(value);
    prefix.char_indices().rev().find_map(|(index, c)| {
        let next = match c {
            // Skip the surrogate range, which holds no chars.
            '\u{D7FF}' => '\u{E000}',
            c => char::from_u32(u32::from(c) + 1)?,
        };
        // An incremented char can take one more byte; keep within the limit.
        (index + next.len_utf8() <= MAX_STRING_STATISTICS_BYTES).then(|| {
            let mut bound = prefix[..index].to_owned();
            bound.push(next);
            bound
        })
    })
}

#[cfg(test)]
mod tests;
