// wa-producer collect.js: web analytics beacons for a page.
// Include it with <script src="https://COLLECTOR/collect.js" async></script>; it sends a
// page_view on load, then click and scroll (at most one a second) events, as JSON to
// COLLECTOR/collect with navigator.sendBeacon (a text/plain body: no CORS preflight), or
// fetch(keepalive) where beacons are unavailable or refused. The collector fills browser and
// os from the User-Agent header.
//
// Every event gets its event_id (a UUID v4) once, when it happens; a re-sent beacon keeps it,
// so the pipeline can tell a re-send from a new event. sent_at is this browser's clock (epoch
// ms) at the moment each attempt leaves: the collector compares it with its own clock and
// corrects event_time by the difference, so a wrong clock here does not move the event.
// A fetch that fails (network error, 429 or 5xx) is re-sent, at most twice, after 1 s then
// 2 s (or the collector's Retry-After); sendBeacon reports nothing back, so it is not re-sent.
(function () {
  "use strict";
  var script = document.currentScript;
  var endpoint = new URL("/collect", script && script.src ? script.src : location.href).href;
  var MAX_ATTEMPTS = 3;

  function hex(byte) {
    return (byte + 0x100).toString(16).slice(1);
  }
  // A UUID v4: crypto.randomUUID where the browser has it (secure contexts), else 16 bytes
  // from crypto.getRandomValues laid out as version 4, variant 10xx.
  function newId() {
    var c = window.crypto || window.msCrypto;
    if (c && c.randomUUID) return c.randomUUID();
    var b = new Uint8Array(16);
    if (c && c.getRandomValues) {
      c.getRandomValues(b);
    } else {
      // No cryptographic source at all (very old browsers): still unique enough to count.
      for (var i = 0; i < 16; i++) b[i] = Math.floor(Math.random() * 256);
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, hex).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" +
      h.slice(16, 20) + "-" + h.slice(20);
  }
  // An id kept in storage (user: localStorage, session: sessionStorage), or a fresh one
  // where storage is unavailable.
  function storedId(storageName, key) {
    try {
      var storage = window[storageName];
      var id = storage.getItem(key);
      if (!id) {
        id = newId();
        storage.setItem(key, id);
      }
      return id;
    } catch (e) {
      return newId();
    }
  }
  var userId = storedId("localStorage", "wa_user_id");
  var sessionId = storedId("sessionStorage", "wa_session_id");

  // The body of one attempt: the event as it happened, stamped with the send time.
  function body(event) {
    event.sent_at = Date.now();
    return JSON.stringify(event);
  }

  function sendWithFetch(event, attempt) {
    function retry(delayMs) {
      if (attempt + 1 < MAX_ATTEMPTS) {
        setTimeout(function () { sendWithFetch(event, attempt + 1); }, delayMs);
      }
    }
    fetch(endpoint, { method: "POST", body: body(event), keepalive: true }).then(function (r) {
      if (r.status === 429 || r.status >= 500) {
        var after = parseInt(r.headers.get("Retry-After"), 10);
        retry(after > 0 ? after * 1000 : 1000 * (attempt + 1));
      }
    }, function () {
      retry(1000 * (attempt + 1));
    });
  }

  function send(eventType) {
    var event = {
      event_id: newId(),
      user_id: userId,
      session_id: sessionId,
      event_type: eventType,
      page_url: (location.pathname + location.search).slice(0, 2048),
      event_time: new Date().toISOString()
    };
    if (navigator.sendBeacon && navigator.sendBeacon(endpoint, body(event))) return;
    if (window.fetch) sendWithFetch(event, 0);
  }

  if (document.readyState === "complete") send("page_view");
  else window.addEventListener("load", function () { send("page_view"); });
  document.addEventListener("click", function () { send("click"); }, true);
  var lastScroll = 0;
  window.addEventListener("scroll", function () {
    var now = Date.now();
    if (now - lastScroll >= 1000) {
      lastScroll = now;
      send("scroll");
    }
  }, { passive: true });
})();
