import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.HashSet;
import java.util.Set;

/**
 * Latency probe of the benchmark: polls a {@code page_analytics} table through Hive SQL (the
 * HiveServer2 protocol, one connection for the whole run) and prints, for every window the
 * first time it is visible, one tab-separated line
 * {@code window_end_ms  rows  poll_started_ms  poll_finished_ms  previous_poll_started_ms} (UTC
 * epoch milliseconds; the window became visible between the start of the previous successful poll,
 * which did not see it, and this poll's end; {@code 0} when there was no previous poll).
 *
 * <p>Usage: {@code WindowVisibility JDBC_URL DB.TABLE INTERVAL_MS}. Runs until killed; a failed
 * poll (e.g. the table does not exist yet) is reported on stderr and retried.
 */
public final class WindowVisibility {
  public static void main(String[] args) throws Exception {
    if (args.length != 3) {
      System.err.println("usage: WindowVisibility JDBC_URL DB.TABLE INTERVAL_MS");
      System.exit(2);
    }
    String table = args[1];
    if (!table.matches("[A-Za-z0-9_]+\\.[A-Za-z0-9_]+")) {
      System.err.println("WindowVisibility: table must be DB.TABLE, got " + table);
      System.exit(2);
    }
    long interval = Long.parseLong(args[2]);
    Class.forName("org.apache.hive.jdbc.HiveDriver");
    String user = System.getProperty("user.name", "hive");
    String sql = "SELECT unix_millis(window_end) AS e, COUNT(*) AS n FROM " + table
        + " GROUP BY unix_millis(window_end)";
    Set<Long> seen = new HashSet<>();
    long previous = 0;
    try (Connection c = DriverManager.getConnection(args[0], user, "");
        Statement st = c.createStatement()) {
      while (true) {
        long started = System.currentTimeMillis();
        try (ResultSet rs = st.executeQuery(sql)) {
          StringBuilder out = new StringBuilder();
          long finished = System.currentTimeMillis();
          while (rs.next()) {
            long end = rs.getLong(1);
            if (seen.add(end)) {
              out.append(end).append('\t').append(rs.getLong(2)).append('\t')
                  .append(started).append('\t').append(finished).append('\t')
                  .append(previous).append('\n');
            }
          }
          System.out.print(out);
          System.out.flush();
          previous = started; // a poll that failed shows nothing about what was there
        } catch (java.sql.SQLException e) {
          // The table may not exist yet (the job creates it at start): try again.
          System.err.println("WindowVisibility: " + e.getMessage().split("\n")[0]);
        }
        long wait = started + interval - System.currentTimeMillis();
        if (wait > 0) Thread.sleep(wait);
      }
    }
  }
}
