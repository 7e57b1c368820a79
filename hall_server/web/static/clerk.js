/* The window clerk's console: sign in, then act on the window. The clerk never sees or picks a waiting
   ticket: the dispatcher assigns one at random; only counts of waiting people are shown. */
"use strict";

const $ = (id) => document.getElementById(id);
const SESSION_KEY = "hall.clerk";
// which actions make sense in which window state (the server decides; this only greys out buttons)
const ENABLED = {
  offline: [],
  idle: ["call-next", "ready", "pause"],
  ready: ["pause"],
  called: ["recall", "start", "finish", "skip", "transfer", "hold"],
  serving: ["finish", "transfer", "hold"],
  paused: ["resume"],
};
const PAUSE_REASONS = ["break", "meeting", "system", "other"];
const HOLD_MINUTES = [5, 10, 15, 30];
let session = JSON.parse(localStorage.getItem(SESSION_KEY) || "null");
let offered = null; // the window actions the server's API offers
let view = null; // { window, ticket }
let categories = [];

async function apiActions() {
  try {
    const spec = await Hall.api("/openapi.json");
    const path = Object.keys(spec.paths).find((p) => p.endsWith("/windows/{window}/{action}"));
    const param = spec.paths[path].post.parameters.find((p) => p.name === "action");
    let schema = param.schema;
    if (schema.$ref) schema = schema.$ref.split("/").slice(1).reduce((o, k) => o[k], spec);
    return schema.enum || null;
  } catch (e) {
    console.warn("cannot read the API's window actions", e);
    return null;
  }
}

async function loadHalls(selected) {
  const halls = await Hall.api("/api/halls");
  $("f-hall").replaceChildren(...halls.map((h) => Hall.el("option", { value: h.id, selected: h.id === selected }, h.name)));
  await loadWindows();
}

async function loadWindows() {
  const hall = await Hall.api(`/api/halls/${$("f-hall").value}`);
  const wanted = new URLSearchParams(location.search).get("window");
  $("f-window").replaceChildren(...hall.windows.map((w) => Hall.el("option", { value: w.id, selected: w.id === wanted },
    `${w.name || w.number} · ${Hall.t(`ws.${w.state}`)}`)));
}

function showLogin() {
  $("console").classList.add("hidden");
  $("login").classList.remove("hidden");
  $("subtitle").textContent = "";
  const hall = new URLSearchParams(location.search).get("hall") || (session && session.hall);
  loadHalls(hall).catch((e) => Hall.toast(e.message));
}

async function login(ev) {
  ev.preventDefault();
  const s = { hall: $("f-hall").value, window: $("f-window").value, staff_id: $("f-staff").value.trim(), name: $("f-name").value.trim() };
  if ($("f-token").value.trim()) Hall.setToken($("f-token").value);
  try {
    if (!offered || offered.includes("login")) {
      await Hall.api(`/api/halls/${s.hall}/windows/${s.window}/login`, { method: "POST", body: { staff_id: s.staff_id, name: s.name } });
    }
    session = s;
    localStorage.setItem(SESSION_KEY, JSON.stringify(s));
    startConsole();
  } catch (e) { Hall.toast(e.message); }
}

async function logout() {
  try {
    if (!offered || offered.includes("logout")) {
      await Hall.api(`/api/halls/${session.hall}/windows/${session.window}/logout`, { method: "POST" });
    }
  } catch (e) { Hall.toast(e.message); return; }
  localStorage.removeItem(SESSION_KEY);
  session = null;
  showLogin();
}

async function refresh() {
  if (!session) return;
  const w = await Hall.api(`/api/halls/${session.hall}/windows/${session.window}`);
  if (offered && offered.includes("login") && (w.state === "offline" || !w.clerk || w.clerk.staff_id !== session.staff_id)) {
    localStorage.removeItem(SESSION_KEY);
    session = null;
    showLogin();
    return;
  }
  const ticket = w.current_ticket_id ? await Hall.api(`/api/tickets/${w.current_ticket_id}`) : null;
  const waits = await Hall.api(`/api/halls/${session.hall}/waits`).catch(() => ({ categories: {} }));
  view = { window: w, ticket };
  categories = Object.keys(waits.categories);
  const cats = Object.values(waits.categories);
  const total = cats.reduce((n, c) => n + c.waiting, 0);
  const mine = cats.filter((c) => w.categories.includes("all") || w.categories.includes(c.category)).reduce((n, c) => n + c.waiting, 0);
  $("c-waiting").textContent = total;
  $("c-mine").textContent = mine;
  render();
}

function render() {
  if (!view) return;
  const { window: w, ticket } = view;
  $("subtitle").textContent = `${w.name || w.number} · ${w.clerk ? `${w.clerk.name}（${w.clerk.staff_id}）` : ""}`;
  const st = $("c-state");
  st.className = `ws ws-${w.state}`;
  st.textContent = Hall.t(`ws.${w.state}`) + (w.pause_reason ? ` · ${reasonName(w.pause_reason)}` : "");
  const num = $("c-number");
  num.classList.toggle("none", !ticket);
  num.textContent = ticket ? ticket.number : Hall.t("clerk.none");
  $("c-matter").textContent = ticket ? ticket.matter_name : "";
  $("c-timer-box").classList.toggle("hidden", !ticket);
  const enabled = ENABLED[w.state] || [];
  document.querySelectorAll("#actions [data-action]").forEach((b) => {
    const a = b.dataset.action;
    b.classList.toggle("hidden", Boolean(offered) && !offered.includes(a));
    b.disabled = !enabled.includes(a);
  });
}

function reasonName(r) {
  const key = `reason.${r}`;
  return Hall.t(key) === key ? r : Hall.t(key);
}

function tickTimer() {
  if (!view || !view.ticket) return;
  const since = view.ticket.started_at || view.ticket.called_at;
  if (since) $("c-timer").textContent = Hall.duration(Date.now() - since);
}

function choose(title, options) {
  return new Promise((resolve) => {
    const dlg = $("dlg");
    let picked = options[0] ? options[0].value : null;
    $("dlg-title").textContent = title;
    $("dlg-options").replaceChildren(...options.map((o, i) => Hall.el("button", {
      class: `btn${i === 0 ? " on" : ""}`, type: "button",
      onclick: (ev) => { picked = o.value; dlg.querySelectorAll(".options .btn").forEach((b) => b.classList.remove("on")); ev.currentTarget.classList.add("on"); },
    }, o.label)));
    $("dlg-ok").onclick = () => { dlg.close(); resolve(picked); };
    $("dlg-cancel").onclick = () => { dlg.close(); resolve(null); };
    dlg.showModal();
  });
}

async function act(action) {
  let body;
  if (action === "pause") {
    const r = await choose(Hall.t("clerk.reason"), PAUSE_REASONS.map((x) => ({ value: x, label: reasonName(x) })));
    if (!r) return;
    body = { reason: r };
  } else if (action === "hold") {
    const m = await choose(Hall.t("clerk.hold_for"), HOLD_MINUTES.map((x) => ({ value: x, label: `${x} ${Hall.t("unit.min")}` })));
    if (!m) return;
    body = { seconds: m * 60 };
  } else if (action === "transfer") {
    const options = categories.map((c) => ({ value: c, label: Hall.t(`cat.${c}`) === `cat.${c}` ? c : Hall.t(`cat.${c}`) }));
    const c = await choose(Hall.t("clerk.transfer_to"), options);
    if (!c) return;
    body = { category: c };
  }
  try {
    await Hall.api(`/api/halls/${session.hall}/windows/${session.window}/${action}`, { method: "POST", body });
    await refresh();
  } catch (e) { Hall.toast(e.message); }
}

let live = null;
function startConsole() {
  $("login").classList.add("hidden");
  $("console").classList.remove("hidden");
  if (!live || live.hall !== session.hall) live = { hall: session.hall, ...Hall.live(session.hall, refresh) };
  else live.refresh();
}

document.addEventListener("DOMContentLoaded", async () => {
  Hall.clock($("clock"));
  offered = await apiActions();
  $("login-form").addEventListener("submit", login);
  $("f-hall").addEventListener("change", loadWindows);
  $("logout").addEventListener("click", logout);
  document.querySelectorAll("#actions [data-action]").forEach((b) => b.addEventListener("click", () => act(b.dataset.action)));
  document.addEventListener("hall:lang", render);
  setInterval(tickTimer, 1000);
  if (session) startConsole(); else showLogin();
});
