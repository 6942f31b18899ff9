// The live page of wa-dashboard. Plain JavaScript, no build step, no request but to this
// page's own origin.
//
// Data: GET /api/snapshot once at load, then EventSource("/events"), whose `snapshot` events
// each carry the whole snapshot (the JSON described in dashboard/README.md). Every snapshot
// replaces what is shown; the page keeps no state of its own except, per window row, the page
// clock (Date.now(), ms) at which the row first appeared (`data-inserted-at`), which the
// browser test compares with the feed record's `wa-committed-at`.
//
// Strings from the feed (page URLs, reasons, errors) are user data: they are only ever set
// with textContent, never as HTML.
"use strict";

(function () {
  // A random id set once per page load: a test that finds it unchanged knows the page was
  // updated in place, not reloaded.
  document.body.dataset.loadId =
    Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 10);

  const $ = (id) => document.getElementById(id);
  const integer = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
  const percent = new Intl.NumberFormat("en-US", { style: "percent", maximumFractionDigits: 1 });

  // ---- formatting -------------------------------------------------------------------------

  /** "2026-01-01T00:01:00.000Z" → epoch ms, or null. */
  function ms(rfc3339) {
    if (rfc3339 == null) return null;
    const t = Date.parse(rfc3339);
    return Number.isNaN(t) ? null : t;
  }

  function pad(n) {
    return String(n).padStart(2, "0");
  }

  /** Epoch ms → "HH:MM" (UTC), with ":SS" when the seconds are not zero. */
  function clock(t) {
    const d = new Date(t);
    const s = d.getUTCSeconds();
    return pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes()) + (s ? ":" + pad(s) : "");
  }

  /** Epoch ms → "2026-01-01 00:01:00 UTC". */
  function dateTime(t) {
    if (t == null) return "—";
    const d = new Date(t);
    return (
      d.getUTCFullYear() + "-" + pad(d.getUTCMonth() + 1) + "-" + pad(d.getUTCDate()) + " " +
      pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes()) + ":" + pad(d.getUTCSeconds()) + " UTC"
    );
  }

  /** A duration in ms → "850 ms", "12.3 s", "4 min", "2.5 h". */
  function duration(d) {
    if (d == null) return "—";
    const a = Math.abs(d);
    let text;
    if (a < 1000) text = Math.round(a) + " ms";
    else if (a < 60000) text = (a / 1000).toFixed(a < 10000 ? 1 : 0) + " s";
    else if (a < 3600000) text = Math.round(a / 60000) + " min";
    else text = (a / 3600000).toFixed(1) + " h";
    return d < 0 ? "−" + text : text;
  }

  function setText(id, text) {
    const el = $(id);
    if (el.textContent !== text) el.textContent = text;
  }

  function setTime(id, t) {
    const el = $(id);
    setText(id, dateTime(t));
    if (t == null) el.removeAttribute("datetime");
    else el.setAttribute("datetime", new Date(t).toISOString());
  }

  function cell(tag, text, className) {
    const el = document.createElement(tag);
    el.textContent = text;
    if (className) el.className = className;
    return el;
  }

  /** Replaces the rows of `tbody` with `rows` (arrays of cells), or one "none" row. */
  function fillRows(tbody, rows, columns, emptyText) {
    const fragment = document.createDocumentFragment();
    if (rows.length === 0) {
      const tr = document.createElement("tr");
      const td = cell("td", emptyText, "none");
      td.colSpan = columns;
      tr.appendChild(td);
      fragment.appendChild(tr);
    }
    for (const row of rows) fragment.appendChild(row);
    tbody.replaceChildren(fragment);
  }

  // ---- connection status ------------------------------------------------------------------

  function setStatus(state, text) {
    const el = $("status");
    el.dataset.state = state;
    setText("status-text", text);
  }

  // ---- chart ------------------------------------------------------------------------------

  let chart = null;
  const chartBox = $("chart");

  function chartSize() {
    const width = Math.max(200, Math.floor(chartBox.clientWidth));
    const height = width < 500 ? 220 : 300;
    return { width, height };
  }

  function makeChart() {
    if (typeof uPlot !== "function") return null;
    const axis = {
      stroke: "#6b7280",
      grid: { stroke: "#eef0f3", width: 1 },
      ticks: { stroke: "#e5e7eb", width: 1 },
      font: "12px system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
    };
    const options = {
      ...chartSize(),
      // Times are shown in UTC, as everywhere on the page.
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"),
      cursor: { drag: { x: false, y: false } },
      legend: { live: true },
      scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(1, max * 1.1)] } },
      axes: [
        // 24-hour UTC clock times under the ticks.
        { ...axis, values: (u, splits) => splits.map((v) => clock(v * 1000)) },
        { ...axis, size: 56, values: (u, splits) => splits.map((v) => integer.format(v)) },
      ],
      series: [
        { label: "Window start (UTC)", value: (u, v) => (v == null ? "—" : clock(v * 1000)) },
        {
          label: "Events",
          stroke: "#4f46e5",
          fill: "rgba(79, 70, 229, 0.08)",
          width: 2,
          points: { size: 5 },
          value: (u, v) => (v == null ? "—" : integer.format(v)),
        },
        {
          label: "Unique visitors",
          stroke: "#0d9488",
          width: 2,
          points: { size: 5 },
          value: (u, v) => (v == null ? "—" : integer.format(v)),
        },
      ],
    };
    return new uPlot(options, [[], [], []], chartBox);
  }

  function drawChart(snapshot) {
    if (chart == null) chart = makeChart();
    const windows = snapshot.windows || [];
    $("chart-empty").hidden = windows.length > 0;
    const label = snapshot.window && snapshot.window.label;
    setText("chart-title", "Events and unique visitors" + (label ? ", " + label : ""));
    if (chart == null) return;
    const xs = [];
    const events = [];
    const visitors = [];
    for (const w of windows) {
      xs.push(ms(w.window_start) / 1000);
      events.push(w.events);
      visitors.push(w.unique_visitors);
    }
    chart.setData([xs, events, visitors]);
  }

  // The chart follows its card's width (360–1920 px screens).
  if (typeof ResizeObserver === "function") {
    let pending = false;
    new ResizeObserver(() => {
      if (chart == null || pending) return;
      pending = true;
      requestAnimationFrame(() => {
        pending = false;
        const size = chartSize();
        if (size.width !== chart.width || size.height !== chart.height) chart.setSize(size);
      });
    }).observe(chartBox);
  }

  // ---- windows table ------------------------------------------------------------------------

  /** window_start (RFC 3339, as sent) → its <tr>; rows keep their data-inserted-at. */
  const windowRows = new Map();

  function drawWindows(snapshot) {
    const tbody = $("windows").tBodies[0];
    const windows = (snapshot.windows || []).slice().reverse(); // newest first
    const seen = new Set();
    const now = Date.now();
    const rows = [];
    for (const w of windows) {
      seen.add(w.window_start);
      let tr = windowRows.get(w.window_start);
      if (tr == null) {
        tr = document.createElement("tr");
        tr.dataset.insertedAt = String(now);
        tr.dataset.windowStart = w.window_start;
        tr.dataset.windowEnd = w.window_end;
        tr.append(cell("th", "", "when"), cell("td", ""), cell("td", ""));
        tr.cells[0].scope = "row";
        windowRows.set(w.window_start, tr);
      }
      const text = clock(ms(w.window_start)) + "–" + clock(ms(w.window_end));
      if (tr.cells[0].textContent !== text) tr.cells[0].textContent = text;
      if (tr.dataset.events !== String(w.events)) {
        tr.dataset.events = String(w.events);
        tr.cells[1].textContent = integer.format(w.events);
      }
      if (tr.dataset.visitors !== String(w.unique_visitors)) {
        tr.dataset.visitors = String(w.unique_visitors);
        tr.cells[2].textContent = integer.format(w.unique_visitors);
      }
      rows.push(tr);
    }
    for (const key of windowRows.keys()) if (!seen.has(key)) windowRows.delete(key);
    // Reorder only when the order changed, so unchanged rows stay where they are.
    const current = Array.from(tbody.rows);
    const same = current.length === rows.length && current.every((tr, i) => tr === rows[i]);
    if (!same) fillRows(tbody, rows, 3, "No closed window yet.");
  }

  // ---- top pages ----------------------------------------------------------------------------

  function drawPages(snapshot) {
    const top = snapshot.top_pages;
    const card = $("card-pages");
    const pages = top ? top.pages : [];
    if (top) {
      card.dataset.hourStart = top.hour_start;
      card.dataset.hourEnd = top.hour_end;
      setText(
        "pages-hour",
        "Page views, " + clock(ms(top.hour_start)) + "–" + clock(ms(top.hour_end)) + " UTC (current hour).",
      );
    } else {
      delete card.dataset.hourStart;
      delete card.dataset.hourEnd;
      setText("pages-hour", "Page views of the current hour.");
    }
    const max = pages.reduce((m, p) => Math.max(m, p.page_views), 0);
    const rows = pages.map((p) => {
      const tr = document.createElement("tr");
      tr.dataset.pageUrl = p.page_url;
      tr.dataset.pageViews = String(p.page_views);
      const name = cell("th", p.page_url, "page");
      name.scope = "row";
      name.title = p.page_url;
      // The bar behind the name: its share of the top page's views.
      name.style.setProperty("--share", max > 0 ? (p.page_views / max).toFixed(4) : "0");
      tr.append(name, cell("td", integer.format(p.page_views)));
      return tr;
    });
    fillRows($("pages").tBodies[0], rows, 2, "No page view yet.");
  }

  // ---- sessions -----------------------------------------------------------------------------

  function drawSessions(snapshot) {
    const s = snapshot.sessions;
    const card = $("card-sessions");
    if (s == null) {
      for (const key of ["count", "bounces", "bounceRate", "since", "until"]) delete card.dataset[key];
      setText("sessions-count", "—");
      setText("sessions-bounces", "—");
      setText("sessions-bounce-rate", "—");
      setText("sessions-range", "Sessions that started in the last hour, closed so far.");
      return;
    }
    card.dataset.count = String(s.count);
    card.dataset.bounces = String(s.bounces);
    card.dataset.since = s.since;
    card.dataset.until = s.until;
    if (s.bounce_rate == null) delete card.dataset.bounceRate;
    else card.dataset.bounceRate = String(s.bounce_rate);
    setText("sessions-count", integer.format(s.count));
    setText("sessions-bounces", integer.format(s.bounces));
    setText("sessions-bounce-rate", s.bounce_rate == null ? "—" : percent.format(s.bounce_rate));
    setText(
      "sessions-range",
      "Sessions that started " + clock(ms(s.since)) + "–" + clock(ms(s.until)) + " UTC, closed so far.",
    );
  }

  // ---- late and rejected ----------------------------------------------------------------------

  function drawReasons(tableId, totalId, byReason, total) {
    const entries = Object.entries(byReason || {}).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
    const rows = entries.map(([reason, n]) => {
      const tr = document.createElement("tr");
      tr.dataset.reason = reason;
      tr.dataset.count = String(n);
      const name = cell("th", reason.replaceAll("_", " "), "reason");
      name.scope = "row";
      tr.append(name, cell("td", integer.format(n)));
      return tr;
    });
    fillRows($(tableId).tBodies[0], rows, 2, "None.");
    $(totalId).dataset.count = String(total || 0);
    setText(totalId, integer.format(total || 0));
  }

  // ---- health ---------------------------------------------------------------------------------

  function drawHealth(snapshot) {
    const h = snapshot.health || {};
    const rows = (h.partitions || []).map((p) => {
      const tr = document.createElement("tr");
      tr.dataset.partition = p.partition;
      const name = cell("th", p.partition);
      name.scope = "row";
      const watermark = ms(p.watermark);
      const behind = p.watermark_behind_ms;
      const behindCell = cell("td", behind == null ? "—" : duration(behind));
      if (behind != null && behind > 60000) behindCell.className = "warn";
      tr.append(
        name,
        cell("td", watermark == null ? "—" : clock(watermark)),
        behindCell,
        cell("td", p.lag == null ? "—" : integer.format(p.lag)),
      );
      return tr;
    });
    fillRows($("partitions").tBodies[0], rows, 4, "No partition reported yet.");

    setTime("checkpoint-frontier", ms(h.checkpoint_frontier));
    setTime("checkpoint-written", ms(h.checkpoint_written_at));
    setTime("feed-published", ms(h.feed_published));
    setText("paused-workers", integer.format(h.paused_workers || 0));
    const feed = snapshot.feed || {};
    setText(
      "feed-records",
      integer.format(feed.records || 0) + (feed.malformed ? " (" + integer.format(feed.malformed) + " malformed)" : ""),
    );

    const items = (h.processes || []).map((p) => {
      const li = document.createElement("li");
      li.dataset.up = String(p.up);
      li.dataset.url = p.url;
      const state = cell("span", p.up ? "up" : "unreachable", p.up ? "badge up" : "badge down");
      const since = ms(p.since);
      const what = cell("span", p.url, "url");
      const when = cell("span", since == null ? "" : "since " + dateTime(since), "since");
      li.append(state, what, when);
      if (!p.up && p.error) li.appendChild(cell("span", p.error, "error"));
      return li;
    });
    if (items.length === 0) items.push(cell("li", "No process configured.", "none"));
    $("processes").replaceChildren(...items);
  }

  // ---- one snapshot ---------------------------------------------------------------------------

  let lastGenerated = -Infinity;

  function show(snapshot) {
    // The first fetch and the first SSE event may arrive in either order: keep the newer.
    const generated = ms(snapshot.generated_at) ?? Date.now();
    if (generated < lastGenerated) return;
    lastGenerated = generated;

    setTime("edge", ms(snapshot.edge));
    setTime("generated-at", generated);
    drawChart(snapshot);
    drawWindows(snapshot);
    drawPages(snapshot);
    drawSessions(snapshot);
    drawReasons("late", "late-total", snapshot.late, snapshot.late_total);
    drawReasons("rejected", "rejected-total", snapshot.rejected, snapshot.rejected_total);
    drawHealth(snapshot);
    document.body.dataset.snapshotAt = snapshot.generated_at || "";
  }

  function showSafely(snapshot) {
    try {
      show(snapshot);
    } catch (e) {
      // A bad snapshot must not stop the live updates; say so once in the status line.
      setStatus("error", "could not show an update: " + e.message);
    }
  }

  // ---- start ----------------------------------------------------------------------------------

  fetch("/api/snapshot", { cache: "no-store" })
    .then((response) => (response.ok ? response.json() : Promise.reject(new Error("HTTP " + response.status))))
    .then(showSafely)
    .catch((e) => setStatus("reconnecting", "snapshot failed (" + e.message + "), waiting for live updates…"));

  const source = new EventSource("/events");
  source.addEventListener("open", () => setStatus("live", "live"));
  source.addEventListener("snapshot", (event) => {
    setStatus("live", "live");
    let snapshot;
    try {
      snapshot = JSON.parse(event.data);
    } catch (e) {
      setStatus("error", "an update was not JSON");
      return;
    }
    showSafely(snapshot);
  });
  // EventSource reconnects by itself (after a dashboard restart, for example).
  source.addEventListener("error", () => {
    setStatus(source.readyState === EventSource.CLOSED ? "closed" : "reconnecting",
      source.readyState === EventSource.CLOSED ? "disconnected" : "reconnecting…");
  });
})();
