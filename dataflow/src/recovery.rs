//! Recovery after a crash: removing what a dead run committed after its last checkpoint.
//!
//! Committed files are never half-written (the Hive layer renames complete files into place),
//! but a run may commit files and die before the checkpoint that covers them. Those files will
//! be written again, possibly cut at other offsets, so they are deleted first:
//!
//! - event-row files (`p<partition>-o<first offset>.orc`) whose first offset is at or after the
//!   partition's committed `read_offset` ([`delete_uncommitted_rows`]);
//! - `page_analytics` and `visitor_analytics` files of windows ending after the checkpoint's
//!   frontier, and `sessions` files of close buckets ending after it
//!   ([`delete_uncommitted_windows`]); they are recomputed from the resume offsets and the
//!   restored session snapshot.
//!
//! Listing and deleting go through `hive` ([`HiveTables::partition_files`],
//! [`HiveTables::delete_file`]) and its one HDFS client; only the file naming is ours.

use hive::{HiveError, HiveTables, PartitionDate, Table};

use crate::rows::{parse_row_file_name, parse_session_file_name, parse_window_file_name};

/// `(partition date, file name)` of every file in `table`'s `dt=` directories.
async fn table_files(
    tables: &HiveTables,
    table: Table,
) -> Result<Vec<(PartitionDate, String)>, HiveError> {
    let mut out = Vec::new();
    for dt in tables.partition_dates(table).await? {
        for name in tables.partition_files(table, dt).await? {
            out.push((dt, name));
        }
    }
    Ok(out)
}

/// Deletes the row files (raw, late, rejected) of the given partitions whose first offset is
/// at or after the partition's bound (`(partition, read_offset)` pairs). Returns how many.
///
/// # Errors
/// [`HiveError::Hdfs`] when listing or deleting fails.
pub async fn delete_uncommitted_rows(
    tables: &HiveTables,
    bounds: &[(i32, i64)],
) -> Result<usize, HiveError> {
    if bounds.is_empty() {
        return Ok(0);
    }
    let mut deleted = 0;
    for table in [
        Table::RawWebEvents,
        Table::LateWebEvents,
        Table::RejectedWebEvents,
    ] {
        for (dt, name) in table_files(tables, table).await? {
            let Some((p, first)) = parse_row_file_name(&name) else {
                continue;
            };
            if bounds.iter().any(|&(bp, bound)| bp == p && first >= bound) {
                tracing::info!(table = table.name(), dt = %dt, file = %name, "deleting a file committed after the last checkpoint");
                tables.delete_file(table, dt, &name).await?;
                deleted += 1;
            }
        }
    }
    Ok(deleted)
}

/// Deletes the result files that end after `frontier_ms` (UTC epoch ms): `page_analytics`
/// and `visitor_analytics` windows, `sessions` close buckets. Returns how many.
///
/// # Errors
/// [`HiveError::Hdfs`] when listing or deleting fails.
pub async fn delete_uncommitted_windows(
    tables: &HiveTables,
    frontier_ms: i64,
) -> Result<usize, HiveError> {
    let mut deleted = 0;
    for table in [
        Table::PageAnalytics,
        Table::VisitorAnalytics,
        Table::Sessions,
    ] {
        let parse = if table == Table::Sessions {
            parse_session_file_name
        } else {
            parse_window_file_name
        };
        for (dt, name) in table_files(tables, table).await? {
            if parse(&name).is_some_and(|(_, end)| end > frontier_ms) {
                tracing::info!(table = table.name(), dt = %dt, file = %name, "deleting a result file committed after the last checkpoint");
                tables.delete_file(table, dt, &name).await?;
                deleted += 1;
            }
        }
    }
    Ok(deleted)
}
