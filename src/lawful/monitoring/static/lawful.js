/* Lawful tracker: page views, marked clicks, outbound links, engaged time. No cookies, no storage. */
(() => {
  const w = window, d = document, n = navigator, l = location, h = history, now = Date.now,
    c = d.currentScript, on = (o, k, f) => o.addEventListener(k, f);
  if (!c) return;
  const site = c.dataset.site, api = new URL("/api/event", c.src).href;
  // path: of the last page view; url: its address; shown: start of the visible stretch; ms: summed
  let path, url, shown, ms = 0;
  const send = o => {
    try { if (localStorage.lawful_ignore == "true") return } catch (_) {}
    if (n.globalPrivacyControl || n.webdriver) return;
    o.s = site; o.u = url;
    const b = JSON.stringify(o);
    n.sendBeacon && n.sendBeacon(api, b) || fetch(api, { method: "POST", body: b, keepalive: !0, mode: "no-cors" });
  };
  const leave = () => {
    if (shown) ms += now() - shown, shown = 0;
    ms && send({ n: "engagement", e: ms }); ms = 0;
  };
  const view = () => {
    if (path == l.pathname) return;
    const r = path ? url : d.referrer;
    path && leave();
    path = l.pathname; url = l.href; shown = d.hidden ? 0 : now();
    send({ n: "pageview", r: r });
  };
  for (const k of ["pushState", "replaceState"]) {
    const f = h[k];
    h[k] = function () { const r = f.apply(this, arguments); view(); return r };
  }
  on(w, "popstate", view);
  on(w, "pagehide", leave);
  on(w, "pageshow", e => e.persisted && (path = 0, view()));
  on(d, "visibilitychange", () => d.hidden ? leave() : shown = now());
  const click = e => {
    const t = e.target, a = t.closest("a[href]"), m = t.closest("[data-lawful-event]"), o = {};
    if (e.button > 1) return;
    if (a) o.t = a.href;
    if (m) o.n = m.dataset.lawfulEvent;
    else if (a && a.host != l.host && /^http/.test(a.href)) o.n = "outbound";
    o.n && send(o);
  };
  on(d, "click", click);
  on(d, "auxclick", click);
  w.lawful = (n, t) => send({ n, t });
  view();
})();
