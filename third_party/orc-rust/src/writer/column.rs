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

use std::marker::PhantomData;

use arrow::{
    array::{Array, ArrayRef, AsArray},
    datatypes::{
        ArrowNativeType, ArrowPrimitiveType, ArrowTimestampType, ByteArrayType, Date32Type,
        Float32Type, Float64Type, GenericBinaryType, GenericStringType, Int16Type, Int32Type,
        Int64Type, Int8Type,
    },
};
use std::hash::BuildHasher;

use bytes::{BufMut, Bytes, BytesMut};

use crate::{
    encoding::{
        boolean::BooleanEncoder,
        byte::ByteRleEncoder,
        float::FloatEncoder,
        integer::{rle_v2::RleV2Encoder, NInt, SignedEncoding, UnsignedEncoding},
        timestamp::TimestampEncoder,
        PrimitiveValueEncoder,
    },
    error::Result,
    memory::EstimateMemory,
    writer::StreamType,
};

use super::{ColumnEncoding, Stream};

/// Encodes a specific column for a stripe. Will encode to an internal memory
/// buffer until it is finished, in which case it returns the stream bytes to
/// be serialized to a writer.
pub trait ColumnStripeEncoder: EstimateMemory {
    /// Encode entire provided [`ArrayRef`] to internal buffer.
    fn encode_array(&mut self, array: &ArrayRef) -> Result<()>;

    /// Column encoding used for streams.
    fn column_encoding(&self) -> ColumnEncoding;

    /// Emit buffered streams to be written to the writer, and reset state
    /// in preparation for next stripe.
    fn finish(&mut self) -> Vec<Stream>;
}

// TODO: simplify these generics, probably overcomplicating things here

/// Encoder for primitive ORC types (e.g. int, float). Uses a specific [`PrimitiveValueEncoder`] to
/// encode the primitive values into internal memory. When finished, outputs a DATA stream and
/// optionally a PRESENT stream.
pub struct PrimitiveColumnEncoder<T: ArrowPrimitiveType, E: PrimitiveValueEncoder<T::Native>> {
    encoder: E,
    column_encoding: ColumnEncoding,
    /// Lazily initialized once we encounter an [`Array`] with a [`NullBuffer`].
    present: Option<BooleanEncoder>,
    encoded_count: usize,
    _phantom: PhantomData<T>,
}

impl<T: ArrowPrimitiveType, E: PrimitiveValueEncoder<T::Native>> PrimitiveColumnEncoder<T, E> {
    // TODO: encode knowledge of the ColumnEncoding as part of the type, instead of requiring it
    //       to be passed at runtime
    pub fn new(column_encoding: ColumnEncoding) -> Self {
        Self {
            encoder: E::new(),
            column_encoding,
            present: None,
            encoded_count: 0,
            _phantom: Default::default(),
        }
    }
}

impl<T: ArrowPrimitiveType, E: PrimitiveValueEncoder<T::Native>> EstimateMemory
    for PrimitiveColumnEncoder<T, E>
{
    fn estimate_memory_size(&self) -> usize {
        self.encoder.estimate_memory_size()
            + self
                .present
                .as_ref()
                .map(|p| p.estimate_memory_size())
                .unwrap_or(0)
    }
}

impl<T: ArrowPrimitiveType, E: PrimitiveValueEncoder<T::Native>> ColumnStripeEncoder
    for PrimitiveColumnEncoder<T, E>
{
    fn encode_array(&mut self, array: &ArrayRef) -> Result<()> {
        // TODO: return as result instead of panicking here?
        let array = array.as_primitive::<T>();
        // Handling case where if encoding across RecordBatch boundaries, arrays
        // might introduce a NullBuffer
        match (array.nulls(), &mut self.present) {
            // Need to copy only the valid values as indicated by null_buffer
            (Some(null_buffer), Some(present)) => {
                present.extend(null_buffer);
                for index in null_buffer.valid_indices() {
                    let v = array.value(index);
                    self.encoder.write_one(v);
                }
            }
            (Some(null_buffer), None) => {
                // Lazily initiate present buffer and ensure backfill the already encoded values
                let mut present = BooleanEncoder::new();
                present.extend_present(self.encoded_count);
                present.extend(null_buffer);
                self.present = Some(present);
                for index in null_buffer.valid_indices() {
                    let v = array.value(index);
                    self.encoder.write_one(v);
                }
            }
            // Simple direct copy from values buffer, extending present if needed
            (None, _) => {
                let values = array.values();
                self.encoder.write_slice(values);
                if let Some(present) = self.present.as_mut() {
                    present.extend_present(array.len())
                }
            }
        }
        self.encoded_count += array.len() - array.null_count();
        Ok(())
    }

    fn column_encoding(&self) -> ColumnEncoding {
        self.column_encoding
    }

    fn finish(&mut self) -> Vec<Stream> {
        let bytes = self.encoder.take_inner();
        // Return mandatory Data stream and optional Present stream
        let data = Stream {
            kind: StreamType::Data,
            bytes,
        };
        self.encoded_count = 0;
        match &mut self.present {
            Some(present) => {
                let bytes = present.finish();
                let present = Stream {
                    kind: StreamType::Present,
                    bytes,
                };
                vec![data, present]
            }
            None => vec![data],
        }
    }
}

/// Seconds from the ORC epoch of 1 January 2015 to the Unix epoch.
const ORC_EPOCH_UTC_SECONDS_SINCE_UNIX_EPOCH: i64 = 1_420_070_400;

/// Encodes an Arrow timestamp into the DATA and SECONDARY streams used by ORC.
pub struct TimestampColumnEncoder<T: ArrowTimestampType> {
    encoder: TimestampEncoder<T>,
    present: Option<BooleanEncoder>,
    encoded_count: usize,
}

impl<T: ArrowTimestampType> TimestampColumnEncoder<T> {
    pub fn new() -> Self {
        Self {
            encoder: TimestampEncoder::new(
                ORC_EPOCH_UTC_SECONDS_SINCE_UNIX_EPOCH,
                Box::new(RleV2Encoder::<i64, SignedEncoding>::new()),
                Box::new(RleV2Encoder::<i64, UnsignedEncoding>::new()),
            ),
            present: None,
            encoded_count: 0,
        }
    }
}

impl<T: ArrowTimestampType> EstimateMemory for TimestampColumnEncoder<T> {
    fn estimate_memory_size(&self) -> usize {
        self.encoder.estimate_memory_size()
            + self
                .present
                .as_ref()
                .map(|present| present.estimate_memory_size())
                .unwrap_or(0)
    }
}

impl<T: ArrowTimestampType> ColumnStripeEncoder for TimestampColumnEncoder<T> {
    fn encode_array(&mut self, array: &ArrayRef) -> Result<()> {
        let array = array.as_primitive::<T>();
        if let Some(null_buffer) = array.nulls() {
            let values = null_buffer
                .valid_indices()
                .map(|index| array.value(index))
                .collect::<Vec<_>>();
            self.encoder.encode(&values)?;

            let encoded_count = self.encoded_count;
            let present = self.present.get_or_insert_with(|| {
                let mut present = BooleanEncoder::new();
                present.extend_present(encoded_count);
                present
            });
            present.extend(null_buffer);
        } else {
            self.encoder.encode(array.values())?;
            if let Some(present) = self.present.as_mut() {
                present.extend_present(array.len());
            }
        }
        self.encoded_count += array.len() - array.null_count();
        Ok(())
    }

    fn column_encoding(&self) -> ColumnEncoding {
        ColumnEncoding::DirectV2
    }

    fn finish(&mut self) -> Vec<Stream> {
        let (data, secondary) = self.encoder.take_inner();
        let mut streams = vec![
            Stream {
                kind: StreamType::Data,
                bytes: data,
            },
            Stream {
                kind: StreamType::Secondary,
                bytes: secondary,
            },
        ];
        self.encoded_count = 0;
        if let Some(present) = self.present.as_mut() {
            streams.push(Stream {
                kind: StreamType::Present,
                bytes: present.finish(),
            });
        }
        streams
    }
}

pub struct BooleanColumnEncoder {
    encoder: BooleanEncoder,
    /// Lazily initialized once we encounter an [`Array`] with a [`NullBuffer`].
    present: Option<BooleanEncoder>,
    encoded_count: usize,
}

impl BooleanColumnEncoder {
    pub fn new() -> Self {
        Self {
            encoder: BooleanEncoder::new(),
            present: None,
            encoded_count: 0,
        }
    }
}

impl EstimateMemory for BooleanColumnEncoder {
    fn estimate_memory_size(&self) -> usize {
        self.encoder.estimate_memory_size()
            + self
                .present
                .as_ref()
                .map(|p| p.estimate_memory_size())
                .unwrap_or(0)
    }
}

impl ColumnStripeEncoder for BooleanColumnEncoder {
    fn encode_array(&mut self, array: &ArrayRef) -> Result<()> {
        // TODO: return as result instead of panicking here?
        let array = array.as_boolean();
        // Handling case where if encoding across RecordBatch boundaries, arrays
        // might introduce a NullBuffer
        match (array.nulls(), &mut self.present) {
            // Need to copy only the valid values as indicated by null_buffer
            (Some(null_buffer), Some(present)) => {
                present.extend(null_buffer);
                for index in null_buffer.valid_indices() {
                    let v = array.value(index);
                    self.encoder.extend_boolean(v);
                }
            }
            (Some(null_buffer), None) => {
                // Lazily initiate present buffer and ensure backfill the already encoded values
                let mut present = BooleanEncoder::new();
                present.extend_present(self.encoded_count);
                present.extend(null_buffer);
                self.present = Some(present);
                for index in null_buffer.valid_indices() {
                    let v = array.value(index);
                    self.encoder.extend_boolean(v);
                }
            }
            // Simple direct copy from values buffer, extending present if needed
            (None, _) => {
                let values = array.values();
                self.encoder.extend_bb(values);
                if let Some(present) = self.present.as_mut() {
                    present.extend_present(array.len())
                }
            }
        }
        self.encoded_count += array.len() - array.null_count();
        Ok(())
    }

    fn column_encoding(&self) -> ColumnEncoding {
        ColumnEncoding::Direct
    }

    fn finish(&mut self) -> Vec<Stream> {
        let bytes = self.encoder.finish();
        // Return mandatory Data stream and optional Present stream
        let data = Stream {
            kind: StreamType::Data,
            bytes,
        };
        self.encoded_count = 0;
        match &mut self.present {
            Some(present) => {
                let bytes = present.finish();
                let present = Stream {
                    kind: StreamType::Present,
                    bytes,
                };
                vec![data, present]
            }
            None => vec![data],
        }
    }
}

/// Encodes binary/strings: directly (DIRECT_V2), or for strings, with a
/// dictionary per stripe (DICTIONARY_V2) while that pays.
///
/// The dictionary rule is ORC Java's (`orc.dictionary.key.threshold`): a
/// stripe's values are dictionary-encoded when its distinct values are at
/// most `key_threshold` × its non-null values. As Java's early check does, the
/// ratio is first checked after [`DICTIONARY_EARLY_CHECK_VALUES`] values; a
/// column that fails it is written directly for the rest of the stripe, with
/// no hashing. It is checked again when the stripe is finished.
pub struct GenericBinaryColumnEncoder<T: ByteArrayType>
where
    T::Offset: NInt,
{
    string_bytes: BytesMut,
    length_encoder: RleV2Encoder<T::Offset, UnsignedEncoding>,
    present: Option<BooleanEncoder>,
    encoded_count: usize,
    /// Distinct ÷ non-null values at or below which a stripe uses its
    /// dictionary; 0 turns dictionaries off.
    key_threshold: f64,
    /// This stripe's dictionary; `None` when it is off or the early check
    /// failed (the values are then in `string_bytes`/`length_encoder`).
    dictionary: Option<Dictionary>,
}

/// Non-null values checked before a column's dictionary is kept or dropped
/// for the stripe: ORC Java's default row index stride, where its early check
/// happens.
pub const DICTIONARY_EARLY_CHECK_VALUES: usize = 10_000;

impl<T: ByteArrayType> GenericBinaryColumnEncoder<T>
where
    T::Offset: NInt,
{
    /// Direct encoding only (binary columns, and strings with dictionaries off).
    pub fn new() -> Self {
        Self::with_dictionary_key_threshold(0.0)
    }

    /// Dictionary encoding per stripe while distinct ÷ non-null values stays
    /// at or below `key_threshold` (ORC Java's default is 0.8); 0 or less
    /// writes directly.
    pub fn with_dictionary_key_threshold(key_threshold: f64) -> Self {
        let key_threshold = key_threshold.max(0.0);
        Self {
            string_bytes: BytesMut::new(),
            length_encoder: RleV2Encoder::new(),
            present: None,
            encoded_count: 0,
            key_threshold,
            dictionary: (key_threshold > 0.0).then(Dictionary::default),
        }
    }

    /// Appends one non-null value.
    fn push_value(&mut self, value: &[u8]) {
        match &mut self.dictionary {
            Some(dictionary) => dictionary.push(value),
            None => self.push_direct(value),
        }
    }

    /// Appends one non-null value to the DIRECT_V2 streams.
    fn push_direct(&mut self, value: &[u8]) {
        let length = T::Offset::from_usize(value.len()).expect("a value's length fits its offsets");
        self.length_encoder.write_one(length);
        self.string_bytes.put_slice(value);
    }

    /// Whether this stripe's values so far are written with their dictionary.
    fn dictionary_pays(&self) -> bool {
        self.dictionary
            .as_ref()
            .is_some_and(|d| d.pays(self.key_threshold))
    }

    /// The early check: after enough values, drops a dictionary that does
    /// not pay and moves its values to the direct streams.
    fn check_dictionary(&mut self, finishing: bool) {
        let Some(dictionary) = &self.dictionary else {
            return;
        };
        if dictionary.checked && !finishing {
            return;
        }
        if !finishing && dictionary.values() < DICTIONARY_EARLY_CHECK_VALUES {
            return;
        }
        if dictionary.pays(self.key_threshold) {
            if let Some(dictionary) = &mut self.dictionary {
                dictionary.checked = true;
            }
            return;
        }
        let dictionary = self.dictionary.take().expect("checked above");
        for &entry in &dictionary.indices {
            self.push_direct(dictionary.entry(entry));
        }
    }
}

/// The distinct values of one column in one stripe, and each value's entry.
#[derive(Default)]
struct Dictionary {
    /// Entry numbers, found by their bytes' hash.
    table: hashbrown::HashTable<u32>,
    hasher: hashbrown::DefaultHashBuilder,
    /// The entries' bytes back to back, in first-seen order.
    bytes: Vec<u8>,
    /// End of each entry in `bytes`.
    ends: Vec<usize>,
    /// The entry of each non-null value, in order.
    indices: Vec<u32>,
    /// The early check passed for this stripe.
    checked: bool,
}

/// Entry `entry` of a dictionary whose entries are `bytes` back to back,
/// entry `i` ending at `ends[i]`.
fn entry_bytes<'a>(bytes: &'a [u8], ends: &[usize], entry: u32) -> &'a [u8] {
    let entry = entry as usize;
    let start = if entry == 0 { 0 } else { ends[entry - 1] };
    &bytes[start..ends[entry]]
}

impl Dictionary {
    fn entry(&self, entry: u32) -> &[u8] {
        entry_bytes(&self.bytes, &self.ends, entry)
    }

    fn values(&self) -> usize {
        self.indices.len()
    }

    fn pays(&self, key_threshold: f64) -> bool {
        !self.indices.is_empty()
            && self.ends.len() as f64 <= key_threshold * self.indices.len() as f64
    }

    fn push(&mut self, value: &[u8]) {
        let hash = self.hasher.hash_one(value);
        let Self {
            table,
            hasher,
            bytes,
            ends,
            indices,
            ..
        } = self;
        let entry = match table.find(hash, |&entry| entry_bytes(bytes, ends, entry) == value) {
            Some(&entry) => entry,
            None => {
                let entry =
                    u32::try_from(ends.len()).expect("fewer than 2^32 distinct values in a stripe");
                bytes.extend_from_slice(value);
                ends.push(bytes.len());
                table.insert_unique(hash, entry, |&entry| {
                    hasher.hash_one(entry_bytes(bytes, ends, entry))
                });
                entry
            }
        };
        indices.push(entry);
    }

    fn estimate_memory_size(&self) -> usize {
        self.bytes.len()
            + self.ends.len() * std::mem::size_of::<usize>()
            + self.indices.len() * std::mem::size_of::<u32>()
            + self.table.capacity() * std::mem::size_of::<u32>()
    }

    /// The DATA (each value's entry), DICTIONARY_DATA and LENGTH streams,
    /// with the entries sorted by their bytes as ORC Java writes them.
    fn finish(&self) -> (Bytes, Bytes, Bytes) {
        let mut order: Vec<u32> = (0..self.ends.len() as u32).collect();
        order.sort_unstable_by(|&a, &b| self.entry(a).cmp(self.entry(b)));
        let mut rank = vec![0u32; order.len()];
        let mut dictionary_data = BytesMut::with_capacity(self.bytes.len());
        let mut lengths = RleV2Encoder::<i64, UnsignedEncoding>::new();
        for (sorted, &entry) in order.iter().enumerate() {
            rank[entry as usize] = sorted as u32;
            let value = self.entry(entry);
            dictionary_data.put_slice(value);
            lengths.write_one(value.len() as i64);
        }
        let mut data = RleV2Encoder::<i64, UnsignedEncoding>::new();
        for &entry in &self.indices {
            data.write_one(i64::from(rank[entry as usize]));
        }
        (
            data.take_inner(),
            dictionary_data.freeze(),
            lengths.take_inner(),
        )
    }
}

impl<T: ByteArrayType> EstimateMemory for GenericBinaryColumnEncoder<T>
where
    T::Offset: NInt,
{
    fn estimate_memory_size(&self) -> usize {
        self.string_bytes.len()
            + self.length_encoder.estimate_memory_size()
            + self
                .dictionary
                .as_ref()
                .map(Dictionary::estimate_memory_size)
                .unwrap_or(0)
            + self
                .present
                .as_ref()
                .map(|p| p.estimate_memory_size())
                .unwrap_or(0)
    }
}

impl<T: ByteArrayType> ColumnStripeEncoder for GenericBinaryColumnEncoder<T>
where
    T::Offset: NInt,
{
    fn encode_array(&mut self, array: &ArrayRef) -> Result<()> {
        if array.is_empty() {
            return Ok(());
        }
        // TODO: return as result instead of panicking here?
        let array = array.as_bytes::<T>();
        // Handling case where if encoding across RecordBatch boundaries, arrays
        // might introduce a NullBuffer
        match (array.nulls(), &mut self.present) {
            // Need to copy only the valid values as indicated by null_buffer
            (Some(null_buffer), Some(present)) => {
                present.extend(null_buffer);
                for index in null_buffer.valid_indices() {
                    self.push_value(array.value(index).as_ref());
                }
            }
            (Some(null_buffer), None) => {
                // Lazily initiate present buffer and ensure backfill the already encoded values
                let mut present = BooleanEncoder::new();
                present.extend_present(self.encoded_count);
                present.extend(null_buffer);
                self.present = Some(present);
                for index in null_buffer.valid_indices() {
                    self.push_value(array.value(index).as_ref());
                }
            }
            (None, _) if self.dictionary.is_some() => {
                for value in array.iter().flatten() {
                    self.push_value(value.as_ref());
                }
                if let Some(present) = self.present.as_mut() {
                    present.extend_present(array.len())
                }
            }
            // Simple direct copy from values buffer, extending present if needed
            (None, _) => {
                let offsets = array.offsets();
                let first_offset = offsets[0];

                let mut length_to_copy = <T::Offset as num::Zero>::zero();
                let mut prev_offset = first_offset;
                // Derive lengths from offsets then encode them as ints
                for &offset in offsets.iter().skip(1) {
                    let length = offset - prev_offset;
                    self.length_encoder.write_one(length);
                    length_to_copy += length;
                    prev_offset = offset;
                }
                // Copy all string bytes in a single go
                // TODO: this cast to i64 to usize can be cleaned up?
                let first_offset = first_offset.as_i64() as usize;
                let end_offset = first_offset + length_to_copy.as_i64() as usize;
                let string_bytes = &array.value_data()[first_offset..end_offset];
                self.string_bytes.put_slice(string_bytes);

                if let Some(present) = self.present.as_mut() {
                    present.extend_present(array.len())
                }
            }
        }
        self.encoded_count += array.len() - array.null_count();
        self.check_dictionary(false);
        Ok(())
    }

    fn column_encoding(&self) -> ColumnEncoding {
        match &self.dictionary {
            Some(dictionary) if self.dictionary_pays() => ColumnEncoding::DictionaryV2 {
                size: dictionary.ends.len(),
            },
            _ => ColumnEncoding::DirectV2,
        }
    }

    fn finish(&mut self) -> Vec<Stream> {
        // The stripe's encoding was read from `column_encoding` just before;
        // this makes the same choice.
        self.check_dictionary(true);
        let mut streams = match self.dictionary.take() {
            Some(dictionary) => {
                let (data, dictionary_data, length) = dictionary.finish();
                vec![
                    Stream {
                        kind: StreamType::Data,
                        bytes: data,
                    },
                    Stream {
                        kind: StreamType::DictionaryData,
                        bytes: dictionary_data,
                    },
                    Stream {
                        kind: StreamType::Length,
                        bytes: length,
                    },
                ]
            }
            None => {
                // TODO: throwing away allocations here
                let data_bytes = std::mem::take(&mut self.string_bytes);
                let length_bytes = self.length_encoder.take_inner();
                vec![
                    Stream {
                        kind: StreamType::Data,
                        bytes: data_bytes.into(),
                    },
                    Stream {
                        kind: StreamType::Length,
                        bytes: length_bytes,
                    },
                ]
            }
        };
        if self.key_threshold > 0.0 {
            self.dictionary = Some(Dictionary::default());
        }
        self.encoded_count = 0;
        if let Some(present) = &mut self.present {
            streams.push(Stream {
                kind: StreamType::Present,
                bytes: present.finish(),
            });
        }
        streams
    }
}

pub type FloatColumnEncoder = PrimitiveColumnEncoder<Float32Type, FloatEncoder<f32>>;
pub type DoubleColumnEncoder = PrimitiveColumnEncoder<Float64Type, FloatEncoder<f64>>;
pub type ByteColumnEncoder = PrimitiveColumnEncoder<Int8Type, ByteRleEncoder>;
pub type Int16ColumnEncoder = PrimitiveColumnEncoder<Int16Type, RleV2Encoder<i16, SignedEncoding>>;
pub type Int32ColumnEncoder = PrimitiveColumnEncoder<Int32Type, RleV2Encoder<i32, SignedEncoding>>;
pub type Int64ColumnEncoder = PrimitiveColumnEncoder<Int64Type, RleV2Encoder<i64, SignedEncoding>>;
pub type DateColumnEncoder = PrimitiveColumnEncoder<Date32Type, RleV2Encoder<i32, SignedEncoding>>;
pub type StringColumnEncoder = GenericBinaryColumnEncoder<GenericStringType<i32>>;
pub type LargeStringColumnEncoder = GenericBinaryColumnEncoder<GenericStringType<i64>>;
pub type BinaryColumnEncoder = GenericBinaryColumnEncoder<GenericBinaryType<i32>>;
pub type LargeBinaryColumnEncoder = GenericBinaryColumnEncoder<GenericBinaryType<i64>>;

#[cfg(test)]
mod tests;
