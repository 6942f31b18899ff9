//! The Hive Metastore client: databases, tables and partitions, through the `hive_metastore`
//! crate's Thrift client. Every call is bounded by a timeout; transport failures and timeouts
//! come back as retryable errors ([`HiveError::is_retryable`]), and "already exists" answers
//! are success, so every operation here is idempotent.

use std::net::SocketAddr;
use std::time::Duration;

use hive_metastore::{
    Database, FieldSchema, GetTableRequest, Partition, SerDeInfo, StorageDescriptor,
    ThriftHiveMetastoreAddPartitionException as AddPartitionEx, ThriftHiveMetastoreClient,
    ThriftHiveMetastoreClientBuilder, ThriftHiveMetastoreCreateDatabaseException as CreateDbEx,
    ThriftHiveMetastoreCreateTableException as CreateTableEx,
    ThriftHiveMetastoreGetDatabaseException as GetDbEx,
    ThriftHiveMetastoreGetTableReqException as GetTableEx,
};
use pilota::{AHashMap, FastStr};
use volo_thrift::codec::default::DefaultMakeCodec;
use volo_thrift::MaybeException;

use crate::ddl::{ColumnDef, StorageFormat, TableDef};
use crate::layout::PartitionDate;
use crate::HiveError;

const ORC_INPUT_FORMAT: &str = "org.apache.hadoop.hive.ql.io.orc.OrcInputFormat";
const ORC_OUTPUT_FORMAT: &str = "org.apache.hadoop.hive.ql.io.orc.OrcOutputFormat";
const ORC_SERDE: &str = "org.apache.hadoop.hive.ql.io.orc.OrcSerde";

/// What an idempotent create did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created {
    /// It did not exist and was created now.
    New,
    /// It existed already (and, for a table, matches its DDL).
    Existing,
}

/// A connection to one metastore. Cheap to clone (the Thrift client pools its connections and
/// reconnects after the metastore restarts).
#[derive(Clone)]
pub struct MetastoreClient {
    client: ThriftHiveMetastoreClient,
    timeout: Duration,
}

impl std::fmt::Debug for MetastoreClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetastoreClient")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// Splits `thrift://host:port` into `(host, port)`.
///
/// # Errors
/// [`HiveError::Config`] for anything else.
pub fn parse_thrift_uri(uri: &str) -> Result<(String, u16), HiveError> {
    let bad = || {
        HiveError::Config(format!(
            "metastore URI {uri:?} must look like thrift://host:port"
        ))
    };
    let rest = uri.strip_prefix("thrift://").ok_or_else(bad)?;
    let rest = rest.trim_end_matches('/');
    let (host, port) = rest.rsplit_once(':').ok_or_else(bad)?;
    let port = port.parse().map_err(|_| bad())?;
    if host.is_empty() {
        return Err(bad());
    }
    Ok((
        host.trim_start_matches('[')
            .trim_end_matches(']')
            .to_string(),
        port,
    ))
}

async fn call<T, E: std::fmt::Debug>(
    op: &'static str,
    timeout: Duration,
    fut: impl std::future::Future<Output = Result<MaybeException<T, E>, volo_thrift::ClientError>>,
) -> Result<Result<T, E>, HiveError> {
    match tokio::time::timeout(timeout, fut).await {
        Err(_) => Err(HiveError::MetastoreTimeout { op, after: timeout }),
        Ok(Err(e)) => Err(HiveError::MetastoreUnavailable {
            op,
            detail: e.to_string(),
        }),
        Ok(Ok(MaybeException::Ok(v))) => Ok(Ok(v)),
        Ok(Ok(MaybeException::Exception(e))) => Ok(Err(e)),
    }
}

fn refused(op: &'static str, e: impl std::fmt::Debug) -> HiveError {
    HiveError::MetastoreRefused {
        op,
        detail: format!("{e:?}"),
    }
}

fn field(c: &ColumnDef) -> FieldSchema {
    FieldSchema {
        name: Some(FastStr::new(&c.name)),
        r#type: Some(FastStr::new(c.hive_type.metastore_name())),
        comment: c.comment.as_deref().map(FastStr::new),
    }
}

const TEXT_INPUT_FORMAT: &str = "org.apache.hadoop.mapred.TextInputFormat";
const TEXT_OUTPUT_FORMAT: &str = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat";
const TEXT_SERDE: &str = "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe";

/// The storage descriptor of a table or partition at `location`: columns from `def`, formats
/// and serde from its `STORED AS` (ORC, or text with `LazySimpleSerDe`).
pub fn storage_descriptor(def: &TableDef, location: &str) -> StorageDescriptor {
    let mut serde_params = AHashMap::default();
    let (input, output, serde) = match def.format {
        StorageFormat::Orc => (ORC_INPUT_FORMAT, ORC_OUTPUT_FORMAT, ORC_SERDE),
        StorageFormat::TextFile => {
            serde_params.insert(FastStr::new("serialization.format"), FastStr::new("1"));
            (TEXT_INPUT_FORMAT, TEXT_OUTPUT_FORMAT, TEXT_SERDE)
        }
    };
    StorageDescriptor {
        cols: Some(def.columns.iter().map(field).collect()),
        location: Some(FastStr::new(location)),
        input_format: Some(input.into()),
        output_format: Some(output.into()),
        compressed: Some(false),
        num_buckets: Some(-1),
        serde_info: Some(SerDeInfo {
            serialization_lib: Some(serde.into()),
            parameters: Some(serde_params),
            ..Default::default()
        }),
        bucket_cols: Some(vec![]),
        sort_cols: Some(vec![]),
        parameters: Some(AHashMap::default()),
        ..Default::default()
    }
}

/// The metastore `Table` object for `def` in `database` at `location`: external, ORC,
/// partitioned as the DDL says, comment from the DDL.
pub fn table_object(def: &TableDef, database: &str, location: &str) -> hive_metastore::Table {
    let mut params = AHashMap::default();
    params.insert(FastStr::new("EXTERNAL"), FastStr::new("TRUE"));
    if let Some(comment) = &def.comment {
        params.insert(FastStr::new("comment"), FastStr::new(comment));
    }
    hive_metastore::Table {
        db_name: Some(FastStr::new(database)),
        table_name: Some(FastStr::new(&def.name)),
        table_type: Some("EXTERNAL_TABLE".into()),
        owner: Some("wa-hive".into()),
        parameters: Some(params),
        partition_keys: Some(def.partition_keys.iter().map(field).collect()),
        sd: Some(storage_descriptor(def, location)),
        ..Default::default()
    }
}

fn describe(cols: &[FieldSchema]) -> Vec<(String, String)> {
    cols.iter()
        .map(|f| {
            let s = |v: &Option<FastStr>| v.as_deref().unwrap_or_default().to_ascii_lowercase();
            (s(&f.name), s(&f.r#type))
        })
        .collect()
}

/// Compares an existing table with the one we would create; `None` when they match in columns
/// (names and types, in order), partition keys and location.
pub fn table_drift(
    existing: &hive_metastore::Table,
    wanted: &hive_metastore::Table,
) -> Option<String> {
    let cols = |t: &hive_metastore::Table| {
        describe(
            t.sd.as_ref()
                .and_then(|sd| sd.cols.as_deref())
                .unwrap_or_default(),
        )
    };
    let keys =
        |t: &hive_metastore::Table| describe(t.partition_keys.as_deref().unwrap_or_default());
    let location = |t: &hive_metastore::Table| {
        t.sd.as_ref()
            .and_then(|sd| sd.location.as_deref())
            .unwrap_or_default()
            .trim_end_matches('/')
            .to_string()
    };
    if cols(existing) != cols(wanted) {
        return Some(format!(
            "columns are {:?}, the DDL has {:?}",
            cols(existing),
            cols(wanted)
        ));
    }
    if keys(existing) != keys(wanted) {
        return Some(format!(
            "partition keys are {:?}, the DDL has {:?}",
            keys(existing),
            keys(wanted)
        ));
    }
    if location(existing) != location(wanted) {
        return Some(format!(
            "location is {}, expected {}",
            location(existing),
            location(wanted)
        ));
    }
    None
}

impl MetastoreClient {
    /// A client for `thrift://host:port` (resolved now; no connection is made until the first
    /// call). Each call fails after `timeout`.
    ///
    /// # Errors
    /// [`HiveError::Config`] for a malformed URI or a host name that does not resolve.
    pub async fn connect(uri: &str, timeout: Duration) -> Result<Self, HiveError> {
        let (host, port) = parse_thrift_uri(uri)?;
        let addr: SocketAddr = tokio::net::lookup_host((host.as_str(), port))
            .await
            .map_err(|e| HiveError::Config(format!("metastore host {host}: {e}")))?
            .next()
            .ok_or_else(|| HiveError::Config(format!("metastore host {host} has no address")))?;
        let client = ThriftHiveMetastoreClientBuilder::new("hive-metastore")
            .address(addr)
            // The metastore speaks buffered (unframed) binary Thrift by default.
            .make_codec(DefaultMakeCodec::buffered())
            .build();
        Ok(MetastoreClient { client, timeout })
    }

    /// Creates database `name` at `location` unless it exists.
    ///
    /// # Errors
    /// Retryable transport errors and timeouts; [`HiveError::MetastoreRefused`] otherwise.
    pub async fn ensure_database(&self, name: &str, location: &str) -> Result<Created, HiveError> {
        match call(
            "get_database",
            self.timeout,
            self.client.get_database(FastStr::new(name)),
        )
        .await?
        {
            Ok(_) => return Ok(Created::Existing),
            Err(GetDbEx::O1(_)) => {} // NoSuchObjectException
            Err(e) => return Err(refused("get_database", e)),
        }
        let db = Database {
            name: Some(FastStr::new(name)),
            location_uri: Some(FastStr::new(location)),
            description: Some("Web analytics tables (wa-hive)".into()),
            ..Default::default()
        };
        match call(
            "create_database",
            self.timeout,
            self.client.create_database(db),
        )
        .await?
        {
            Ok(()) => Ok(Created::New),
            Err(CreateDbEx::O1(_)) => Ok(Created::Existing), // AlreadyExistsException: a race
            // Losing the race can also come back as a MetaException ("Unable to delete
            // directory …": the loser's metastore thread cleans up the directory the winner
            // made). If the database exists now, someone else created it.
            Err(e) => match call(
                "get_database",
                self.timeout,
                self.client.get_database(FastStr::new(name)),
            )
            .await?
            {
                Ok(_) => Ok(Created::Existing),
                Err(_) => Err(refused("create_database", e)),
            },
        }
    }

    /// Creates the external table `def` in `database` at `location` unless it exists; an
    /// existing table must match the DDL.
    ///
    /// # Errors
    /// [`HiveError::TableDrift`] when an existing table differs (columns, partition keys,
    /// location); retryable transport errors; [`HiveError::MetastoreRefused`] otherwise.
    pub async fn ensure_table(
        &self,
        def: &TableDef,
        database: &str,
        location: &str,
    ) -> Result<Created, HiveError> {
        let wanted = table_object(def, database, location);
        let created = match call(
            "create_table",
            self.timeout,
            self.client.create_table(wanted.clone()),
        )
        .await?
        {
            Ok(()) => return Ok(Created::New),
            Err(CreateTableEx::O1(_)) => Created::Existing, // AlreadyExistsException
            // A concurrent creator may make us fail otherwise (as for databases): if the
            // table exists now, it is judged below like any existing table.
            Err(e) => match self.table(database, &def.name).await? {
                Some(_) => Created::Existing,
                None => return Err(refused("create_table", e)),
            },
        };
        let existing = self
            .table(database, &def.name)
            .await?
            .ok_or_else(|| refused("get_table_req", "table vanished after AlreadyExists"))?;
        match table_drift(&existing, &wanted) {
            None => Ok(created),
            Some(detail) => Err(HiveError::TableDrift {
                table: format!("{database}.{}", def.name),
                detail,
            }),
        }
    }

    /// The table object, or `None` when there is no such table.
    ///
    /// # Errors
    /// Retryable transport errors and timeouts; [`HiveError::MetastoreRefused`].
    pub async fn table(
        &self,
        database: &str,
        table: &str,
    ) -> Result<Option<hive_metastore::Table>, HiveError> {
        // `get_table_req`, not `get_table`: Hive 4.0.1 removed `get_table`; the request form
        // exists from Hive 2.3 on and answers alike everywhere.
        let fut = self.client.get_table_req(GetTableRequest {
            db_name: FastStr::new(database),
            tbl_name: FastStr::new(table),
            ..Default::default()
        });
        match call("get_table_req", self.timeout, fut).await? {
            Ok(found) => Ok(Some(found.table)),
            Err(GetTableEx::O2(_)) => Ok(None), // NoSuchObjectException
            Err(e) => Err(refused("get_table_req", e)),
        }
    }

    /// Adds partition `dt` of table `def` (in `database`, table directory `table_location`)
    /// unless it exists. Its directory is `<table_location>/<key>=<dt>`, `key` being the
    /// table's partition column (`dt`, or `date` for the archive).
    ///
    /// # Errors
    /// Retryable transport errors and timeouts; [`HiveError::MetastoreRefused`] otherwise (e.g.
    /// the table does not exist).
    pub async fn add_partition(
        &self,
        def: &TableDef,
        database: &str,
        table_location: &str,
        dt: PartitionDate,
    ) -> Result<Created, HiveError> {
        let key = def.partition_keys.first().map_or("dt", |k| k.name.as_str());
        let location = format!("{}/{key}={dt}", table_location.trim_end_matches('/'));
        let partition = Partition {
            db_name: Some(FastStr::new(database)),
            table_name: Some(FastStr::new(&def.name)),
            values: Some(vec![FastStr::new(dt.to_string())]),
            sd: Some(storage_descriptor(def, &location)),
            parameters: Some(AHashMap::default()),
            ..Default::default()
        };
        match call(
            "add_partition",
            self.timeout,
            self.client.add_partition(partition),
        )
        .await?
        {
            Ok(_) => Ok(Created::New),
            Err(AddPartitionEx::O2(_)) => Ok(Created::Existing), // AlreadyExistsException
            Err(e) => Err(refused("add_partition", e)),
        }
    }

    /// Names of all tables in `database`, as the metastore lists them.
    ///
    /// # Errors
    /// Retryable transport errors and timeouts; [`HiveError::MetastoreRefused`].
    pub async fn table_names(&self, database: &str) -> Result<Vec<String>, HiveError> {
        let fut = self.client.get_all_tables(FastStr::new(database));
        let names = call("get_all_tables", self.timeout, fut)
            .await?
            .map_err(|e| refused("get_all_tables", e))?;
        Ok(names.iter().map(|n| n.to_string()).collect())
    }

    /// Partition names of a table (`dt=YYYY-MM-DD`), sorted.
    ///
    /// # Errors
    /// Retryable transport errors and timeouts; [`HiveError::MetastoreRefused`], also for a
    /// table that does not exist (Hive 3.1 refuses the listing, 4.x answers an empty one: an
    /// empty answer is checked against the table).
    pub async fn partition_names(
        &self,
        database: &str,
        table: &str,
    ) -> Result<Vec<String>, HiveError> {
        let fut = self
            .client
            .get_partition_names(FastStr::new(database), FastStr::new(table), -1);
        let names = call("get_partition_names", self.timeout, fut)
            .await?
            .map_err(|e| refused("get_partition_names", e))?;
        if names.is_empty() && self.table(database, table).await?.is_none() {
            return Err(refused(
                "get_partition_names",
                format!("no table {database}.{table}"),
            ));
        }
        let mut names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        names.sort();
        Ok(names)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Table;

    #[test]
    fn thrift_uris() {
        assert_eq!(
            parse_thrift_uri("thrift://127.0.0.1:9083").unwrap(),
            ("127.0.0.1".into(), 9083)
        );
        assert_eq!(
            parse_thrift_uri("thrift://hms.example:9083/").unwrap(),
            ("hms.example".into(), 9083)
        );
        assert_eq!(
            parse_thrift_uri("thrift://[::1]:9083").unwrap(),
            ("::1".into(), 9083)
        );
        for bad in [
            "127.0.0.1:9083",
            "thrift://host",
            "thrift://:9083",
            "thrift://h:x",
        ] {
            assert!(parse_thrift_uri(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn table_objects_come_from_the_ddl_and_drift_is_detected() {
        let def = Table::PageAnalytics.def();
        let t = table_object(def, "db", "hdfs://nn/wh/db.db/page_analytics");
        assert_eq!(t.table_type.as_deref(), Some("EXTERNAL_TABLE"));
        let sd = t.sd.as_ref().unwrap();
        let cols = describe(sd.cols.as_deref().unwrap());
        assert_eq!(cols.len(), def.columns.len());
        assert_eq!(cols[2], ("event_count".into(), "bigint".into()));
        assert_eq!(
            describe(t.partition_keys.as_deref().unwrap()),
            vec![("dt".into(), "string".into())]
        );
        assert_eq!(sd.input_format.as_deref(), Some(ORC_INPUT_FORMAT));
        assert_eq!(table_drift(&t, &t), None);

        let mut other = t.clone();
        other.sd.as_mut().unwrap().cols.as_mut().unwrap()[2].r#type = Some("int".into());
        assert!(table_drift(&other, &t).unwrap().contains("columns"));
        let moved = table_object(def, "db", "hdfs://nn/elsewhere/");
        assert!(table_drift(&moved, &t).unwrap().contains("location"));
        // Case and a trailing slash do not count as drift.
        let mut upper = table_object(def, "db", "hdfs://nn/wh/db.db/page_analytics/");
        upper.sd.as_mut().unwrap().cols.as_mut().unwrap()[0].r#type = Some("STRING".into());
        assert_eq!(table_drift(&upper, &t), None);
    }
}
