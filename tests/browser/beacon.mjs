// Opens PAGE_URL (a test page that includes the collector's /collect.js) in headless
// Chromium, clicks the #buy button and scrolls, waits for the beacons to leave, and prints
// the browser's user agent as JSON: {"user_agent": "..."}.
//
// Usage: node beacon.mjs PAGE_URL
// Chromium: WA_CHROMIUM, default /usr/bin/chromium (Debian's `chromium` package).
import { chromium } from "playwright-core";

const pageUrl = process.argv[2];
if (!pageUrl) {
  console.error("usage: node beacon.mjs PAGE_URL");
  process.exit(2);
}
const browser = await chromium.launch({
  executablePath: process.env.WA_CHROMIUM || "/usr/bin/chromium",
  headless: true,
  // CI runs as root, where Chromium's sandbox cannot start.
  args: ["--no-sandbox"],
});
try {
  const page = await browser.newPage();
  page.on("console", (m) => console.error(`page console: ${m.text()}`));
  page.on("pageerror", (e) => console.error(`page error: ${e}`));
  await page.goto(pageUrl, { waitUntil: "load" });
  const userAgent = await page.evaluate(() => navigator.userAgent);
  await page.click("#buy");
  await page.mouse.wheel(0, 3000);
  await page.waitForFunction(() => window.scrollY > 0);
  // Beacons are sent asynchronously: give them time to leave before the browser closes.
  await page.waitForTimeout(2000);
  console.log(JSON.stringify({ user_agent: userAgent }));
} finally {
  await browser.close();
}
