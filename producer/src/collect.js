// wa-producer collect.js: web analytics beacons for a page.
// Include it with <script src="https://COLLECTOR/collect.js" async></script>; it sends a
// page_view on load, then click and scroll (at most one a second) events, as JSON to
// COLLECTOR/collect with navigator.sendBeacon (a text/plain body: no CORS preflight), or
// fetch(keepalive) where beacons are unavailable. The collector fills browser and os from
// the User-Agent header.
(function () {
  "use strict";
  var script = document.currentScript;
  var endpoint = new URL("/collect", script && script.src ? script.src : location.href).href;

  function newId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return Date.now().toString(36) + "-" + Math.random().toString(36).slice(2);
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

  function send(eventType) {
    var body = JSON.stringify({
      event_id: newId(),
      user_id: userId,
      session_id: sessionId,
      event_type: eventType,
      page_url: (location.pathname + location.search).slice(0, 2048),
      event_time: new Date().toISOString()
    });
    if (navigator.sendBeacon && navigator.sendBeacon(endpoint, body)) return;
    if (window.fetch) fetch(endpoint, { method: "POST", body: body, keepalive: true }).catch(function () {});
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
