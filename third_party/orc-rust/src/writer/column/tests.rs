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

//! Dictionary encoding of string columns: the encoding each stripe gets, and
//! the values read back.

use std::{io::Read, sync::Arc};

use arrow::{
    array::{ArrayRef, BinaryArray, LargeStringArray, RecordBatch, RecordBatchReader, StringArray},
    compute::{cast, concat_batches},
    datatypes::{Field, Schema},
};
use bytes::Bytes;
use prost::Message;

use crate::{
    compression::{CompressionType, Decompressor},
    proto::{self, column_encoding::Kind},
    ArrowReaderBuilder, ArrowWriterBuilder,
};

/// One file with `column` as its only column, `threshold` as the dictionary
/// key threshold, and stripes of about `stripe_bytes`.
fn write(column: ArrayRef, threshold: f64, stripe_bytes: usize) -> Bytes {
    let schema = Arc::new(Schema::new(vec![Field::new(
        "s",
        column.data_type().clone(),
        true,
    )]));
    let batch = RecordBatch::try_new(schema.clone(), vec![column]).unwrap();
    let mut out = vec![];
    let mut writer = ArrowWriterBuilder::new(&mut out, schema)
        .with_compression(CompressionType::Zlib)
        .with_stripe_byte_size(stripe_bytes)
        .with_dictionary_key_threshold(threshold)
        .try_build()
        .unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    Bytes::from(out)
}

/// Each stripe's encoding of column 1 (kind and dictionary size), in order.
fn encodings(file: &Bytes) -> Vec<(Kind, u32)> {
    let builder = ArrowReaderBuilder::try_new(file.clone()).unwrap();
    let compression = builder.file_metadata().compression();
    builder
        .file_metadata()
        .stripe_metadatas()
        .iter()
        .map(|stripe| {
            let start = stripe.footer_offset() as usize;
            let end = start + stripe.footer_length() as usize;
            let mut footer = vec![];
            Decompressor::new(file.slice(start..end), compression, vec![])
                .read_to_end(&mut footer)
                .unwrap();
            let footer = proto::StripeFooter::decode(footer.as_slice()).unwrap();
            let column = &footer.columns[1];
            (column.kind(), column.dictionary_size())
        })
        .collect()
}

/// The file's rows as one batch.
fn read(file: Bytes) -> RecordBatch {
    let reader = ArrowReaderBuilder::try_new(file).unwrap().build();
    let schema = reader.schema();
    let batches = reader.collect::<Result<Vec<_>, _>>().unwrap();
    concat_batches(&schema, batches.iter()).unwrap()
}

/// The file reads back as `column` (strings come back as Utf8, so they are
/// cast to `column`'s type first).
fn assert_reads_back(file: &Bytes, column: &ArrayRef) {
    let batch = read(file.clone());
    let read = cast(batch.column(0), column.data_type()).unwrap();
    assert_eq!(&read, column);
}

const STRIPE: usize = 64 * 1024 * 1024;

/// 50 000 values from 20 pages, every seventh null: under the threshold.
fn few_pages() -> Vec<Option<String>> {
    (0..50_000)
        .map(|i| (i % 7 != 0).then(|| format!("/page/{}", (i * 31) % 20)))
        .collect()
}

#[test]
fn few_distinct_values_are_dictionary_encoded_and_read_back() {
    let column: ArrayRef = Arc::new(StringArray::from(few_pages()));
    let file = write(column.clone(), 0.8, STRIPE);
    assert_eq!(encodings(&file), vec![(Kind::DictionaryV2, 20)]);
    assert_reads_back(&file, &column);

    let large: ArrayRef = Arc::new(LargeStringArray::from(few_pages()));
    let file = write(large.clone(), 0.8, STRIPE);
    assert_eq!(encodings(&file), vec![(Kind::DictionaryV2, 20)]);
    assert_reads_back(&file, &large);
}

#[test]
fn dictionary_files_are_smaller_than_direct_ones() {
    let column: ArrayRef = Arc::new(StringArray::from(few_pages()));
    let dictionary = write(column.clone(), 0.8, STRIPE);
    let direct = write(column, 0.0, STRIPE);
    assert!(
        dictionary.len() < direct.len(),
        "dictionary {} bytes, direct {} bytes",
        dictionary.len(),
        direct.len()
    );
}

#[test]
fn threshold_zero_writes_directly_as_before() {
    let column: ArrayRef = Arc::new(StringArray::from(few_pages()));
    let file = write(column.clone(), 0.0, STRIPE);
    assert_eq!(encodings(&file), vec![(Kind::DirectV2, 0)]);
    assert_reads_back(&file, &column);
}

#[test]
fn distinct_values_fail_the_early_check_and_are_written_directly() {
    let values: Vec<Option<String>> = (0..50_000)
        .map(|i| (i % 11 != 0).then(|| format!("id-{i:08}")))
        .collect();
    let column: ArrayRef = Arc::new(StringArray::from(values));
    let file = write(column.clone(), 0.8, STRIPE);
    assert_eq!(encodings(&file), vec![(Kind::DirectV2, 0)]);
    assert_reads_back(&file, &column);
}

#[test]
fn a_stripe_shorter_than_the_early_check_is_decided_when_it_is_finished() {
    let distinct: ArrayRef = Arc::new(StringArray::from_iter_values(
        (0..5_000).map(|i| format!("id-{i}")),
    ));
    let file = write(distinct.clone(), 0.8, STRIPE);
    assert_eq!(encodings(&file), vec![(Kind::DirectV2, 0)]);
    assert_reads_back(&file, &distinct);

    // The empty string is a value like any other.
    let few: ArrayRef = Arc::new(StringArray::from_iter_values(
        (0..5_000).map(|i| ["", "b", "a"][i % 3]),
    ));
    let file = write(few.clone(), 0.8, STRIPE);
    assert_eq!(encodings(&file), vec![(Kind::DictionaryV2, 3)]);
    assert_reads_back(&file, &few);
}

#[test]
fn a_dictionary_that_stops_paying_after_the_early_check_is_dropped_at_the_end() {
    // 10 000 values of two pages pass the early check; 50 000 distinct ones
    // after them bring the stripe to 50 002 ÷ 60 000 > 0.8.
    let values = (0..10_000)
        .map(|i| format!("/page/{}", i % 2))
        .chain((0..50_000).map(|i| format!("id-{i}")));
    let column: ArrayRef = Arc::new(StringArray::from_iter_values(values));
    let file = write(column.clone(), 0.8, STRIPE);
    assert_eq!(encodings(&file), vec![(Kind::DirectV2, 0)]);
    assert_reads_back(&file, &column);
}

#[test]
fn each_stripe_chooses_its_own_encoding() {
    // Small stripes: the first ones hold repeated pages, the later ones
    // distinct ids.
    let values = (0..20_000)
        .map(|i| format!("/page/{}", i % 4))
        .chain((0..20_000).map(|i| format!("id-{i}")));
    let column: ArrayRef = Arc::new(StringArray::from_iter_values(values));
    let file = write(column.clone(), 0.8, 4096);
    let kinds = encodings(&file);
    assert!(kinds.len() > 2, "{kinds:?}");
    assert_eq!(kinds.first(), Some(&(Kind::DictionaryV2, 4)));
    assert_eq!(kinds.last(), Some(&(Kind::DirectV2, 0)));
    assert_reads_back(&file, &column);
}

#[test]
fn binary_columns_are_never_dictionary_encoded() {
    let column: ArrayRef = Arc::new(BinaryArray::from_iter_values(
        (0..20_000).map(|i| [b"ab".as_slice(), b"cd"][i % 2]),
    ));
    let file = write(column.clone(), 0.8, STRIPE);
    assert_eq!(encodings(&file), vec![(Kind::DirectV2, 0)]);
    assert_reads_back(&file, &column);
}
