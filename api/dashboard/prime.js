// prime.js draws the Prime trial cohort dashboard from the same origin's
// GET /v1/analytics/prime-cohorts: the weekly conversion rate by spend
// bucket, the difference with its 95% interval, and a table of every
// number. The page is served under a strict Content-Security-Policy (no
// inline code, no other origin), so everything is built here with DOM
// calls, and data only ever reaches the page as text.
"use strict";

(function () {
  // The namespace of the SVG elements built below: a name, not a fetch.
  const SVG_NS = "http://www.w3.org/2000/svg";
  // Relative to the page, so a gateway's path prefix carries over.
  const SOURCE = new URL("../v1/analytics/prime-cohorts", document.baseURI);
  const BUCKETS = [
    { key: "over_100", cls: "over", square: false },
    { key: "100_or_less", cls: "under", square: true },
  ];
  const DAY = 86400000;
  const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  // The charts' drawing box; the SVG scales to the page width.
  const W = 960, H = 300, M = { top: 22, right: 16, bottom: 44, left: 64 };

  const byId = (id) => document.getElementById(id);
  const labels = { over: "Spent over $100.00", under: "Spent $100.00 or less" };

  // ------------------------------------------------------------ formatting

  const isNum = (v) => typeof v === "number" && Number.isFinite(v);
  const NA = "n/a";

  function count(v) {
    return isNum(v) ? String(v).replace(/\B(?=(\d{3})+(?!\d))/g, ",") : NA;
  }

  function percent(v) {
    return isNum(v) ? (v * 100).toFixed(1) + "%" : NA;
  }

  // signedPoints formats a rate difference in percentage points with a
  // sign (a true minus sign), "0.0" unsigned.
  function signedPoints(v) {
    const s = (Math.abs(v) * 100).toFixed(1);
    if (s === "0.0") return s;
    return (v < 0 ? "\u2212" : "+") + s;
  }

  function points(v) {
    return isNum(v) ? signedPoints(v) : NA;
  }

  function validInterval(ci) {
    return Array.isArray(ci) && ci.length === 2 && isNum(ci[0]) && isNum(ci[1]);
  }

  function interval(ci) {
    return validInterval(ci) ? signedPoints(ci[0]) + " to " + signedPoints(ci[1]) : NA;
  }

  function pValue(v) {
    if (!isNum(v)) return NA;
    return v < 0.0001 ? "< 0.0001" : v.toFixed(4);
  }

  // money formats integer cents as dollars, without floating point.
  function money(cents) {
    const c = Math.max(0, Math.round(cents));
    return "$" + count(Math.floor(c / 100)) + "." + String(c % 100).padStart(2, "0");
  }

  // day parses "YYYY-MM-DD" as UTC midnight, or NaN.
  function day(s) {
    const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s || "");
    return m ? Date.UTC(+m[1], +m[2] - 1, +m[3]) : NaN;
  }

  function monday(t) {
    return t - ((new Date(t).getUTCDay() + 6) % 7) * DAY;
  }

  function shortDate(t) {
    const d = new Date(t);
    return MONTHS[d.getUTCMonth()] + " " + d.getUTCDate();
  }

  // ----------------------------------------------------------------- state

  function setState(state, message) {
    document.body.dataset.state = state;
    byId("status").textContent = message;
  }

  function showResults(visible) {
    for (const id of ["rates", "difference", "numbers"]) byId(id).hidden = !visible;
  }

  function setCSV(from, to) {
    const q = new URLSearchParams();
    if (from) q.set("from", from);
    if (to) q.set("to", to);
    q.set("format", "csv");
    byId("csv").href = SOURCE.pathname + "?" + q;
  }

  // ------------------------------------------------------------------- SVG

  function el(name, attrs, parent, text) {
    const e = document.createElementNS(SVG_NS, name);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
    if (text !== undefined) e.textContent = text;
    if (parent) parent.appendChild(e);
    return e;
  }

  function titled(e, text) {
    el("title", {}, e, text);
    return e;
  }

  // niceTicks covers [lo, hi] with about n round steps (1, 2 or 5 x 10^k).
  function niceTicks(lo, hi, n) {
    const raw = (hi - lo) / n;
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 5, 10].map((f) => f * mag).find((s) => s >= raw);
    const ticks = [];
    for (let i = Math.floor(lo / step + 1e-9); i <= Math.ceil(hi / step - 1e-9); i++) {
      ticks.push(Math.round(i * step * 1e9) / 1e9);
    }
    return ticks;
  }

  // frame clears svg (keeping its title and desc) and draws the grid, the
  // y axis, the week axis and the pending bands. It returns the scales.
  function frame(svg, weeks, span, yTicks, yLabel, yTitle) {
    for (const c of Array.from(svg.childNodes)) {
      if (c.nodeName !== "title" && c.nodeName !== "desc") svg.removeChild(c);
    }
    svg.setAttribute("viewBox", "0 0 " + W + " " + H);
    const plotW = W - M.left - M.right, plotH = H - M.top - M.bottom;
    const slots = Math.round((span.last - span.first) / (7 * DAY)) + 1;
    const band = plotW / slots;
    const x = (t) => M.left + band * ((t - span.first) / (7 * DAY) + 0.5);
    const y0 = yTicks[0], y1 = yTicks[yTicks.length - 1];
    const y = (v) => M.top + plotH * (1 - (v - y0) / (y1 - y0));

    const bands = el("g", { class: "pending-bands" }, svg);
    for (const w of weeks) {
      if (!w.pending) continue;
      const r = el("rect", { class: "pending-band", x: x(w.t) - band / 2, y: M.top, width: band, height: plotH, "data-week": w.week }, bands);
      titled(r, "Week of " + w.week + ": still in trial (pending)");
      if (band >= 44) {
        el("text", { class: "pending-label", x: x(w.t), y: M.top - 6, "text-anchor": "middle" }, bands, "pending");
      }
    }
    const grid = el("g", { class: "y-axis" }, svg);
    for (const v of yTicks) {
      el("line", { class: v === 0 ? "zero" : "gridline", x1: M.left, x2: W - M.right, y1: y(v), y2: y(v) }, grid);
      el("text", { x: M.left - 8, y: y(v) + 4, "text-anchor": "end" }, grid, yLabel(v));
    }
    el("text", { class: "axis-title", transform: "rotate(-90)", x: -(M.top + plotH / 2), y: 16, "text-anchor": "middle" }, grid, yTitle);

    const axis = el("g", { class: "x-axis" }, svg);
    el("line", { class: "axis", x1: M.left, x2: W - M.right, y1: M.top + plotH, y2: M.top + plotH }, axis);
    const every = Math.max(1, Math.ceil(slots / 12));
    for (let i = 0; i < slots; i += every) {
      const t = span.first + i * 7 * DAY;
      el("line", { class: "axis", x1: x(t), x2: x(t), y1: M.top + plotH, y2: M.top + plotH + 5 }, axis);
      el("text", { x: x(t), y: M.top + plotH + 20, "text-anchor": "middle" }, axis, shortDate(t));
    }
    el("text", { class: "axis-title", x: M.left + plotW / 2, y: H - 4, "text-anchor": "middle" }, axis, "Signup week (Monday, UTC)");
    return { x, y };
  }

  function marker(g, b, px, py, pending, attrs) {
    const cls = "dot " + b.cls + (pending ? " pending" : "");
    const a = Object.assign({ class: cls }, attrs);
    if (b.square) return el("rect", Object.assign(a, { x: px - 4.5, y: py - 4.5, width: 9, height: 9 }), g);
    return el("circle", Object.assign(a, { cx: px, cy: py, r: 5 }), g);
  }

  function drawRates(weeks, span) {
    const svg = byId("rate-chart");
    let top = 0;
    for (const w of weeks) for (const b of BUCKETS) if (isNum(w[b.key].rate)) top = Math.max(top, w[b.key].rate);
    const ticks = niceTicks(0, Math.max(top, 0.05), 5);
    const s = frame(svg, weeks, span, ticks, (v) => Math.round(v * 100) + "%", "Conversion rate");
    for (const b of BUCKETS) {
      const g = el("g", { class: "series " + b.cls, "data-bucket": b.key }, svg);
      // The line breaks at a week without a rate and across missing weeks.
      let d = "", prev = null;
      for (const w of weeks) {
        const r = w[b.key].rate;
        if (!isNum(r)) { prev = null; continue; }
        const cmd = prev !== null && w.t - prev === 7 * DAY ? "L" : "M";
        d += cmd + s.x(w.t).toFixed(1) + " " + s.y(r).toFixed(1) + " ";
        prev = w.t;
      }
      if (d) el("path", { class: "line " + b.cls, d: d.trim() }, g);
      for (const w of weeks) {
        const c = w[b.key];
        if (!isNum(c.rate)) continue;
        const m = marker(g, b, s.x(w.t), s.y(c.rate), w.pending, { "data-week": w.week, "data-rate": c.rate });
        titled(m, "Week of " + w.week + ", " + labels[b.cls] + ": " + percent(c.rate) + " (" + count(c.converted) +
          " of " + count(c.trials) + " converted, " + count(c.pending) + " pending)");
      }
    }
    byId("rate-desc").textContent = "Lines for " + labels.over + " and " + labels.under + " over " + weeks.length +
      " signup weeks. The table below lists every number.";
  }

  function drawDifference(weeks, span) {
    const svg = byId("difference-chart");
    let lo = 0, hi = 0;
    for (const w of weeks) {
      for (const v of [w.difference].concat(validInterval(w.ci95) ? w.ci95 : [])) {
        if (isNum(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
      }
    }
    if (hi - lo < 0.02) { lo -= 0.01; hi += 0.01; }
    const ticks = niceTicks(lo, hi, 6);
    const s = frame(svg, weeks, span, ticks, (v) => signedPoints(v).replace(/\.0$/, ""), "Difference (pp)");
    const g = el("g", { class: "series difference" }, svg);
    for (const w of weeks) {
      const px = s.x(w.t);
      if (!isNum(w.difference)) {
        titled(el("text", { class: "no-data", x: px, y: s.y(0) - 6, "text-anchor": "middle", "data-week": w.week }, g, NA),
          "Week of " + w.week + ": no difference (a bucket has no ended trials)");
        continue;
      }
      const bar = el("g", { class: "estimate", "data-week": w.week }, g);
      if (validInterval(w.ci95)) {
        const cap = 6;
        const [a, z] = [s.y(w.ci95[0]), s.y(w.ci95[1])];
        el("line", { class: "ci", x1: px, x2: px, y1: a, y2: z, "data-lo": w.ci95[0], "data-hi": w.ci95[1] }, bar);
        el("line", { class: "ci cap", x1: px - cap, x2: px + cap, y1: a, y2: a }, bar);
        el("line", { class: "ci cap", x1: px - cap, x2: px + cap, y1: z, y2: z }, bar);
      }
      el("circle", { class: "diff" + (w.pending ? " pending" : ""), cx: px, cy: s.y(w.difference), r: 5, "data-difference": w.difference }, bar);
      titled(bar, "Week of " + w.week + ": difference " + points(w.difference) + " pp, 95% interval " +
        (validInterval(w.ci95) ? interval(w.ci95) + " pp" : NA) +
        ", p-value " + pValue(w.p_value) + (w.pending ? " (pending)" : ""));
    }
    byId("difference-desc").textContent = "The difference between the two rates for " + weeks.length +
      " signup weeks, each with its 95% interval as an error bar. The table below lists every number.";
  }

  // ----------------------------------------------------------------- table

  function cell(tr, field, raw, text, header) {
    const c = document.createElement(header ? "th" : "td");
    if (header) c.scope = "row";
    c.dataset.field = field;
    c.dataset.value = JSON.stringify(raw === undefined ? null : raw);
    if (text === NA) {
      c.className = "na";
      c.title = "not available";
    }
    c.textContent = text;
    tr.appendChild(c);
    return c;
  }

  function fillTable(weeks) {
    const body = byId("cohorts").tBodies[0];
    body.replaceChildren();
    for (const w of weeks) {
      const tr = document.createElement("tr");
      tr.dataset.week = w.week;
      if (w.pending) tr.className = "pending";
      cell(tr, "week", w.week, w.week, true);
      cell(tr, "pending", w.pending, w.pending ? "Pending" : "Final");
      for (const b of BUCKETS) {
        const c = w[b.key];
        cell(tr, b.key + ".trials", c.trials, count(c.trials));
        cell(tr, b.key + ".converted", c.converted, count(c.converted));
        cell(tr, b.key + ".pending", c.pending, count(c.pending));
        cell(tr, b.key + ".rate", c.rate, percent(c.rate));
      }
      cell(tr, "difference", w.difference, points(w.difference));
      cell(tr, "ci95", w.ci95, interval(w.ci95));
      cell(tr, "p_value", w.p_value, pValue(w.p_value));
      body.appendChild(tr);
    }
  }

  // ---------------------------------------------------------------- render

  function render(data) {
    if (!data || !Array.isArray(data.weeks)) throw new Error("the response has no weeks list");
    const threshold = money(isNum(data.threshold_cents) ? data.threshold_cents : 10000);
    labels.over = "Spent over " + threshold;
    labels.under = "Spent " + threshold + " or less";
    for (const e of document.querySelectorAll(".threshold")) e.textContent = threshold;
    for (const e of document.querySelectorAll(".label-over")) e.textContent = labels.over;
    for (const e of document.querySelectorAll(".label-under")) e.textContent = labels.under;

    const from = typeof data.from === "string" ? data.from : "";
    const to = typeof data.to === "string" ? data.to : "";
    if (from) byId("from").value = from;
    if (to) byId("to").value = to;
    setCSV(from, to);
    const meta = byId("meta");
    meta.textContent = "Signup weeks " + (from || "?") + " to " + (to || "?") + ", spend threshold " + threshold +
      (data.generated_at ? ", computed at " + data.generated_at : "") + ".";
    meta.hidden = false;

    const weeks = [];
    for (const w of data.weeks) {
      const t = day(w && w.week);
      if (isNaN(t)) throw new Error("a week is not a YYYY-MM-DD date: " + JSON.stringify(w && w.week));
      const row = Object.assign({}, w, { t, pending: w.pending === true });
      for (const b of BUCKETS) row[b.key] = w[b.key] && typeof w[b.key] === "object" ? w[b.key] : {};
      weeks.push(row);
    }
    weeks.sort((a, b) => a.t - b.t);
    if (weeks.length === 0) {
      showResults(false);
      setState("empty", "No Prime trials started in the signup weeks from " + (from || "?") + " to " + (to || "?") +
        ". Pick another range.");
      return;
    }
    // The week axis spans the requested range (gaps show as gaps), at
    // least the weeks returned.
    let first = weeks[0].t, last = weeks[weeks.length - 1].t;
    const f = day(from), l = day(to);
    if (!isNaN(f) && !isNaN(l) && l >= f) {
      first = Math.min(first, monday(f));
      last = Math.max(last, monday(l));
    }
    const span = { first, last };
    drawRates(weeks, span);
    drawDifference(weeks, span);
    fillTable(weeks);
    showResults(true);
    const pending = weeks.filter((w) => w.pending).length;
    setState("ready", weeks.length + (weeks.length === 1 ? " weekly cohort" : " weekly cohorts") +
      (pending ? ", " + pending + " still in trial (pending)." : ", all final."));
  }

  async function load() {
    const asked = new URLSearchParams(location.search);
    const q = new URLSearchParams();
    for (const k of ["from", "to"]) {
      const v = asked.get(k);
      if (v) {
        q.set(k, v);
        byId(k).value = v;
      }
    }
    setCSV(q.get("from"), q.get("to"));
    const url = SOURCE.pathname + (q.toString() ? "?" + q : "");
    let res, body;
    try {
      res = await fetch(url, { headers: { Accept: "application/json" } });
    } catch (e) {
      setState("error", "Could not reach the analytics API: " + e.message);
      return;
    }
    try {
      body = await res.json();
    } catch (e) {
      setState("error", "The analytics API answered " + res.status + " " + res.statusText + " without JSON.");
      return;
    }
    if (!res.ok) {
      const msg = body && body.error && body.error.message ? body.error.message : res.statusText;
      setState("error", "The analytics API refused the request (" + res.status + "): " + msg);
      return;
    }
    try {
      render(body);
    } catch (e) {
      showResults(false);
      setState("error", "Could not draw the cohorts: " + e.message);
    }
  }

  load();
})();
