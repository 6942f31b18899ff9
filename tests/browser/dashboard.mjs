// Opens the wa-dashboard page (DASHBOARD_URL, e.g. http://127.0.0.1:8090/) in headless
// Chromium at two sizes, a laptop (1280×800) and a phone (390×844), and answers commands from
// the test, one per stdin line, with one JSON line each on stdout:
//
//   (at start)       {"ready": true, "origin": "...", "began_ms": N}     once both pages show a snapshot
//   state            {"pages": {"laptop": PAGE, "phone": PAGE}, "problems": [...]}
//   screenshot NAME  {"screenshots": ["DIR/NAME-laptop.png", "DIR/NAME-phone.png"]} (full page)
//   close            {"closed": true, "problems": [...]}, then the browser closes and we exit
//
// PAGE = {"load_id", "status", "snapshot_at", "scroll_width", "client_width",
//         "windows": [{"window_start", "window_end", "events", "visitors", "inserted_at"}] (as shown, newest first),
//         "top_pages": {"hour_start", "hour_end", "pages": [{"page_url", "page_views"}]},
//         "sessions": {"count", "bounces", "bounce_rate", "since", "until"} | null}
// read from the page's data attributes (numbers as the page holds them; inserted_at is the
// page clock, epoch ms, when the row first appeared).
//
// "problems" lists everything that must not happen in normal operation: a console error or
// warning, an uncaught page error, a failed request, a request to another origin (aborted, so
// the test needs no internet and proves the page asks nothing of it).
//
// Usage: node dashboard.mjs DASHBOARD_URL SCREENSHOT_DIR
// Chromium: WA_CHROMIUM, default /usr/bin/chromium (Debian's `chromium` package).
import { createInterface } from "node:readline";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

const [dashboardUrl, screenshotDir] = process.argv.slice(2);
if (!dashboardUrl || !screenshotDir) {
  console.error("usage: node dashboard.mjs DASHBOARD_URL SCREENSHOT_DIR");
  process.exit(2);
}
const origin = new URL(dashboardUrl).origin;
mkdirSync(screenshotDir, { recursive: true });

const sizes = {
  laptop: { width: 1280, height: 800 },
  phone: { width: 390, height: 844 },
};
const problems = [];
let closing = false;

function reply(value) {
  process.stdout.write(JSON.stringify(value) + "\n");
}

const browser = await chromium.launch({
  executablePath: process.env.WA_CHROMIUM || "/usr/bin/chromium",
  headless: true,
  // CI runs as root, where Chromium's sandbox cannot start.
  args: ["--no-sandbox"],
});

async function open(name, viewport) {
  const context = await browser.newContext({ viewport });
  // Only the dashboard's own origin may be asked for anything; the rest is aborted and noted.
  await context.route(
    (url) => url.origin !== origin && url.protocol !== "data:",
    (route) => {
      problems.push(`${name}: request to another origin: ${route.request().url()}`);
      return route.abort();
    },
  );
  const page = await context.newPage();
  page.on("console", (m) => {
    if (!closing && (m.type() === "error" || m.type() === "warning")) {
      problems.push(`${name}: console ${m.type()}: ${m.text()}`);
    }
  });
  page.on("pageerror", (e) => {
    if (!closing) problems.push(`${name}: page error: ${e}`);
  });
  page.on("requestfailed", (r) => {
    if (!closing) problems.push(`${name}: request failed: ${r.url()} (${r.failure()?.errorText})`);
  });
  page.on("response", (r) => {
    if (!closing && r.status() >= 400) problems.push(`${name}: ${r.status()} for ${r.url()}`);
  });
  await page.goto(dashboardUrl, { waitUntil: "load" });
  // The first snapshot (from /api/snapshot or the event stream) has been shown.
  await page.waitForFunction(() => document.body.dataset.snapshotAt, null, { timeout: 30000 });
  return page;
}

// Runs in the page: what it shows, from its data attributes.
function readPage() {
  const rows = Array.from(document.querySelectorAll("#windows tbody tr[data-window-start]"));
  const pages = Array.from(document.querySelectorAll("#pages tbody tr[data-page-url]"));
  const pagesCard = document.getElementById("card-pages").dataset;
  const s = document.getElementById("card-sessions").dataset;
  return {
    load_id: document.body.dataset.loadId ?? null,
    status: document.getElementById("status").dataset.state,
    snapshot_at: document.body.dataset.snapshotAt ?? null,
    scroll_width: document.documentElement.scrollWidth,
    client_width: document.documentElement.clientWidth,
    windows: rows.map((tr) => ({
      window_start: tr.dataset.windowStart,
      window_end: tr.dataset.windowEnd,
      events: Number(tr.dataset.events),
      visitors: Number(tr.dataset.visitors),
      inserted_at: Number(tr.dataset.insertedAt),
    })),
    top_pages: {
      hour_start: pagesCard.hourStart ?? null,
      hour_end: pagesCard.hourEnd ?? null,
      pages: pages.map((tr) => ({ page_url: tr.dataset.pageUrl, page_views: Number(tr.dataset.pageViews) })),
    },
    sessions:
      s.count === undefined
        ? null
        : {
            count: Number(s.count),
            bounces: Number(s.bounces),
            bounce_rate: s.bounceRate === undefined ? null : Number(s.bounceRate),
            since: s.since,
            until: s.until,
          },
  };
}

const pages = {};
try {
  const began = Date.now();
  for (const [name, viewport] of Object.entries(sizes)) pages[name] = await open(name, viewport);
  reply({ ready: true, origin, began_ms: began });
} catch (e) {
  console.error(`opening ${dashboardUrl}: ${e}`);
  await browser.close();
  process.exit(1);
}

const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  const [command, ...rest] = line.trim().split(/\s+/);
  try {
    if (command === "state") {
      const state = {};
      for (const [name, page] of Object.entries(pages)) state[name] = await page.evaluate(readPage);
      reply({ pages: state, problems });
    } else if (command === "screenshot") {
      const name = rest[0] || "dashboard";
      const paths = [];
      for (const [size, page] of Object.entries(pages)) {
        const path = join(screenshotDir, `${name}-${size}.png`);
        await page.screenshot({ path, fullPage: true });
        paths.push(path);
      }
      reply({ screenshots: paths });
    } else if (command === "close") {
      closing = true;
      const final = problems.slice();
      await browser.close();
      reply({ closed: true, problems: final });
      process.exit(0);
    } else if (command !== "") {
      reply({ error: `unknown command ${command}` });
    }
  } catch (e) {
    reply({ error: String(e) });
  }
}
// stdin closed without "close": the test went away.
await browser.close();
