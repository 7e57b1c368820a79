/* The hall operator's dashboard: windows, queues and waits, device health and alarms, rectification. */
"use strict";

const hallId = Hall.pathId("/halls/");
const $ = (id) => document.getElementById(id);
const { el, t } = Hall;
let snap = null;

const kindName = (k) => (t(`kind.${k}`) === `kind.${k}` ? k : t(`kind.${k}`));
const alarmName = (a) => (t(`alarm.${a}`) === `alarm.${a}` ? a : t(`alarm.${a}`));
const catName = (c) => (t(`cat.${c}`) === `cat.${c}` ? c : t(`cat.${c}`));
const time = (ms) => (ms ? new Date(ms).toLocaleTimeString(Hall.lang === "zh" ? "zh-CN" : "en-GB", { hour: "2-digit", minute: "2-digit" }) : "");

async function refresh() {
  snap = await Hall.api(`/api/halls/${hallId}/overview`);
  render();
}

function render() {
  if (!snap) return;
  $("hall-name").textContent = snap.name;
  document.title = `${snap.name} · ${t("home.dashboard")}`;
  const waiting = Object.values(snap.waiting_by_category).reduce((a, b) => a + b, 0);
  const open = snap.windows.filter((w) => !["offline", "paused"].includes(w.state)).length;
  const waits = Object.values(snap.waits).map((w) => w.predicted_wait_s).filter((x) => x !== null && isFinite(x));
  $("k-waiting").textContent = waiting;
  $("k-open").textContent = `${open} / ${snap.windows.length}`;
  $("k-wait").textContent = waits.length ? Hall.waitMinutes(Math.max(...waits)) : "0";
  $("k-alarms").textContent = snap.alarms.length;
  $("k-alarm-box").classList.toggle("alarm", snap.alarms.length > 0);

  $("alarms").replaceChildren(...(snap.alarms.length ? snap.alarms.map((a) => el("div", { class: `alarm-row${a.alarm === "paper_near_end" ? " warn" : ""}`, dataset: { device: a.device, alarm: a.alarm } },
    "⚠", el("span", {}, alarmName(a.alarm)), el("span", { class: "dev" }, `${kindName(a.kind)} · ${a.device}`)))
    : [el("div", { class: "ok-row" }, "✓ ", t("dash.no_alarms"))]));

  $("windows").replaceChildren(...snap.windows.map((w) => el("div", { class: `win s-${w.state}`, dataset: { window: w.id } },
    el("div", { class: "head" }, el("span", { class: "no" }, w.name || w.number), el("span", { class: `ws ws-${w.state}` }, t(`ws.${w.state}`))),
    el("div", { class: "who" }, w.clerk ? `${w.clerk.name} · ${w.clerk.staff_id}` : "—"),
    w.ticket ? el("div", { class: "tkt" }, w.ticket.number, el("small", {}, w.ticket.matter_name))
      : el("div", { class: "tkt none" }, w.pause_reason ? `${t("ws.paused")} · ${t(`reason.${w.pause_reason}`) === `reason.${w.pause_reason}` ? w.pause_reason : t(`reason.${w.pause_reason}`)}` : t("clerk.none")))));

  const cats = Object.values(snap.waits);
  $("queues").replaceChildren(...cats.map((c) => el("tr", {},
    el("td", {}, catName(c.category)), el("td", { class: "num" }, c.waiting),
    el("td", { class: "num" }, `${c.open_windows} / ${c.windows}`),
    el("td", { class: "num" }, `${Hall.waitMinutes(c.predicted_wait_s)} ${t("unit.min")}`),
    el("td", {}, el("span", { class: "chip grey" }, c.method === "erlang_c" ? "Erlang C" : "≈ n·s/c")))));

  $("calls").replaceChildren(...snap.calls.map((c) => el("tr", {},
    el("td", {}, el("b", {}, c.number)), el("td", {}, t("disp.window_n", { w: c.window_number })),
    el("td", {}, el("span", { class: `ws ws-${c.state === "done" ? "idle" : c.state}` }, t(`ws.${c.state}`) === `ws.${c.state}` ? c.state : t(`ws.${c.state}`))),
    el("td", { class: "num" }, time(c.called_at)))));

  $("devices").replaceChildren(...snap.devices.map((d) => el("tr", { dataset: { device: d.id } },
    el("td", {}, d.id), el("td", {}, kindName(d.kind)), el("td", {}, d.window || "—"),
    el("td", {}, ...(d.alarms.length ? d.alarms.map((a) => el("span", { class: `chip ${a.startsWith("paper_near") ? "warn" : "bad"}` }, alarmName(a)))
      : [el("span", { class: "chip" }, t("dev.ok"))])))));

  $("rect-count").textContent = snap.rectifications.length;
  $("rect-empty").classList.toggle("hidden", snap.rectifications.length > 0);
  $("rect").replaceChildren(...snap.rectifications.map((r) => el("tr", {},
    el("td", {}, r.ticket), el("td", {}, r.window), el("td", {}, r.matter),
    el("td", {}, el("span", { class: "chip bad" }, t(`level.${r.level}`))),
    el("td", {}, el("span", { class: r.overdue ? "chip bad" : "chip" },
      new Date(r.due_at).toLocaleDateString(Hall.lang === "zh" ? "zh-CN" : "en-GB"))))));
}

document.addEventListener("DOMContentLoaded", () => {
  document.addEventListener("hall:lang", render);
  Hall.live(hallId, refresh);
});
