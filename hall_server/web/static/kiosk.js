/* The citizen's kiosk: subject -> category -> matter -> ticket (huge number, people ahead, wait). */
"use strict";

const hallId = Hall.pathId("/kiosk/");
const params = new URLSearchParams(location.search);
const RETURN_S = 40;
const ID_READER_KINDS = ["id_reader", "id_card_reader"];
const state = { matters: [], printer: params.get("printer"), printerDevice: null, subject: null, category: null,
  ticket: null, pollTimer: null, returnTimer: null, busy: false };

const $ = (id) => document.getElementById(id);

function show(name) {
  for (const s of ["home", "matters", "booking", "ticket"]) $(`screen-${s}`).classList.toggle("hidden", s !== name);
  clearInterval(state.returnTimer);
  if (name !== "ticket") clearInterval(state.pollTimer);
}

function requestId() {
  return `kiosk-${hallId}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
}

function paperOut() {
  const d = state.printerDevice;
  return Boolean(d && d.state && d.state.paper === "out");
}

async function refreshDevices() {
  const devices = await Hall.api(`/api/halls/${hallId}/devices`);
  const printers = devices.filter((d) => d.kind === "ticket_printer");
  state.printerDevice = printers.find((d) => d.id === state.printer) || printers[0] || null;
  if (!state.printer && state.printerDevice) state.printer = state.printerDevice.id;
  const reader = devices.some((d) => ID_READER_KINDS.includes(d.kind));
  $("btn-idcard").classList.toggle("hidden", !reader);
  $("paper-banner").classList.toggle("hidden", !paperOut());
  if (state.ticket) renderPrint();
}

function categoriesOf(subject) {
  return [...new Set(state.matters.filter((m) => m.subject === subject).map((m) => m.category))];
}

function catName(cat) {
  const key = `cat.${cat}`;
  const t = Hall.t(key);
  return t === key ? cat : t;
}

let markLoaded;
const loaded = new Promise((resolve) => { markLoaded = resolve; });

async function openSubject(subject) {
  await loaded; // a press before the catalogue arrived waits for it
  state.subject = subject;
  const cats = categoriesOf(subject);
  state.category = cats[0] || null;
  $("matters-title").textContent = Hall.t(`kiosk.${subject}`);
  renderMatters();
  show("matters");
}

function renderMatters() {
  const cats = categoriesOf(state.subject);
  const tabs = $("categories");
  tabs.classList.toggle("hidden", cats.length < 2);
  tabs.replaceChildren(...cats.map((c) => Hall.el("button", {
    class: `tab${c === state.category ? " on" : ""}`, onclick: () => { state.category = c; renderMatters(); },
  }, catName(c))));
  const list = state.matters.filter((m) => m.subject === state.subject && (cats.length < 2 || m.category === state.category));
  $("matters").replaceChildren(...list.map((m) => Hall.el("button", {
    class: "matter", dataset: { matter: m.code }, onclick: () => issue({ matter: m.code }),
  }, m.name, Hall.el("small", {}, catName(m.category)))));
}

async function issue(body) {
  if (state.busy) return;
  state.busy = true;
  try {
    const ticket = await Hall.api(`/api/halls/${hallId}/tickets`, {
      method: "POST", body: { ...body, printer: state.printer || undefined, request_id: requestId() },
    });
    showTicket(ticket);
  } catch (e) {
    Hall.toast(`${Hall.t("kiosk.error")}（${e.message}）`);
  } finally {
    state.busy = false;
  }
}

async function checkIn(code) {
  if (state.busy) return;
  state.busy = true;
  try {
    const ticket = await Hall.api(`/api/halls/${hallId}/bookings/${encodeURIComponent(code)}/check-in`, {
      method: "POST", body: { printer: state.printer || undefined },
    });
    showTicket(ticket);
  } catch (e) {
    Hall.toast(`${Hall.t("kiosk.error")}（${e.message}）`);
  } finally {
    state.busy = false;
  }
}

function showTicket(ticket) {
  state.ticket = ticket;
  $("t-number").textContent = ticket.number;
  $("t-matter").textContent = ticket.matter_name || ticket.matter;
  $("t-ahead").textContent = ticket.ahead ?? 0;
  $("t-wait").textContent = Hall.minutes(ticket.predicted_wait_s ?? null);
  const alt = ticket.alternative;
  $("t-alt").classList.toggle("hidden", !alt);
  if (alt) {
    let text = Hall.t("kiosk.alternative", { hall: alt.hall_name, min: Hall.minutes(alt.predicted_wait_s) });
    if (alt.distance_km != null) text += `，${Hall.t("kiosk.distance", { km: alt.distance_km })}`;
    $("t-alt").textContent = text;
  }
  renderPrint();
  show("ticket");
  let left = RETURN_S;
  const tick = () => {
    $("t-return").textContent = Hall.t("kiosk.returning", { s: left });
    if (left-- <= 0) finish();
  };
  tick();
  state.returnTimer = setInterval(tick, 1000);
  clearInterval(state.pollTimer);
  if (ticket.print_status === "pending") state.pollTimer = setInterval(pollPrint, 1000);
}

async function pollPrint() {
  if (!state.ticket) return;
  try {
    const t = await Hall.api(`/api/tickets/${state.ticket.id}`);
    state.ticket = { ...state.ticket, print_status: t.print_status, print: t.print };
    if (t.print_status !== "pending") clearInterval(state.pollTimer);
    renderPrint();
  } catch (e) { console.warn(e); }
}

function renderPrint() {
  const t = state.ticket;
  const box = $("t-print");
  let key, cls = "";
  const error = t.print && t.print.error && t.print.error.code;
  if (t.print_status === "printed") { key = "kiosk.printed"; cls = "ok"; }
  else if (t.print_status === "failed" || t.print_status === "timeout") {
    key = error === "paper_out" || paperOut() ? "kiosk.paper_out" : "kiosk.print_failed"; cls = "bad";
  } else if (t.print_status === "pending") {
    if (paperOut()) { key = "kiosk.paper_out"; cls = "bad"; } else key = "kiosk.printing";
  } else { key = "kiosk.no_print"; }
  box.className = `print-status ${cls}`;
  box.dataset.status = t.print_status;
  box.textContent = Hall.t(key);
}

function finish() {
  state.ticket = null;
  show("home");
}

function buildKeypad() {
  const keys = "1234567890ABCDEFGHJKLMNPQRSTUVWXYZ-".split("");
  const input = $("booking-code");
  $("keypad").replaceChildren(
    ...keys.map((k) => Hall.el("button", { type: "button", onclick: () => { input.value += k; input.focus(); } }, k)),
    Hall.el("button", { type: "button", onclick: () => { input.value = input.value.slice(0, -1); input.focus(); } }, "⌫"),
  );
}

document.addEventListener("DOMContentLoaded", async () => {
  Hall.clock($("clock"));
  $("btn-enterprise").addEventListener("click", () => openSubject("enterprise"));
  $("btn-personal").addEventListener("click", () => openSubject("personal"));
  $("btn-booking").addEventListener("click", () => { $("booking-code").value = ""; show("booking"); $("booking-code").focus(); });
  document.querySelectorAll("[data-back]").forEach((b) => b.addEventListener("click", () => show("home")));
  $("btn-done").addEventListener("click", finish);
  $("booking-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const code = $("booking-code").value.trim();
    if (code) checkIn(code);
  });
  document.addEventListener("hall:lang", () => {
    if (state.subject) { $("matters-title").textContent = Hall.t(`kiosk.${state.subject}`); renderMatters(); }
    if (state.ticket) showTicket(state.ticket);
  });
  buildKeypad();
  const hall = await Hall.api(`/api/halls/${hallId}`);
  $("hall-name").textContent = hall.name;
  document.title = `${hall.name} · 自助取号`;
  state.matters = await Hall.api("/api/matters");
  for (const s of ["enterprise", "personal"]) {
    if (!state.matters.some((m) => m.subject === s)) $(`btn-${s}`).classList.add("hidden");
  }
  show("home");
  markLoaded();
  document.body.dataset.ready = "1";
  Hall.live(hallId, refreshDevices, { kinds: ["devices", "topology"] });
});
