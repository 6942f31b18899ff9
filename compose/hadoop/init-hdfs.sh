#!/usr/bin/env bash
# One-shot HDFS set-up of the Compose stack (service `hdfs-init`). Runs in the apache/hadoop
# image as `hadoop`, the user the NameNode runs as, which makes it the HDFS superuser.
# Idempotent: it runs again on every `docker compose up` and changes nothing the second time.
#
# Waits until the NameNode is out of safe mode and EXPECTED_DATANODES DataNodes are live (a
# file with replication 2 cannot be written before), then creates the directories our
# programs and Hive use, with their owners:
#
#   /tmp                   hadoop:supergroup  1777  Hive scratch space and Tez staging
#   /user/$HIVE_USER       hive:hive           755  Hive's home (jars of its Tez sessions)
#   $WAREHOUSE_DIR         hive:analytics      775  tables; the metastore creates table
#                                                   directories, wa commits files into them
#   $ARCHIVE_DIR           wa:analytics        755  raw archive (wa-archiver)
#   $CHECKPOINT_DIR        wa:analytics        750  dataflow checkpoints (wa-dataflow)
set -euo pipefail

: "${WAREHOUSE_DIR:?}" "${ARCHIVE_DIR:?}" "${CHECKPOINT_DIR:?}"
: "${APP_USER:?}" "${HIVE_USER:?}" "${SHARED_GROUP:?}" "${EXPECTED_DATANODES:?}"

log() { echo "hdfs-init: $*"; }

log "waiting for the NameNode to leave safe mode"
hdfs dfsadmin -safemode wait

log "waiting for $EXPECTED_DATANODES live DataNodes"
live=0
for _ in $(seq 1 90); do
  live=$(hdfs dfsadmin -report -live 2>/dev/null | sed -n 's/^Live datanodes (\([0-9]*\)).*/\1/p')
  if [ "${live:-0}" -ge "$EXPECTED_DATANODES" ]; then
    break
  fi
  sleep 2
done
if [ "${live:-0}" -lt "$EXPECTED_DATANODES" ]; then
  log "only ${live:-0} of $EXPECTED_DATANODES DataNodes are live after 3 minutes; see 'docker compose logs datanode1 datanode2'"
  exit 1
fi

hdfs dfs -mkdir -p /tmp "/user/$HIVE_USER" "$WAREHOUSE_DIR" "$ARCHIVE_DIR" "$CHECKPOINT_DIR"
hdfs dfs -chmod 1777 /tmp
hdfs dfs -chown "$HIVE_USER:$HIVE_USER" "/user/$HIVE_USER"
hdfs dfs -chown "$HIVE_USER:$SHARED_GROUP" "$WAREHOUSE_DIR"
hdfs dfs -chmod 775 "$WAREHOUSE_DIR"
hdfs dfs -chown "$APP_USER:$SHARED_GROUP" "$ARCHIVE_DIR" "$CHECKPOINT_DIR"
hdfs dfs -chmod 755 "$ARCHIVE_DIR"
hdfs dfs -chmod 750 "$CHECKPOINT_DIR"

hdfs dfs -ls -d /tmp "/user/$HIVE_USER" "$WAREHOUSE_DIR" "$ARCHIVE_DIR" "$CHECKPOINT_DIR"
log "done"
