/* Statistics per hall and period, with SVG charts drawn here (no chart library) and CSV downloads. */
"use strict";

const $ = (id) => document.getElementById(id);
const { el, t } = Hall;
const NS = "http://www.w3.org/2000/svg";
const COLORS = { a: "#0b4ea2", b: "#20a58c", p95: "#c8161d", levels: ["#1a7f37", "#4caf50", "#f2b01e", "#ef7d22", "#c8161d"] };
let report = null;

function svg(tag, attrs = {}, ...children) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  for (const c of children) e.append(c.nodeType ? c : document.createTextNode(String(c)));
  return e;
}

function niceMax(v) {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

function axes(root, W, H, pad, max, labels, fmt = (v) => v) {
  for (let i = 0; i <= 4; i++) {
    const y = pad.t + (H - pad.t - pad.b) * (1 - i / 4);
    root.append(svg("line", { x1: pad.l, x2: W - pad.r, y1: y, y2: y, stroke: "#e3e8ef" }));
    root.append(svg("text", { x: pad.l - 8, y: y + 4, "text-anchor": "end" }, fmt(Math.round(max * i / 4 * 100) / 100)));
  }
  const step = (W - pad.l - pad.r) / labels.length;
  const every = Math.ceil(labels.length / 10);
  labels.forEach((l, i) => {
    if (i % every === 0) root.append(svg("text", { x: pad.l + step * (i + 0.5), y: H - pad.b + 18, "text-anchor": "middle" }, l));
  });
  return step;
}

function legend(items) {
  return el("div", { class: "legend" }, ...items.map(([c, label]) => el("span", {}, el("i", { style: `background:${c}` }), label)));
}

function barChart(box, rows) {
  const W = 640, H = 260, pad = { l: 44, r: 12, t: 12, b: 30 };
  const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img" });
  const max = niceMax(Math.max(1, ...rows.map((r) => Math.max(r.tickets, r.served))));
  const step = axes(root, W, H, pad, max, rows.map((r) => r.day.slice(5)));
  const h = (v) => (H - pad.t - pad.b) * v / max;
  rows.forEach((r, i) => {
    const x = pad.l + step * i + step * 0.15, w = step * 0.35;
    for (const [j, key, color] of [[0, "tickets", COLORS.a], [1, "served", COLORS.b]]) {
      const rect = svg("rect", { x: x + j * w, y: H - pad.b - h(r[key]), width: Math.max(w - 2, 1), height: h(r[key]), rx: 2, fill: color });
      rect.append(svg("title", {}, `${r.day} ${t(`stats.${key}`)}: ${r[key]}`));
      root.append(rect);
    }
  });
  box.replaceChildren(root, legend([[COLORS.a, t("stats.tickets")], [COLORS.b, t("stats.served")]]));
}

function lineChart(box, rows) {
  const W = 640, H = 260, pad = { l: 44, r: 12, t: 12, b: 30 };
  const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img" });
  const mins = (s) => (s == null ? null : s / 60);
  const max = niceMax(Math.max(1, ...rows.map((r) => mins(r.wait_p95_s) || 0)));
  const step = axes(root, W, H, pad, max, rows.map((r) => r.day.slice(5)));
  for (const [key, color] of [["wait_p50_s", COLORS.a], ["wait_p95_s", COLORS.p95]]) {
    const pts = rows.map((r, i) => [pad.l + step * (i + 0.5), mins(r[key])]).filter((p) => p[1] !== null)
      .map(([x, v]) => [x, H - pad.b - (H - pad.t - pad.b) * v / max]);
    if (pts.length > 1) root.append(svg("polyline", { points: pts.map((p) => p.join(",")).join(" "), fill: "none", stroke: color, "stroke-width": 2.5 }));
    pts.forEach(([x, y]) => root.append(svg("circle", { cx: x, cy: y, r: 3.5, fill: color })));
  }
  box.replaceChildren(root, legend([[COLORS.a, t("stats.wait_p50")], [COLORS.p95, t("stats.wait_p95")]]));
}

function levelChart(box, byLevel) {
  const W = 640, rowH = 38, H = rowH * 5 + 10, labelW = 110;
  const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img" });
  const total = Object.values(byLevel).reduce((a, b) => a + b, 0);
  const max = Math.max(1, ...Object.values(byLevel));
  [5, 4, 3, 2, 1].forEach((lv, i) => {
    const n = byLevel[String(lv)] || 0;
    const y = 5 + i * rowH;
    const w = (W - labelW - 90) * n / max;
    root.append(svg("text", { x: labelW - 10, y: y + rowH / 2 + 4, "text-anchor": "end" }, t(`level.${lv}`)));
    root.append(svg("rect", { x: labelW, y: y + 6, width: W - labelW - 90, height: rowH - 14, rx: 4, fill: "#f0f3f8" }));
    root.append(svg("rect", { x: labelW, y: y + 6, width: Math.max(w, 0), height: rowH - 14, rx: 4, fill: COLORS.levels[i] }));
    const pct = total ? ` (${(100 * n / total).toFixed(1)}%)` : "";
    root.append(svg("text", { x: labelW + Math.max(w, 0) + 8, y: y + rowH / 2 + 4 }, `${n}${pct}`));
  });
  box.replaceChildren(root);
}

function pct(x) { return x == null ? "—" : `${(x * 100).toFixed(1)}%`; }
function minText(s) { return s == null ? "—" : `${(s / 60).toFixed(1)} ${t("unit.min")}`; }

function render() {
  if (!report) return;
  const tot = report.total;
  const kpi = (label, value, id) => el("div", { class: "kpi", id }, el("div", { class: "label" }, t(label)), el("div", { class: "value" }, value));
  $("kpis").replaceChildren(
    kpi("stats.tickets", tot.tickets, "kpi-tickets"), kpi("stats.served", tot.served),
    kpi("stats.wait_p50", minText(tot.wait_p50_s)), kpi("stats.wait_p95", minText(tot.wait_p95_s)),
    kpi("stats.service", minText(tot.service_mean_s)), kpi("stats.satisfaction", pct(tot.satisfaction_rate)),
    kpi("stats.trips", tot.trips_avoided));
  barChart($("chart-day"), report.by_day);
  lineChart($("chart-wait"), report.by_day);
  levelChart($("chart-levels"), tot.ratings_by_level);
  $("by-hall").replaceChildren(...report.by_hall.map((h) => el("tr", { class: "clickable", onclick: () => { $("f-hall").value = h.hall; load(); } },
    el("td", {}, h.hall_name), el("td", { class: "num" }, h.tickets), el("td", { class: "num" }, h.served),
    el("td", { class: "num" }, minText(h.wait_p50_s)), el("td", { class: "num" }, minText(h.wait_p95_s)),
    el("td", { class: "num" }, pct(h.satisfaction_rate)))));
}

function query(extra = {}) {
  const q = new URLSearchParams(extra);
  if ($("f-from").value) q.set("from", $("f-from").value);
  if ($("f-to").value) q.set("to", $("f-to").value);
  if ($("f-hall").value) q.set("hall", $("f-hall").value);
  return q.toString();
}

async function load() {
  try {
    report = await Hall.api(`/api/stats/report?${query()}`);
  } catch (e) { Hall.toast(e.message); return; }
  $("f-from").value = report.from; // the server's local days (the halls' time zone)
  $("f-to").value = report.to;
  $("csv-day").href = `/api/stats/report?${query({ format: "csv", group: "day" })}`;
  $("csv-hall").href = `/api/stats/report?${query({ format: "csv", group: "hall" })}`;
  history.replaceState(null, "", `/stats?${query()}`);
  render();
}

document.addEventListener("DOMContentLoaded", async () => {
  const params = new URLSearchParams(location.search);
  $("f-to").value = params.get("to") || "";
  $("f-from").value = params.get("from") || "";
  const halls = await Hall.api("/api/halls");
  $("f-hall").replaceChildren(el("option", { value: "" }, t("stats.all")), ...halls.map((h) => el("option", { value: h.id }, h.name)));
  $("f-hall").value = params.get("hall") || "";
  $("filters").addEventListener("submit", (ev) => { ev.preventDefault(); load(); });
  $("f-hall").addEventListener("change", load);
  document.addEventListener("hall:lang", () => { $("f-hall").options[0].textContent = t("stats.all"); render(); });
  Hall.live(null, load, { debounceMs: 1000, kinds: ["tickets", "ratings"] });
});
