import java.io.BufferedReader;
import java.io.File;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.hdfs.HdfsConfiguration;
import org.apache.hadoop.hdfs.MiniDFSCluster;
import org.apache.hadoop.hdfs.server.datanode.DataNode;

/**
 * HDFS for the local real stack: a MiniDFSCluster with one NameNode and two DataNodes, data on
 * disk under a base folder, plus a line-oriented control port so a DataNode can be stopped and
 * started again while the cluster runs.
 *
 * <p>Usage: {@code MiniHdfs BASE_DIR NAMENODE_PORT HTTP_PORT CONTROL_PORT FORMAT(true|false)}.
 *
 * <p>Control commands (one per connection, answered with one line starting with {@code ok} or
 * {@code error}): {@code ready}, {@code status}, {@code stop-datanode N}, {@code start-datanode N}
 * where N is 0 or 1, the DataNode's index at start-up.
 */
public final class MiniHdfs {
  private static final int DATANODES = 2;

  private final MiniDFSCluster cluster;
  /** Transfer address (host:port) of each DataNode by its start-up index; stable across restarts. */
  private final String[] xferAddr = new String[DATANODES];
  /** Properties of stopped DataNodes, kept to restart them on the same ports and storage. */
  private final Map<Integer, MiniDFSCluster.DataNodeProperties> stopped = new HashMap<>();

  private MiniHdfs(MiniDFSCluster cluster) {
    this.cluster = cluster;
    for (int i = 0; i < DATANODES; i++) {
      xferAddr[i] = cluster.getDataNodes().get(i).getDatanodeId().getXferAddr();
    }
  }

  public static void main(String[] args) throws Exception {
    if (args.length != 5) {
      System.err.println("usage: MiniHdfs BASE_DIR NAMENODE_PORT HTTP_PORT CONTROL_PORT FORMAT");
      System.exit(2);
    }
    String base = new File(args[0]).getAbsolutePath();
    int nnPort = Integer.parseInt(args[1]);
    int httpPort = Integer.parseInt(args[2]);
    int controlPort = Integer.parseInt(args[3]);
    boolean format = Boolean.parseBoolean(args[4]);

    Configuration conf = new HdfsConfiguration();
    conf.set(MiniDFSCluster.HDFS_MINIDFS_BASEDIR, base);
    conf.setInt("dfs.replication", 2);
    conf.setBoolean("dfs.permissions.enabled", false);
    // Notice a stopped DataNode within ~15 s instead of 10.5 min, so fault tests see it dead.
    conf.setLong("dfs.heartbeat.interval", 1);
    conf.setInt("dfs.namenode.heartbeat.recheck-interval", 5000);
    // Re-replicate quickly once a DataNode is back.
    conf.setInt("dfs.namenode.replication.interval", 1);
    // A re-replication the NameNode scheduled while the target was down is retried only after
    // this timeout (default 300 s): one archive file kept 1 replica for 180 s in a CI run.
    conf.setInt("dfs.namenode.reconstruction.pending.timeout-sec", 20);
    conf.setBoolean("dfs.client.block.write.replace-datanode-on-failure.enable", false);
    // A writer killed mid-file (the fault tests do it dozens of times) leaves its block
    // scheduled on the DataNodes until the NameNode forgets the schedule (10 min). A DataNode
    // is offered for a new block only if its free space exceeds (scheduled blocks + 1) x the
    // *new* block's size, so after a few hundred kills a writer asking for 128 MB blocks finds
    // both DataNodes "full" ("could only be written to 0 of the 1 minReplication nodes ... 2
    // node(s) are excluded"). Our files are small: our programs size each file's blocks to
    // the file, this default is 8 MB, and the stack's other clients use 1 MB, the smallest
    // HDFS allows (hdfs-site.xml; for Spark spark.hadoop.dfs.blocksize and, because ORC
    // writers ask for their own block size, 256 MB by default, spark.hadoop.orc.block.size:
    // after the fault suite ~166 scheduled blocks x 256 MB exceeded the ~41 GB free).
    conf.setLong("dfs.blocksize", 8L * 1024 * 1024);

    MiniDFSCluster cluster = new MiniDFSCluster.Builder(conf)
        .nameNodePort(nnPort)
        .nameNodeHttpPort(httpPort)
        .numDataNodes(DATANODES)
        .format(format)
        .manageNameDfsDirs(true)
        .manageDataDfsDirs(true)
        .build();
    cluster.waitActive();
    MiniHdfs hdfs = new MiniHdfs(cluster);
    Runtime.getRuntime().addShutdownHook(new Thread(cluster::shutdown));
    System.err.println("MiniHdfs: NameNode hdfs://127.0.0.1:" + nnPort + ", " + DATANODES
        + " DataNodes, control port " + controlPort);
    hdfs.serve(controlPort);
  }

  private void serve(int port) throws Exception {
    try (ServerSocket server = new ServerSocket(port, 16, InetAddress.getLoopbackAddress())) {
      while (true) {
        try (Socket s = server.accept();
            BufferedReader in = new BufferedReader(
                new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8));
            PrintWriter out = new PrintWriter(s.getOutputStream(), true, StandardCharsets.UTF_8)) {
          String line = in.readLine();
          String reply;
          try {
            reply = handle(line == null ? "" : line.trim());
          } catch (Exception e) {
            reply = "error " + e;
          }
          out.println(reply);
        } catch (Exception e) {
          System.err.println("MiniHdfs: control connection failed: " + e);
        }
      }
    }
  }

  private synchronized String handle(String command) throws Exception {
    String[] words = command.split("\\s+");
    switch (words[0]) {
      case "ready":
        return cluster.isClusterUp() && !cluster.getNameNode().isInSafeMode()
            ? "ok" : "error not ready";
      case "status":
        return "ok " + status();
      case "stop-datanode": {
        int i = index(words);
        if (stopped.containsKey(i)) {
          return "ok datanode " + i + " already stopped";
        }
        MiniDFSCluster.DataNodeProperties props = cluster.stopDataNode(xferAddr[i]);
        if (props == null) {
          return "error datanode " + i + " not found";
        }
        stopped.put(i, props);
        return "ok datanode " + i + " stopped";
      }
      case "start-datanode": {
        int i = index(words);
        MiniDFSCluster.DataNodeProperties props = stopped.remove(i);
        if (props == null) {
          return "ok datanode " + i + " already running";
        }
        cluster.restartDataNode(props, true);
        cluster.waitActive();
        return "ok datanode " + i + " started";
      }
      default:
        return "error unknown command '" + command + "'";
    }
  }

  private static int index(String[] words) {
    if (words.length != 2) {
      throw new IllegalArgumentException("expected a DataNode index");
    }
    int i = Integer.parseInt(words[1]);
    if (i < 0 || i >= DATANODES) {
      throw new IllegalArgumentException("DataNode index must be 0.." + (DATANODES - 1));
    }
    return i;
  }

  private String status() {
    StringBuilder b = new StringBuilder();
    b.append("live=").append(cluster.getNamesystem().getNumLiveDataNodes());
    for (int i = 0; i < DATANODES; i++) {
      b.append(" dn").append(i).append('=').append(stopped.containsKey(i) ? "stopped" : "running")
          .append('(').append(xferAddr[i]).append(')');
    }
    return b.toString();
  }
}
