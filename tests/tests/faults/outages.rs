//! Outages of the stack's services while the whole pipeline runs — one of the two DataNodes,
//! the Kafka broker, the Hive Metastore for 60 s — judged like the other fault cases. Not
//! written yet (issue 8 cases 3–5); per component they are covered by `hive_layer`
//! (metastore outage), `archiver` (metastore outage) and `smoke_hdfs` (a DataNode down).
