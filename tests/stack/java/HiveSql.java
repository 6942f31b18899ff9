import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.Statement;
import java.sql.Types;

/**
 * Runs Hive SQL statements over JDBC (HiveServer2 protocol) and prints every result set as JSON
 * lines: first {@code {"columns":[{"name":…,"type":…},…]}}, then one JSON array per row. Integers
 * are JSON numbers, booleans JSON booleans, SQL NULL is {@code null}; every other type (strings,
 * timestamps, decimals, doubles) is printed as the string the server sends, so nothing is lost to
 * a client-side conversion or time zone; timestamps are only padded to millisecond digits
 * ({@code yyyy-MM-dd HH:mm:ss.SSS}).
 *
 * <p>Usage: {@code HiveSql JDBC_URL STATEMENT...}. Exits 1 with the server's message on error.
 */
public final class HiveSql {
  public static void main(String[] args) throws Exception {
    if (args.length < 2) {
      System.err.println("usage: HiveSql JDBC_URL STATEMENT...");
      System.exit(2);
    }
    Class.forName("org.apache.hive.jdbc.HiveDriver");
    String user = System.getProperty("user.name", "hive");
    StringBuilder out = new StringBuilder();
    try (Connection c = DriverManager.getConnection(args[0], user, "");
        Statement st = c.createStatement()) {
      for (int i = 1; i < args.length; i++) {
        if (st.execute(args[i])) {
          try (ResultSet rs = st.getResultSet()) {
            print(rs, out);
          }
        }
      }
    } catch (java.sql.SQLException e) {
      System.out.print(out);
      System.err.println("HiveSql: " + e.getMessage());
      System.exit(1);
    }
    System.out.print(out);
  }

  private static void print(ResultSet rs, StringBuilder out) throws Exception {
    ResultSetMetaData md = rs.getMetaData();
    int n = md.getColumnCount();
    out.append("{\"columns\":[");
    for (int i = 1; i <= n; i++) {
      if (i > 1) out.append(',');
      out.append("{\"name\":");
      quote(md.getColumnLabel(i), out);
      out.append(",\"type\":");
      quote(md.getColumnTypeName(i).toLowerCase(), out);
      out.append('}');
    }
    out.append("]}\n");
    while (rs.next()) {
      out.append('[');
      for (int i = 1; i <= n; i++) {
        if (i > 1) out.append(',');
        switch (md.getColumnType(i)) {
          case Types.TINYINT: case Types.SMALLINT: case Types.INTEGER: case Types.BIGINT: {
            long v = rs.getLong(i);
            out.append(rs.wasNull() ? "null" : Long.toString(v));
            break;
          }
          case Types.BOOLEAN: {
            boolean v = rs.getBoolean(i);
            out.append(rs.wasNull() ? "null" : Boolean.toString(v));
            break;
          }
          case Types.TIMESTAMP: {
            String v = rs.getString(i);
            if (v == null) out.append("null"); else quote(millis(v), out);
            break;
          }
          default: {
            String v = rs.getString(i);
            if (v == null) out.append("null"); else quote(v, out);
          }
        }
      }
      out.append("]\n");
    }
  }

  /**
   * A timestamp as text with at least millisecond digits ({@code 2026-11-30 23:59:59.000}), so
   * one instant always prints the same way; finer digits are kept. Pure text: no time zone.
   */
  private static String millis(String ts) {
    int dot = ts.indexOf('.');
    if (dot < 0) return ts + ".000";
    String frac = ts.substring(dot + 1);
    while (frac.length() > 3 && frac.endsWith("0")) frac = frac.substring(0, frac.length() - 1);
    while (frac.length() < 3) frac = frac + "0";
    return ts.substring(0, dot + 1) + frac;
  }

  private static void quote(String s, StringBuilder out) {
    out.append('"');
    for (int i = 0; i < s.length(); i++) {
      char ch = s.charAt(i);
      switch (ch) {
        case '"': out.append("\\\""); break;
        case '\\': out.append("\\\\"); break;
        case '\n': out.append("\\n"); break;
        case '\r': out.append("\\r"); break;
        case '\t': out.append("\\t"); break;
        default:
          if (ch < 0x20) out.append(String.format("\\u%04x", (int) ch)); else out.append(ch);
      }
    }
    out.append('"');
  }
}
