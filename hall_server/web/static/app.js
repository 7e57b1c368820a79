/* Shared by every page: i18n (Chinese first, English switch, remembered), the JSON API, live events. */
"use strict";

const I18N = {
  zh: {
    "app.title": "政务服务大厅", "lang.switch": "English", "live.reconnecting": "正在重新连接…", "live.ok": "实时",
    "nav.home": "首页", "nav.city": "全市概览", "nav.stats": "统计分析", "nav.clerk": "窗口工作台",
    "home.title": "政务服务大厅系统", "home.subtitle": "一门办事 · 一窗受理 · 一次跑动",
    "home.kiosk": "取号机", "home.dashboard": "大厅看板", "home.display": "叫号屏", "home.waiting": "等候",
    "home.halls": "服务大厅", "home.tools": "工作入口",
    "kiosk.welcome": "欢迎办理业务", "kiosk.choose": "请选择办事类型",
    "kiosk.enterprise": "企业办事", "kiosk.enterprise.sub": "设立、变更、许可", "kiosk.personal": "个人办事",
    "kiosk.personal.sub": "社保、证明、户籍", "kiosk.booking": "预约取号", "kiosk.booking.sub": "扫描预约二维码",
    "kiosk.idcard": "刷身份证", "kiosk.idcard.sub": "将身份证放在感应区",
    "kiosk.back": "返回", "kiosk.choose_matter": "请选择办理事项", "kiosk.your_number": "您的号码",
    "kiosk.ahead": "前面还有", "kiosk.people": "人", "kiosk.wait": "预计等候", "kiosk.minutes": "分钟",
    "kiosk.about": "约", "kiosk.printing": "正在打印号票…", "kiosk.printed": "请取走您的号票，留意叫号屏",
    "kiosk.paper_out": "打印机缺纸，请记下您的号码", "kiosk.print_failed": "号票未能打印，请记下您的号码",
    "kiosk.no_print": "请记下您的号码，留意叫号屏",
    "kiosk.paper_out_banner": "打印机缺纸：号码将显示在屏幕上，请记下号码", "kiosk.done": "完成",
    "kiosk.alternative": "附近的{hall}预计只需等候约{min}分钟", "kiosk.distance": "距此约{km}公里",
    "kiosk.returning": "{s}秒后返回首页", "kiosk.booking_code": "请扫描或输入预约码", "kiosk.confirm": "确认",
    "kiosk.error": "暂时无法取号，请联系工作人员", "kiosk.green": "绿色通道",
    "kiosk.matter_count": "{n}项", "kiosk.help": "如需帮助，请咨询大厅工作人员 · 叫号后请到指定窗口办理",
    "cat.enterprise": "企业事项", "cat.personal": "个人事项", "cat.all": "全部事项",
    "clerk.login": "窗口登录", "clerk.hall": "服务大厅", "clerk.window": "窗口", "clerk.staff_id": "工号",
    "auth.title": "请输入访问令牌", "auth.hint": "此操作需要授权。请向大厅管理员索取令牌（hallctl token）。",
    "auth.token": "访问令牌", "auth.save": "确定", "clerk.token": "访问令牌",
    "clerk.name": "姓名", "clerk.sign_in": "登录", "clerk.sign_out": "退出登录", "clerk.current": "当前办理",
    "clerk.none": "暂无办理对象", "clerk.waiting": "等候人数", "clerk.my_queue": "本窗口可办",
    "clerk.visit_timer": "办理计时", "clerk.state": "窗口状态",
    "act.ready": "就绪", "act.call-next": "呼叫下一位", "act.recall": "重呼", "act.start": "开始办理",
    "act.finish": "办结", "act.skip": "过号", "act.transfer": "转办", "act.hold": "挂起",
    "act.pause": "暂停服务", "act.resume": "恢复服务", "clerk.reason": "暂停原因",
    "reason.break": "休息", "reason.meeting": "会议", "reason.system": "系统故障", "reason.other": "其他",
    "clerk.transfer_to": "转到事项类别", "clerk.hold_for": "挂起时长", "clerk.cancel": "取消", "clerk.ok": "确定",
    "clerk.random_note": "叫号由系统随机分配，窗口不能选择办事群众",
    "ws.offline": "未登录", "ws.idle": "空闲", "ws.ready": "等待分配", "ws.called": "已叫号", "ws.serving": "办理中",
    "ws.paused": "暂停", "ws.done": "已办结", "ws.no_show": "过号", "ws.held": "挂起", "ws.waiting": "等候中",
    "dash.windows": "窗口状态", "dash.queues": "排队与预计等候", "dash.devices": "设备状态",
    "dash.alarms": "设备告警", "dash.no_alarms": "设备运行正常", "dash.rectify": "待整改事项（差评）",
    "dash.no_rectify": "暂无待整改事项", "dash.calls": "最近叫号", "dash.waiting": "等候人数",
    "dash.open_windows": "开放窗口", "dash.predicted": "最长预计等候", "dash.alarm_count": "告警",
    "dash.category": "类别", "dash.queue": "排队", "dash.method": "预测方法", "dash.device": "设备",
    "dash.kind": "类型", "dash.status": "状态", "dash.due": "整改期限", "dash.level": "评价",
    "dash.ticket": "号码", "dash.matter": "事项", "dash.clerk": "窗口人员", "dash.none": "无",
    "kind.ticket_printer": "取号打印机", "kind.window_screen": "窗口屏", "kind.caller": "呼叫器",
    "kind.evaluator": "评价器", "kind.hall_screen": "综合屏",
    "alarm.offline": "离线", "alarm.paper_out": "缺纸", "alarm.paper_near_end": "纸将尽", "alarm.cover_open": "机盖打开",
    "alarm.tamper": "防拆告警", "dev.ok": "正常",
    "disp.please": "请", "disp.to_window": "到 {w} 号窗口", "disp.recent": "最近叫号", "disp.waiting": "当前等候",
    "disp.people": "人", "disp.no_calls": "请取号后留意叫号", "disp.window_n": "{w}号窗口",
    "city.title": "全市政务服务大厅概览", "city.hall": "大厅", "city.waiting": "等候", "city.predicted": "预计等候",
    "city.open": "开放窗口", "city.alarms": "告警", "city.total_waiting": "全市等候", "city.halls": "大厅数",
    "city.total_alarms": "设备告警",
    "stats.title": "统计分析", "stats.hall": "大厅", "stats.all": "全市", "stats.from": "开始日期", "stats.to": "结束日期",
    "stats.apply": "查询", "stats.csv_day": "下载CSV（按日）", "stats.csv_hall": "下载CSV（按大厅）",
    "stats.tickets": "取号量", "stats.served": "办结", "stats.wait_p50": "等候中位数", "stats.wait_p95": "等候P95",
    "stats.service": "平均办理时长", "stats.satisfaction": "满意率", "stats.trips": "减少跑动（估算）",
    "stats.by_day": "每日取号与办结", "stats.waits": "等候时间（分钟）", "stats.levels": "好差评分布",
    "stats.by_hall": "各大厅", "stats.no_show": "过号", "stats.ratings": "评价数",
    "level.5": "非常满意", "level.4": "满意", "level.3": "基本满意", "level.2": "不满意", "level.1": "非常不满意",
    "unit.min": "分钟", "unit.s": "秒", "unit.people": "人",
  },
  en: {
    "app.title": "Service Hall", "lang.switch": "中文", "live.reconnecting": "Reconnecting…", "live.ok": "Live",
    "nav.home": "Home", "nav.city": "City", "nav.stats": "Statistics", "nav.clerk": "Clerk console",
    "home.title": "Government Service Halls", "home.subtitle": "One door · one window · one trip",
    "home.kiosk": "Kiosk", "home.dashboard": "Dashboard", "home.display": "Calling display", "home.waiting": "waiting",
    "home.halls": "Service halls", "home.tools": "Workplaces",
    "kiosk.welcome": "Welcome", "kiosk.choose": "What would you like to do?",
    "kiosk.enterprise": "Business matters", "kiosk.enterprise.sub": "Registration, changes, permits",
    "kiosk.personal": "Personal matters", "kiosk.personal.sub": "Social security, certificates",
    "kiosk.booking": "I have a booking", "kiosk.booking.sub": "Scan your booking QR code",
    "kiosk.idcard": "ID card", "kiosk.idcard.sub": "Place your ID card on the reader",
    "kiosk.back": "Back", "kiosk.choose_matter": "Choose your matter", "kiosk.your_number": "Your number",
    "kiosk.ahead": "Ahead of you", "kiosk.people": "", "kiosk.wait": "Expected wait", "kiosk.minutes": "min",
    "kiosk.about": "about", "kiosk.printing": "Printing your ticket…", "kiosk.printed": "Please take your ticket and watch the screens",
    "kiosk.paper_out": "The printer is out of paper — please note your number",
    "kiosk.print_failed": "Your ticket could not be printed — please note your number",
    "kiosk.no_print": "Please note your number and watch the screens",
    "kiosk.paper_out_banner": "Printer out of paper: your number will be shown on screen", "kiosk.done": "Done",
    "kiosk.alternative": "Nearby: {hall}, expected wait about {min} min", "kiosk.distance": "about {km} km away",
    "kiosk.returning": "Back to start in {s} s", "kiosk.booking_code": "Scan or type your booking code",
    "kiosk.confirm": "Confirm", "kiosk.error": "Cannot issue a ticket now, please ask the staff",
    "kiosk.green": "Green channel", "kiosk.matter_count": "{n} matters",
    "kiosk.help": "Need help? Ask the hall staff · when called, go to the window shown",
    "cat.enterprise": "Business", "cat.personal": "Personal", "cat.all": "All",
    "clerk.login": "Window sign-in", "clerk.hall": "Hall", "clerk.window": "Window", "clerk.staff_id": "Staff ID",
    "auth.title": "Access token needed", "auth.hint": "This needs authorisation. Ask the hall operator for a token (hallctl token).",
    "auth.token": "Access token", "auth.save": "OK", "clerk.token": "Access token",
    "clerk.name": "Name", "clerk.sign_in": "Sign in", "clerk.sign_out": "Sign out", "clerk.current": "Now serving",
    "clerk.none": "Nobody at the window", "clerk.waiting": "Waiting", "clerk.my_queue": "for this window",
    "clerk.visit_timer": "Visit time", "clerk.state": "Window state",
    "act.ready": "Ready", "act.call-next": "Call next", "act.recall": "Recall", "act.start": "Start",
    "act.finish": "Finish", "act.skip": "No-show", "act.transfer": "Transfer", "act.hold": "Hold",
    "act.pause": "Pause", "act.resume": "Resume", "clerk.reason": "Reason",
    "reason.break": "Break", "reason.meeting": "Meeting", "reason.system": "System fault", "reason.other": "Other",
    "clerk.transfer_to": "Transfer to category", "clerk.hold_for": "Hold for", "clerk.cancel": "Cancel", "clerk.ok": "OK",
    "clerk.random_note": "Citizens are assigned to windows at random; a window cannot choose whom to serve",
    "ws.offline": "Signed out", "ws.idle": "Idle", "ws.ready": "Ready", "ws.called": "Called", "ws.serving": "Serving",
    "ws.paused": "Paused", "ws.done": "Done", "ws.no_show": "No-show", "ws.held": "On hold", "ws.waiting": "Waiting",
    "dash.windows": "Windows", "dash.queues": "Queues and expected waits", "dash.devices": "Devices",
    "dash.alarms": "Device alarms", "dash.no_alarms": "All devices OK", "dash.rectify": "Rectification due (bad ratings)",
    "dash.no_rectify": "Nothing to rectify", "dash.calls": "Latest calls", "dash.waiting": "Waiting",
    "dash.open_windows": "Open windows", "dash.predicted": "Longest expected wait", "dash.alarm_count": "Alarms",
    "dash.category": "Category", "dash.queue": "Queue", "dash.method": "Method", "dash.device": "Device",
    "dash.kind": "Kind", "dash.status": "Status", "dash.due": "Due", "dash.level": "Rating",
    "dash.ticket": "Number", "dash.matter": "Matter", "dash.clerk": "Clerk", "dash.none": "none",
    "kind.ticket_printer": "Ticket printer", "kind.window_screen": "Window screen", "kind.caller": "Caller keypad",
    "kind.evaluator": "Evaluator", "kind.hall_screen": "Hall screen",
    "alarm.offline": "Offline", "alarm.paper_out": "Paper out", "alarm.paper_near_end": "Paper low",
    "alarm.cover_open": "Cover open", "alarm.tamper": "Tamper", "dev.ok": "OK",
    "disp.please": "", "disp.to_window": "please go to window {w}", "disp.recent": "Recent calls",
    "disp.waiting": "Waiting", "disp.people": "", "disp.no_calls": "Take a ticket and watch this screen",
    "disp.window_n": "Window {w}",
    "city.title": "City overview", "city.hall": "Hall", "city.waiting": "Waiting", "city.predicted": "Expected wait",
    "city.open": "Open windows", "city.alarms": "Alarms", "city.total_waiting": "Waiting in the city",
    "city.halls": "Halls", "city.total_alarms": "Device alarms",
    "stats.title": "Statistics", "stats.hall": "Hall", "stats.all": "Whole city", "stats.from": "From", "stats.to": "To",
    "stats.apply": "Show", "stats.csv_day": "CSV by day", "stats.csv_hall": "CSV by hall",
    "stats.tickets": "Tickets", "stats.served": "Served", "stats.wait_p50": "Median wait", "stats.wait_p95": "95th pct wait",
    "stats.service": "Mean service time", "stats.satisfaction": "Satisfaction", "stats.trips": "Trips avoided (est.)",
    "stats.by_day": "Tickets and served per day", "stats.waits": "Waiting time (min)", "stats.levels": "Ratings by level",
    "stats.by_hall": "By hall", "stats.no_show": "No-show", "stats.ratings": "Ratings",
    "level.5": "Very satisfied", "level.4": "Satisfied", "level.3": "Fairly satisfied", "level.2": "Dissatisfied",
    "level.1": "Very dissatisfied",
    "unit.min": "min", "unit.s": "s", "unit.people": "",
  },
};

const Hall = {
  lang: localStorage.getItem("hall.lang") || "zh",

  t(key, vars) {
    let s = (I18N[Hall.lang] && I18N[Hall.lang][key]) ?? I18N.zh[key] ?? key;
    for (const [k, v] of Object.entries(vars || {})) s = s.replaceAll(`{${k}}`, v);
    return s;
  },

  /** Translate every [data-i18n] element (text) and [data-i18n-ph] (placeholder) under root. */
  translate(root = document) {
    document.documentElement.lang = Hall.lang === "zh" ? "zh-CN" : "en";
    root.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = Hall.t(el.dataset.i18n); });
    root.querySelectorAll("[data-i18n-ph]").forEach((el) => { el.placeholder = Hall.t(el.dataset.i18nPh); });
  },

  setLang(lang) {
    Hall.lang = lang;
    localStorage.setItem("hall.lang", lang);
    Hall.translate();
    document.dispatchEvent(new CustomEvent("hall:lang"));
  },

  /** A language switch button: <button class="lang" data-lang-switch>. */
  bindLangSwitch() {
    document.querySelectorAll("[data-lang-switch]").forEach((b) => {
      b.addEventListener("click", () => Hall.setLang(Hall.lang === "zh" ? "en" : "zh"));
    });
  },

  /** The bearer token of this screen (a kiosk's device token, a clerk's, an operator's). */
  token() { return localStorage.getItem("hall.token") || ""; },

  setToken(token) {
    if (token) localStorage.setItem("hall.token", token.trim()); else localStorage.removeItem("hall.token");
  },

  /** A token given once in the address (?token=…) is kept and taken out of the address bar. */
  takeTokenFromUrl() {
    const params = new URLSearchParams(location.search);
    if (!params.has("token")) return;
    Hall.setToken(params.get("token"));
    params.delete("token");
    const rest = params.toString();
    history.replaceState(null, "", location.pathname + (rest ? "?" + rest : "") + location.hash);
  },

  /** Ask for a token when the server says 401; the page reloads with it. */
  askToken() {
    if (document.getElementById("auth-dialog")) return;
    const box = document.createElement("form");
    box.id = "auth-dialog";
    box.className = "auth-dialog";
    box.innerHTML = `<h2>${Hall.t("auth.title")}</h2><p>${Hall.t("auth.hint")}</p>
      <label class="field"><span>${Hall.t("auth.token")}</span><input id="auth-token" type="password" required autocomplete="current-password"></label>
      <button class="btn primary" type="submit">${Hall.t("auth.save")}</button>`;
    box.addEventListener("submit", (ev) => { ev.preventDefault(); Hall.setToken(box.querySelector("#auth-token").value); location.reload(); });
    document.body.appendChild(box);
  },

  async api(path, { method = "GET", body } = {}) {
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (Hall.token()) headers.Authorization = "Bearer " + Hall.token();
    const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: "no-store" });
    const text = await res.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch { data = { detail: text }; }
    if (res.status === 401) Hall.askToken();
    if (!res.ok) {
      const detail = data && data.detail;
      const err = new Error(typeof detail === "string" ? detail : JSON.stringify(detail || res.status));
      err.status = res.status;
      throw err;
    }
    return data;
  },

  /** The path segment after `prefix`, e.g. hallFromPath("/kiosk/") on /kiosk/cc-city -> "cc-city". */
  pathId(prefix) {
    const p = location.pathname;
    return p.startsWith(prefix) ? decodeURIComponent(p.slice(prefix.length).split("/")[0]) : "";
  },

  minutes(seconds) {
    if (seconds === null || seconds === undefined || !isFinite(seconds)) return "—";
    return Math.max(1, Math.round(seconds / 60)).toString();
  },

  /** Whole minutes for a table (0 when under half a minute). */
  waitMinutes(seconds) {
    if (seconds === null || seconds === undefined || !isFinite(seconds)) return "—";
    return Math.round(seconds / 60).toString();
  },

  duration(ms) {
    const s = Math.max(0, Math.floor(ms / 1000));
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    const two = (n) => String(n).padStart(2, "0");
    return h ? `${h}:${two(m)}:${two(r)}` : `${two(m)}:${two(r)}`;
  },

  clock(el) {
    const tick = () => {
      const d = new Date();
      el.textContent = d.toLocaleString(Hall.lang === "zh" ? "zh-CN" : "en-GB", {
        month: "2-digit", day: "2-digit", weekday: "short", hour: "2-digit", minute: "2-digit", second: "2-digit",
      });
    };
    tick();
    setInterval(tick, 1000);
  },

  el(tag, attrs = {}, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") e.className = v;
      else if (k === "text") e.textContent = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else if (k === "dataset") Object.assign(e.dataset, v);
      else e.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children.flat()) if (c !== null && c !== undefined) e.append(c.nodeType ? c : String(c));
    return e;
  },

  toast(message, kind = "error") {
    let box = document.getElementById("toast");
    if (!box) { box = Hall.el("div", { id: "toast", role: "status" }); document.body.append(box); }
    box.className = `toast ${kind} show`;
    box.textContent = message;
    clearTimeout(box._t);
    box._t = setTimeout(() => box.classList.remove("show"), 4000);
  },

  /**
   * Follow the live events of `hall` (or the whole city when null) and call `refresh()` for a fresh
   * snapshot: at once, on every change (debounced), after every (re)connect, and whenever nothing was
   * heard for `staleS` seconds (so a page never freezes on an old screen). A badge [data-live] shows
   * the connection state.
   */
  live(hall, refresh, { staleS = 35, debounceMs = 120, kinds = null } = {}) {
    const url = hall ? `/api/halls/${encodeURIComponent(hall)}/events` : "/api/events";
    let source = null, lastHeard = Date.now(), timer = null, running = false, again = false;
    const badge = (ok) => document.querySelectorAll("[data-live]").forEach((b) => {
      b.classList.toggle("down", !ok);
      b.textContent = Hall.t(ok ? "live.ok" : "live.reconnecting");
      document.body.classList.toggle("reconnecting", !ok);
    });
    const run = async () => {
      if (running) { again = true; return; }
      running = true;
      try { await refresh(); } catch (e) { console.warn("refresh failed", e); }
      running = false;
      if (again) { again = false; run(); }
    };
    const soon = () => { clearTimeout(timer); timer = setTimeout(run, debounceMs); };
    const open = () => {
      if (source) source.close();
      source = new EventSource(url);
      source.addEventListener("open", () => { lastHeard = Date.now(); badge(true); run(); });
      source.addEventListener("hello", () => { lastHeard = Date.now(); });
      source.addEventListener("heartbeat", () => { lastHeard = Date.now(); });
      source.addEventListener("change", (ev) => {
        lastHeard = Date.now();
        if (kinds) {
          try { if (!JSON.parse(ev.data).kinds.some((k) => kinds.includes(k))) return; } catch { /* refresh */ }
        }
        soon();
      });
      source.addEventListener("error", () => {
        badge(false);
        if (source.readyState === EventSource.CLOSED) setTimeout(open, 2000);
      });
    };
    setInterval(() => {
      if (Date.now() - lastHeard > staleS * 1000) {
        lastHeard = Date.now();
        run();
        open();
      }
    }, 1000);
    document.addEventListener("hall:lang", run);
    open();
    run();
    return { refresh: run };
  },
};

document.addEventListener("DOMContentLoaded", () => {
  Hall.translate();
  Hall.bindLangSwitch();
});

Hall.takeTokenFromUrl();
