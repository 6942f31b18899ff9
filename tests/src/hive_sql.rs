//! Hive SQL through the Spark Thrift Server (HiveServer2 protocol), read back as typed rows.
//!
//! Queries go through `tests/stack/stack sql`, a small JDBC client (`tests/stack/java/HiveSql.java`)
//! that prints each result set as JSON lines. The server reads metastore ORC tables with Hive's
//! own reader (`spark.sql.hive.convertMetastoreOrc=false`, `hive.exec.orc.split.strategy=ETL`).

use anyhow::{bail, Context, Result};
use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::Stack;

/// One result column as the server describes it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Column {
    /// Column label, e.g. `page_url` or `count(1)`.
    pub name: String,
    /// Hive type name in lower case: `string`, `bigint`, `timestamp`, …
    #[serde(rename = "type")]
    pub type_name: String,
}

/// The rows of one statement's result.
///
/// Values are JSON: integers are numbers, booleans booleans, SQL `NULL` is `null`, every other
/// type (string, timestamp as `yyyy-MM-dd HH:mm:ss.SSS` with finer digits kept, decimal, double) is the string the
/// server sent, untouched by any client-side time zone.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultSet {
    /// Column descriptions, in select order.
    pub columns: Vec<Column>,
    /// Rows, each with one value per column.
    pub rows: Vec<Vec<serde_json::Value>>,
}

impl ResultSet {
    /// The rows deserialised into `T`, one per row; tuples match by position, e.g.
    /// `rows_as::<(String, i64)>()` for `SELECT page_url, COUNT(*)`.
    ///
    /// # Errors
    /// When a row does not fit `T` (wrong arity or type).
    pub fn rows_as<T: DeserializeOwned>(&self) -> Result<Vec<T>> {
        self.rows
            .iter()
            .map(|row| {
                serde_json::from_value(serde_json::Value::Array(row.clone()))
                    .with_context(|| format!("row {row:?} does not fit the requested type"))
            })
            .collect()
    }
}

#[derive(Deserialize)]
struct Header {
    columns: Vec<Column>,
}

impl Stack {
    /// Runs Hive SQL statements in order in one session and returns the result set of every
    /// statement that produced one (DDL answers with an empty or one-row set).
    ///
    /// # Errors
    /// When the server rejects a statement (the error carries the server's message) or the
    /// client cannot connect.
    pub fn hive_sql(&self, statements: &[&str]) -> Result<Vec<ResultSet>> {
        let mut args = vec!["sql"];
        args.extend_from_slice(statements);
        let out = self.run_script(&args)?;
        parse_json_lines(&out)
    }

    /// Runs one query and returns its result set.
    ///
    /// # Errors
    /// As [`Stack::hive_sql`], and when the statement returned no result set.
    pub fn query(&self, sql: &str) -> Result<ResultSet> {
        self.hive_sql(&[sql])?
            .pop()
            .with_context(|| format!("`{sql}` returned no result set"))
    }
}

pub(crate) fn parse_json_lines(out: &str) -> Result<Vec<ResultSet>> {
    let mut sets: Vec<ResultSet> = Vec::new();
    for line in out.lines().filter(|l| !l.trim().is_empty()) {
        if line.starts_with('{') {
            let header: Header =
                serde_json::from_str(line).with_context(|| format!("bad header line {line:?}"))?;
            sets.push(ResultSet {
                columns: header.columns,
                rows: Vec::new(),
            });
        } else {
            let row: Vec<serde_json::Value> =
                serde_json::from_str(line).with_context(|| format!("bad row line {line:?}"))?;
            let Some(set) = sets.last_mut() else {
                bail!("a row came before any column header: {line:?}");
            };
            if row.len() != set.columns.len() {
                bail!(
                    "row {row:?} has {} values for {} columns",
                    row.len(),
                    set.columns.len()
                );
            }
            set.rows.push(row);
        }
    }
    Ok(sets)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_result_sets_and_typed_rows() {
        let out = concat!(
            "{\"columns\":[{\"name\":\"Result\",\"type\":\"string\"}]}\n",
            "{\"columns\":[{\"name\":\"page\",\"type\":\"string\"},{\"name\":\"n\",\"type\":\"bigint\"}]}\n",
            "[\"/a\",3]\n",
            "[null,1]\n",
        );
        let sets = parse_json_lines(out).unwrap();
        assert_eq!(sets.len(), 2);
        assert!(sets[0].rows.is_empty());
        let rows: Vec<(Option<String>, i64)> = sets[1].rows_as().unwrap();
        assert_eq!(rows, vec![(Some("/a".into()), 3), (None, 1)]);
    }

    #[test]
    fn rejects_rows_of_the_wrong_width() {
        let out = "{\"columns\":[{\"name\":\"a\",\"type\":\"bigint\"}]}\n[1,2]\n";
        assert!(parse_json_lines(out).is_err());
    }
}
