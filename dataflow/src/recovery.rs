//! Recovery after a crash: removing what a dead run committed after its last checkpoint.
//!
//! Committed files are never half-written (the Hive layer renames complete files into place),
//! but a run may commit files and die before the checkpoint that covers them. Those files will
//! be written again, possibly cut at other offsets, so they are deleted first:
//!
//! - event-row files (`p<partition>-o<first offset>.orc`) whose first offset is at or after the
//!   partition's committed `read_offset` ([`delete_uncommitted_rows`]);
//! - `page_analytics` files of windows ending after the checkpoint's frontier
//!   ([`delete_uncommitted_windows`]); they are recomputed from the resume offsets.

use hdfs_native::{Client, ClientBuilder, HdfsError};
use hive::{HiveTables, Table};

use crate::rows::{parse_row_file_name, parse_window_file_name};

/// A client of the tables' NameNode.
///
/// # Errors
/// When hdfs-native rejects the URL.
pub fn client(tables: &HiveTables) -> Result<Client, HdfsError> {
    ClientBuilder::new()
        .with_url(&tables.config().hdfs_url)
        .build()
}

/// `(file name, full path)` of every file in `table`'s `dt=` directories.
async fn table_files(
    hdfs: &Client,
    tables: &HiveTables,
    table: Table,
) -> Result<Vec<(String, String)>, HdfsError> {
    let location = tables.table_location(table);
    let root = hive::layout::url_path(&location);
    let dirs = match hdfs.list_status(root, false).await {
        Ok(d) => d,
        Err(e) if crate::checkpoint::is_not_found(&e) => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for dir in dirs.iter().filter(|d| d.isdir) {
        let dname = dir.path.rsplit('/').next().unwrap_or_default();
        if !dname.starts_with("dt=") {
            continue;
        }
        for f in hdfs.list_status(&dir.path, false).await? {
            if !f.isdir {
                let name = f.path.rsplit('/').next().unwrap_or_default().to_string();
                out.push((name, f.path.clone()));
            }
        }
    }
    Ok(out)
}

/// Deletes the row files (raw, late, rejected) of the given partitions whose first offset is
/// at or after the partition's bound (`(partition, read_offset)` pairs). Returns how many.
///
/// # Errors
/// hdfs-native's error when listing or deleting fails.
pub async fn delete_uncommitted_rows(
    tables: &HiveTables,
    bounds: &[(i32, i64)],
) -> Result<usize, HdfsError> {
    if bounds.is_empty() {
        return Ok(0);
    }
    let hdfs = client(tables)?;
    let mut deleted = 0;
    for table in [
        Table::RawWebEvents,
        Table::LateWebEvents,
        Table::RejectedWebEvents,
    ] {
        for (name, path) in table_files(&hdfs, tables, table).await? {
            let Some((p, first)) = parse_row_file_name(&name) else {
                continue;
            };
            if bounds.iter().any(|&(bp, bound)| bp == p && first >= bound) {
                tracing::info!(table = table.name(), file = %path, "deleting a file committed after the last checkpoint");
                hdfs.delete(&path, false).await?;
                deleted += 1;
            }
        }
    }
    Ok(deleted)
}

/// Deletes the `page_analytics` files of windows ending after `frontier_ms` (UTC epoch ms).
/// Returns how many.
///
/// # Errors
/// hdfs-native's error when listing or deleting fails.
pub async fn delete_uncommitted_windows(
    tables: &HiveTables,
    frontier_ms: i64,
) -> Result<usize, HdfsError> {
    let hdfs = client(tables)?;
    let mut deleted = 0;
    for (name, path) in table_files(&hdfs, tables, Table::PageAnalytics).await? {
        if parse_window_file_name(&name).is_some_and(|(_, end)| end > frontier_ms) {
            tracing::info!(file = %path, "deleting a window committed after the last checkpoint");
            hdfs.delete(&path, false).await?;
            deleted += 1;
        }
    }
    Ok(deleted)
}

/// `dt` partitions of `table` that exist on HDFS (have a directory), as dates.
///
/// # Errors
/// hdfs-native's error when listing fails.
pub async fn partition_dates(
    hdfs: &Client,
    tables: &HiveTables,
    table: Table,
) -> Result<Vec<hive::PartitionDate>, HdfsError> {
    let location = tables.table_location(table);
    let root = hive::layout::url_path(&location);
    let dirs = match hdfs.list_status(root, false).await {
        Ok(d) => d,
        Err(e) if crate::checkpoint::is_not_found(&e) => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    Ok(dirs
        .iter()
        .filter(|d| d.isdir)
        .filter_map(|d| {
            hive::PartitionDate::from_partition_name(d.path.rsplit('/').next().unwrap_or_default())
        })
        .collect())
}
