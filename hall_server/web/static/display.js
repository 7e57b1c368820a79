/* The calling display (a TV in the hall): the newest call large and highlighted, the recent ones beside
   it, the number of people waiting. It re-fetches on every change, on reconnect and when it heard
   nothing for a while, so it never stays on an old screen. */
"use strict";

const hallId = Hall.pathId("/display/");
const $ = (id) => document.getElementById(id);
let snap = null;
let shownKey = null;

async function refresh() {
  snap = await Hall.api(`/api/halls/${hallId}/calls?limit=6`);
  render();
}

function render() {
  if (!snap) return;
  $("hall-name").textContent = snap.hall_name;
  document.title = `${snap.hall_name} · ${Hall.t("home.display")}`;
  const [latest, ...rest] = snap.calls;
  $("now-hint").classList.toggle("hidden", Boolean(latest));
  $("now-number").textContent = latest ? latest.number : "";
  $("now-window").replaceChildren();
  if (latest) {
    const please = Hall.t("disp.please");
    const text = Hall.t("disp.to_window", { w: "\u0000" }).split("\u0000");
    $("now-window").append(please, text[0], Hall.el("b", {}, latest.window_number), text[1] || "");
    $("now").dataset.key = latest.key;
  }
  if (latest && latest.key !== shownKey) {
    const box = $("now");
    box.classList.remove("flash");
    void box.offsetWidth; // restart the animation
    box.classList.add("flash");
    shownKey = latest.key;
  }
  $("recent").replaceChildren(...rest.map((c) => Hall.el("li", { class: c.state === "called" ? "" : "done" },
    Hall.el("span", {}, c.number), Hall.el("span", { class: "wn" }, Hall.t("disp.window_n", { w: c.window_number })))));
  $("waiting").textContent = snap.waiting;
}

document.addEventListener("DOMContentLoaded", () => {
  Hall.clock($("clock"));
  document.addEventListener("hall:lang", render);
  Hall.live(hallId, refresh, { staleS: 30, kinds: ["tickets", "windows", "topology"] });
});
