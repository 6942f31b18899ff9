//! HDFS is real: files written through hdfs-native get 2 replicas on the 2 DataNodes and still
//! read back when one DataNode is down.

#![allow(clippy::unwrap_used)] // a test fails by panicking

use std::time::Duration;

use bytes::Bytes;
use hdfs_native::{Client, ClientBuilder, WriteOptions};
use wa_tests::{stack, unique_name, Stack};

fn client(s: &Stack) -> Client {
    ClientBuilder::new().with_url(&s.hdfs_url).build().unwrap()
}

/// 3 MB that are not all alike, so a misplaced block would show.
fn payload() -> Vec<u8> {
    (0..3_000_000u32)
        .map(|i| (i.wrapping_mul(7919) % 251) as u8)
        .collect()
}

async fn write(client: &Client, path: &str, data: &[u8]) {
    let mut writer = client.create(path, WriteOptions::default()).await.unwrap();
    writer
        .write_bytes(Bytes::copy_from_slice(data))
        .await
        .unwrap();
    writer.close().await.unwrap();
}

async fn read(client: &Client, path: &str) -> Vec<u8> {
    let reader = client.read(path).await.unwrap();
    reader
        .read_range(0, reader.file_length())
        .await
        .unwrap()
        .to_vec()
}

#[tokio::test(flavor = "multi_thread")]
async fn write_read_rename_delete_with_replication_two() {
    let s = stack();
    let _claim = s.shared();
    let client = client(s);
    let dir = format!("/tmp/wa-tests/{}", unique_name("smoke_hdfs"));
    client.mkdirs(&dir, 0o755, true).await.unwrap();

    let data = payload();
    let tmp = format!("{dir}/part.tmp");
    let done = format!("{dir}/part.bin");
    write(&client, &tmp, &data).await;
    assert_eq!(read(&client, &tmp).await, data);

    client.rename(&tmp, &done, false).await.unwrap();
    assert!(
        client.get_file_info(&tmp).await.is_err(),
        "the old name survived the rename"
    );
    let info = client.get_file_info(&done).await.unwrap();
    assert_eq!(info.length, data.len());
    assert_eq!(
        info.replication,
        Some(2),
        "the cluster's default replication should be 2"
    );
    assert_eq!(read(&client, &done).await, data);
    assert_eq!(s.live_datanodes().unwrap(), 2);

    assert!(client.delete(&dir, true).await.unwrap());
    assert!(
        client.get_file_info(&done).await.is_err(),
        "the file survived the delete"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn file_reads_back_with_one_datanode_stopped() {
    let s = stack();
    let _claim = s.exclusive();
    s.wait_live_datanodes(2, Duration::from_secs(60)).unwrap();
    let dir = format!("/tmp/wa-tests/{}", unique_name("smoke_dn"));
    let path = format!("{dir}/part.bin");
    let data = payload();
    {
        let client = client(s);
        client.mkdirs(&dir, 0o755, true).await.unwrap();
        write(&client, &path, &data).await;
        assert_eq!(
            client.get_file_info(&path).await.unwrap().replication,
            Some(2)
        );
    }

    for stopped in [0, 1] {
        let outage = s.datanode_outage(stopped).unwrap();
        // Right away, while the NameNode still lists the stopped node as a replica ...
        assert_eq!(
            read(&client(s), &path).await,
            data,
            "DataNode {stopped} down: read differs"
        );
        // ... and once the NameNode has noticed it is dead.
        s.wait_live_datanodes(1, Duration::from_secs(60)).unwrap();
        assert_eq!(
            read(&client(s), &path).await,
            data,
            "DataNode {stopped} dead: read differs"
        );
        outage.end().unwrap();
        s.wait_live_datanodes(2, Duration::from_secs(60)).unwrap();
    }
    assert_eq!(read(&client(s), &path).await, data);
    client(s).delete(&dir, true).await.unwrap();
}
