// Opens PAGE_URL (a test page that includes the collector's /collect.js) in headless
// Chromium, clicks the #buy button and scrolls, waits for the beacons to leave, and prints
// the browser's user agent as JSON: {"user_agent": "..."}.
//
// Usage: node beacon.mjs PAGE_URL [--clock-offset-ms=N] [--lose-first-response]
//   --clock-offset-ms=N    the page's clock (Date.now(), new Date()) runs N ms ahead of the
//                          real one (negative: behind), as on a device with a wrong clock.
//   --lose-first-response  the page has no sendBeacon (collect.js falls back to fetch), and the
//                          response to its first fetch is lost after the request reached the
//                          collector, as on a flaky network: collect.js re-sends that beacon.
// Chromium: WA_CHROMIUM, default /usr/bin/chromium (Debian's `chromium` package).
import { chromium } from "playwright-core";

const pageUrl = process.argv[2];
if (!pageUrl) {
  console.error("usage: node beacon.mjs PAGE_URL [--clock-offset-ms=N] [--lose-first-response]");
  process.exit(2);
}
let clockOffsetMs = 0;
let loseFirstResponse = false;
for (const option of process.argv.slice(3)) {
  if (option.startsWith("--clock-offset-ms=")) {
    clockOffsetMs = Number(option.slice("--clock-offset-ms=".length));
    if (!Number.isInteger(clockOffsetMs)) {
      console.error(`not an integer number of ms: ${option}`);
      process.exit(2);
    }
  } else if (option === "--lose-first-response") {
    loseFirstResponse = true;
  } else {
    console.error(`unknown option ${option}`);
    process.exit(2);
  }
}

// Runs in the page before any of its scripts.
function shiftClock(offsetMs) {
  const RealDate = Date;
  function ShiftedDate(...args) {
    if (!new.target) return new RealDate(RealDate.now() + offsetMs).toString();
    return args.length === 0 ? new RealDate(RealDate.now() + offsetMs) : new RealDate(...args);
  }
  ShiftedDate.prototype = RealDate.prototype;
  ShiftedDate.now = () => RealDate.now() + offsetMs;
  ShiftedDate.parse = RealDate.parse;
  ShiftedDate.UTC = RealDate.UTC;
  window.Date = ShiftedDate;
}

// Runs in the page before any of its scripts.
function loseFirstFetchResponse() {
  Object.defineProperty(navigator, "sendBeacon", { value: undefined, configurable: true });
  const realFetch = window.fetch.bind(window);
  let calls = 0;
  window.fetch = (...args) => {
    const first = calls++ === 0;
    return realFetch(...args).then((response) => {
      if (first) throw new TypeError("the response was lost (test)");
      return response;
    });
  };
}
const browser = await chromium.launch({
  executablePath: process.env.WA_CHROMIUM || "/usr/bin/chromium",
  headless: true,
  // CI runs as root, where Chromium's sandbox cannot start.
  args: ["--no-sandbox"],
});
try {
  const page = await browser.newPage();
  if (clockOffsetMs !== 0) await page.addInitScript(shiftClock, clockOffsetMs);
  if (loseFirstResponse) await page.addInitScript(loseFirstFetchResponse);
  page.on("console", (m) => console.error(`page console: ${m.text()}`));
  page.on("pageerror", (e) => console.error(`page error: ${e}`));
  await page.goto(pageUrl, { waitUntil: "load" });
  const userAgent = await page.evaluate(() => navigator.userAgent);
  await page.click("#buy");
  await page.mouse.wheel(0, 3000);
  await page.waitForFunction(() => window.scrollY > 0);
  // Beacons are sent asynchronously (re-sends after 1 s): give them time to leave before the
  // browser closes.
  await page.waitForTimeout(loseFirstResponse ? 3000 : 2000);
  console.log(JSON.stringify({ user_agent: userAgent }));
} finally {
  await browser.close();
}
