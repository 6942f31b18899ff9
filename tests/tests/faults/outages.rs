//! Outages of the stack's services while the pipeline runs: one of the two DataNodes, the
//! Kafka broker, the Hive Metastore.
