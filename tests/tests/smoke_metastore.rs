//! The Hive Metastore is real: a database, an external partitioned ORC table and a partition
//! created from Rust with the `hive_metastore` crate are visible to Hive SQL at once, read
//! through Hive's own ORC reader, without `MSCK REPAIR`.

#![allow(clippy::unwrap_used)] // a test fails by panicking

use hdfs_native::ClientBuilder;
use hive_metastore::{
    Database, FieldSchema, Partition, SerDeInfo, StorageDescriptor, Table,
    ThriftHiveMetastoreClient, ThriftHiveMetastoreClientBuilder,
};
use pilota::{AHashMap, FastStr};
use volo_thrift::codec::default::DefaultMakeCodec;
use volo_thrift::MaybeException;
use wa_tests::{stack, unique_name};

fn column(name: &str, type_name: &str) -> FieldSchema {
    FieldSchema {
        name: Some(FastStr::new(name)),
        r#type: Some(FastStr::new(type_name)),
        comment: None,
    }
}

fn orc_storage(location: &str) -> StorageDescriptor {
    StorageDescriptor {
        cols: Some(vec![
            column("id", "bigint"),
            column("page", "string"),
            column("ts", "timestamp"),
        ]),
        location: Some(FastStr::new(location)),
        input_format: Some("org.apache.hadoop.hive.ql.io.orc.OrcInputFormat".into()),
        output_format: Some("org.apache.hadoop.hive.ql.io.orc.OrcOutputFormat".into()),
        serde_info: Some(SerDeInfo {
            serialization_lib: Some("org.apache.hadoop.hive.ql.io.orc.OrcSerde".into()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn ok<T, E: std::fmt::Debug>(r: Result<MaybeException<T, E>, volo_thrift::ClientError>) -> T {
    match r.expect("metastore call failed") {
        MaybeException::Ok(v) => v,
        MaybeException::Exception(e) => panic!("metastore refused: {e:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn partition_added_through_the_metastore_is_read_by_hive_sql() {
    let s = stack();
    let _claim = s.shared();
    let settings = s
        .hive_sql(&[
            "SET spark.sql.hive.convertMetastoreOrc",
            "SET hive.exec.orc.split.strategy",
        ])
        .unwrap();
    assert_eq!(
        settings[0].rows[0][1], "false",
        "Spark must read ORC tables with Hive's reader"
    );
    assert_eq!(settings[1].rows[0][1], "ETL");

    let db = unique_name("smoke_db");
    let root = format!("/tmp/wa-tests/{db}");
    let location = format!("{}{root}/events", s.hdfs_url);
    let hms: ThriftHiveMetastoreClient = ThriftHiveMetastoreClientBuilder::new("hms")
        .address(s.metastore_addr)
        // The metastore speaks buffered (unframed) Thrift by default.
        .make_codec(DefaultMakeCodec::buffered())
        .build();
    ok(hms
        .create_database(Database {
            name: Some(FastStr::new(&db)),
            location_uri: Some(FastStr::new(format!("{}{root}/db", s.hdfs_url))),
            ..Default::default()
        })
        .await);
    let mut params = AHashMap::default();
    params.insert(FastStr::new("EXTERNAL"), FastStr::new("TRUE"));
    ok(hms
        .create_table(Table {
            db_name: Some(FastStr::new(&db)),
            table_name: Some("events".into()),
            table_type: Some("EXTERNAL_TABLE".into()),
            parameters: Some(params),
            partition_keys: Some(vec![column("dt", "string")]),
            sd: Some(orc_storage(&location)),
            ..Default::default()
        })
        .await);

    // An ORC file written by Hive's own writer (our writer comes with the Hive layer issue).
    let staging = format!("{}{root}/staging", s.hdfs_url);
    s.hive_sql(&[&format!(
        "INSERT OVERWRITE DIRECTORY '{staging}' STORED AS ORC \
         SELECT CAST(1 AS BIGINT) AS id, '/home' AS page, \
                CAST('2026-11-30 12:00:00.250' AS TIMESTAMP) AS ts \
         UNION ALL SELECT CAST(2 AS BIGINT), NULL, CAST('2026-11-30 23:59:59' AS TIMESTAMP)"
    )])
    .unwrap();
    let hdfs = ClientBuilder::new().with_url(&s.hdfs_url).build().unwrap();
    let partition_dir = format!("{root}/events/dt=2026-11-30");
    hdfs.mkdirs(&partition_dir, 0o755, true).await.unwrap();
    let mut moved = 0;
    for file in hdfs
        .list_status(&format!("{root}/staging"), false)
        .await
        .unwrap()
    {
        let name = file.path.rsplit('/').next().unwrap().to_string();
        if !file.isdir && !name.starts_with('_') && !name.starts_with('.') {
            hdfs.rename(&file.path, &format!("{partition_dir}/{name}"), false)
                .await
                .unwrap();
            moved += 1;
        }
    }
    assert!(moved > 0, "Hive wrote no ORC file");

    // Not visible before the partition is added ...
    let before = s
        .query(&format!("SELECT COUNT(*) FROM {db}.events"))
        .unwrap();
    assert_eq!(before.rows_as::<(i64,)>().unwrap(), vec![(0,)]);

    ok(hms
        .add_partition(Partition {
            db_name: Some(FastStr::new(&db)),
            table_name: Some("events".into()),
            values: Some(vec!["2026-11-30".into()]),
            sd: Some(orc_storage(&format!("{location}/dt=2026-11-30"))),
            ..Default::default()
        })
        .await);

    // ... and visible right after, with no MSCK REPAIR.
    let rows = s
        .query(&format!(
            "SELECT id, page, ts, dt FROM {db}.events ORDER BY id"
        ))
        .unwrap()
        .rows_as::<(i64, Option<String>, String, String)>()
        .unwrap();
    assert_eq!(
        rows,
        vec![
            (
                1,
                Some("/home".into()),
                "2026-11-30 12:00:00.250".into(),
                "2026-11-30".into()
            ),
            (
                2,
                None,
                "2026-11-30 23:59:59.000".into(),
                "2026-11-30".into()
            ),
        ]
    );

    ok(hms.drop_database(FastStr::new(&db), false, true).await);
    hdfs.delete(&root, true).await.unwrap();
}
