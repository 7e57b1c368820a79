/* The city overview: every hall with its queue, predicted wait, open windows and alarms; sortable. */
"use strict";

const $ = (id) => document.getElementById(id);
const { el, t } = Hall;
const SORT_KEY = "hall.city.sort";
let sort = JSON.parse(localStorage.getItem(SORT_KEY) || '{"key":"waiting","dir":-1}');
let halls = [];

async function refresh() {
  halls = (await Hall.api("/api/city/overview")).halls;
  render();
}

function render() {
  $("k-halls").textContent = halls.length;
  $("k-waiting").textContent = halls.reduce((n, h) => n + h.waiting, 0);
  $("k-open").textContent = `${halls.reduce((n, h) => n + h.open_windows, 0)} / ${halls.reduce((n, h) => n + h.windows, 0)}`;
  const alarms = halls.reduce((n, h) => n + h.alarms, 0);
  $("k-alarms").textContent = alarms;
  $("k-alarm-box").classList.toggle("alarm", alarms > 0);
  const rows = [...halls].sort((a, b) => {
    const x = a[sort.key], y = b[sort.key];
    const c = typeof x === "string" ? x.localeCompare(y, "zh-CN") : x - y;
    return c * sort.dir || a.id.localeCompare(b.id);
  });
  document.querySelectorAll("th.sortable").forEach((th) => {
    th.classList.toggle("sorted-asc", th.dataset.key === sort.key && sort.dir === 1);
    th.classList.toggle("sorted-desc", th.dataset.key === sort.key && sort.dir === -1);
  });
  $("rows").replaceChildren(...rows.map((h) => el("tr", { class: "clickable", dataset: { hall: h.id }, onclick: () => { location.href = `/halls/${h.id}`; } },
    el("td", {}, el("a", { href: `/halls/${h.id}` }, h.name)),
    el("td", { class: "num" }, h.waiting),
    el("td", { class: "num" }, `${Hall.waitMinutes(h.predicted_wait_s)} ${t("unit.min")}`),
    el("td", { class: "num" }, `${h.open_windows} / ${h.windows}`),
    el("td", { class: "num" }, h.alarms ? el("span", { class: "chip bad" }, h.alarms) : el("span", { class: "chip" }, "0")))));
}

document.addEventListener("DOMContentLoaded", () => {
  Hall.clock($("clock"));
  document.querySelectorAll("th.sortable").forEach((th) => th.addEventListener("click", () => {
    sort = { key: th.dataset.key, dir: sort.key === th.dataset.key ? -sort.dir : (th.dataset.key === "name" ? 1 : -1) };
    localStorage.setItem(SORT_KEY, JSON.stringify(sort));
    render();
  }));
  document.addEventListener("hall:lang", render);
  Hall.live(null, refresh, { debounceMs: 300, kinds: ["tickets", "windows", "devices", "topology"] });
});
