// The kiosk page. It talks only to the kiosk process (same origin): the
// hall arrives as server-sent events, a ticket is one POST carrying a key
// made once per choice, so a repeated tap gets the same ticket back.
"use strict";

const T = {
  zh: {
    large: "大字模式", large_off: "标准字号", choose: "请选择要办理的事项",
    check_in: "预约签到", waiting: n => `等候 ${n} 人`, wait: s => s === null ? "暂无法估计等候时间" : (s < 60 ? "无需等候" : `预计等候约 ${Math.ceil(s / 60)} 分钟`),
    capped: "今日号已取完", no_window: "暂无窗口办理", walk_in: "普通取号", walk_in_hint: "按顺序办理",
    priority_title: "优先办理（老人、残疾人、孕妇、绿色通道）", elderly: "老年人", disabled: "残疾人", pregnant: "孕妇", green: "绿色通道",
    proof: "选择优先办理的，窗口工作人员可能会请您出示相关证件。",
    back: "返回", skip: "不需要短信，直接取号", take: "取号", confirm: "确认签到", done: "完成",
    phone_title: "留下手机号，叫号前短信提醒您（可不填）", phone_hint: "请输入11位手机号码", clear: "清除", del: "删除",
    code_hint: "请输入预约码，或将预约二维码对准扫码口", keep: "请保管好您的号票", note_number: "请记下您的号码，留意叫号屏和语音",
    ahead: n => n === 0 ? "您是下一位" : `前面还有 ${n} 人`, windows: w => w.length ? `请到 ${w.join("、")} 号窗口办理` : "暂无开放窗口，请留意叫号屏",
    busy: "正在取号，请稍候……", lost: "取号机与叫号系统的连接已中断", lost_hint: "暂停取号，恢复后会自动继续。请到咨询台咨询。",
    lost_at: t => `中断时间 ${t}`, back_start: "返回首页",
    closed_issuing: "今日已停止取号。已取号的群众将继续办理。预约的群众请点“预约签到”。",
    closed_hours: o => `现在不是办公时间${o ? "，" + o + "开始办理" : ""}。预约的群众请点“预约签到”。`,
    opens: (d, today, hm) => ({ 0: `今天 ${hm}`, 1: `明天 ${hm}` })[daysBetween(today, d)] || `${Number(String(d).slice(4, 6))}月${Number(String(d).slice(6))}日 ${hm}`,
    print_failed: "号票未能打印。请用手机拍下上面的号码，或到咨询台说明，按号码叫号不受影响。",
    print_failed_phone: "号票未能打印。请用手机拍下上面的号码；叫号前也会发短信提醒您。",
    phone_bad: "手机号码不正确，请输入以1开头的11位手机号", code_empty: "请输入预约码",
    attach_open: "留下手机号，叫号时短信通知您", attach_for: "您的号码", attach_ok: "确认登记", cancel: "取消",
    attach_done: p => `已登记手机号 ${p}。快轮到您时和叫号时都会发短信通知您。`,
    attach_errors: {
      phone_already_given: "这个号码已经留过手机号了，叫号时会短信通知您。",
      wrong_ticket_state: "这个号码已经叫过或办理过，不能再留手机号，请留意叫号屏。",
      unknown_ticket: "没有找到这个号码，请到咨询台咨询。",
      connection_lost: "暂时连不上叫号系统，手机号没有登记。请拍下号码，或到咨询台。",
      unreachable: "暂时连不上叫号系统，手机号没有登记。请拍下号码，或到咨询台。",
      timeout: "叫号系统没有及时响应，手机号没有登记。请稍候再试。",
      default: "手机号没有登记成功。请拍下号码，或到咨询台。",
    },
    lanes: { walk_in: "普通", appointment: "预约", elderly: "优先·老人", disabled: "优先·残疾人", pregnant: "优先·孕妇", green: "绿色通道" },
    errors: {
      daily_cap_reached: "该事项今日号已取完，请明天再来，或预约办理。",
      issuing_closed: "今日已停止取号。已取号的群众将继续办理。",
      hall_closed: "现在不是办公时间，暂停取号。",
      no_business_day: "今日办理尚未开始，请稍候。",
      unknown_item: "该事项暂不能取号，请到咨询台咨询。",
      unknown_booking: "没有找到这个预约码，请核对后重新输入。",
      booking_not_active: "这个预约已取消或已签到过。",
      check_in_too_early: "还没到签到时间，请在预约时段开始前30分钟内签到。",
      check_in_outside_hours: "现在不在这个预约的签到时间内，请到咨询台咨询。",
      booking_forfeited: "已超过签到时间（预约时段开始后30分钟），这个预约已作废。",
      connection_lost: "暂时连不上叫号系统，没有取号。请稍候再试或到咨询台。",
      unreachable: "暂时连不上叫号系统，没有取号。请稍候再试或到咨询台。",
      timeout: "叫号系统没有及时响应，请稍候再试或到咨询台。",
      rate_limited: "操作太频繁，请稍候再试。",
      storage_failed: "叫号系统暂时无法保存，没有取号。请到咨询台。",
      default: "暂时无法取号，请到咨询台咨询。",
    },
  },
  en: {
    large: "Large text", large_off: "Normal text", choose: "Choose your service",
    check_in: "Appointment check-in", waiting: n => `${n} waiting`, wait: s => s === null ? "wait unknown" : (s < 60 ? "no wait" : `about ${Math.ceil(s / 60)} min wait`),
    capped: "No more tickets today", no_window: "No window open", walk_in: "Regular ticket", walk_in_hint: "served in order",
    priority_title: "Priority (elderly, disabled, pregnant, green channel)", elderly: "Elderly", disabled: "Disabled", pregnant: "Pregnant", green: "Green channel",
    proof: "If you choose priority, staff at the window may ask to see proof.",
    back: "Back", skip: "No SMS, take a ticket", take: "Take ticket", confirm: "Check in", done: "Done",
    phone_title: "Mobile number for an SMS before your turn (optional)", phone_hint: "Enter an 11-digit mobile number", clear: "Clear", del: "Del",
    code_hint: "Type your booking code, or hold the booking QR code to the scanner", keep: "Please keep your ticket", note_number: "Please note your number and watch the board",
    ahead: n => n === 0 ? "You are next" : `${n} ahead of you`, windows: w => w.length ? `Window ${w.join(", ")}` : "No window open yet, watch the board",
    busy: "Issuing your ticket…", lost: "The kiosk has lost the queue system", lost_hint: "No tickets until it is back; it resumes by itself. Please ask at the help desk.",
    lost_at: t => `since ${t}`, back_start: "Back to start",
    closed_issuing: "No more tickets today. Everyone holding a ticket will be served. With a booking? Tap “Appointment check-in”.",
    closed_hours: o => `The hall is closed now${o ? "; opens " + o : ""}. With a booking? Tap “Appointment check-in”.`,
    opens: (d, today, hm) => ({ 0: `today ${hm}`, 1: `tomorrow ${hm}` })[daysBetween(today, d)] || `${String(d).slice(0, 4)}-${String(d).slice(4, 6)}-${String(d).slice(6)} ${hm}`,
    print_failed: "Your ticket could not be printed. Please take a photo of the number above, or tell the help desk; you will be called by this number.",
    print_failed_phone: "Your ticket could not be printed. Please take a photo of the number above; you will get an SMS before your turn too.",
    phone_bad: "That is not a mobile number: 11 digits starting with 1", code_empty: "Please enter your booking code",
    attach_open: "Leave a mobile number: we will text you when you are called", attach_for: "Your number", attach_ok: "Confirm", cancel: "Cancel",
    attach_done: p => `Mobile ${p} noted. You will get an SMS when your turn is near and when you are called.`,
    attach_errors: {
      phone_already_given: "This ticket already has a mobile number; you will get an SMS when called.",
      wrong_ticket_state: "This number has been called or served already; please watch the board.",
      unknown_ticket: "This number was not found; please ask at the help desk.",
      connection_lost: "The queue system cannot be reached; the number was not noted. Please take a photo of your number or ask at the help desk.",
      unreachable: "The queue system cannot be reached; the number was not noted. Please take a photo of your number or ask at the help desk.",
      timeout: "The queue system did not answer in time; please try again.",
      default: "The mobile number could not be noted. Please take a photo of your number or ask at the help desk.",
    },
    lanes: { walk_in: "regular", appointment: "appointment", elderly: "priority · elderly", disabled: "priority · disabled", pregnant: "priority · pregnant", green: "green channel" },
    errors: {
      daily_cap_reached: "Today's tickets for this service are all taken. Please come back tomorrow or book.",
      issuing_closed: "No more tickets today. Everyone holding a ticket will be served.",
      hall_closed: "The hall is closed now.",
      no_business_day: "The hall's day has not begun yet.",
      unknown_item: "This service cannot be taken here; please ask at the help desk.",
      unknown_booking: "No booking has this code; please check it and try again.",
      booking_not_active: "This booking was cancelled or has checked in already.",
      check_in_too_early: "Too early: check in within 30 minutes before your slot.",
      check_in_outside_hours: "This booking cannot check in now; please ask at the help desk.",
      booking_forfeited: "More than 30 minutes after the slot began: the booking has lapsed.",
      connection_lost: "The queue system cannot be reached; no ticket was issued.",
      unreachable: "The queue system cannot be reached; no ticket was issued.",
      timeout: "The queue system did not answer in time; please try again.",
      rate_limited: "Too many taps; please wait a moment.",
      storage_failed: "The queue system cannot save right now; no ticket was issued.",
      default: "No ticket could be issued; please ask at the help desk.",
    },
  },
};

// Days from business day `a` to `b` (both yyyymmdd); null without `a`.
function daysBetween(a, b) {
  if (!a) return null;
  const at = d => Date.UTC(Math.floor(d / 10000), Math.floor(d / 100) % 100 - 1, d % 100);
  return Math.round((at(b) - at(a)) / 86400000);
}

const params = new URLSearchParams(location.search);
let lang = params.get("lang") === "en" ? "en" : "zh";
let large = params.get("large") === "1";
let hall = null;
let choice = null; // { item, name, lane, phone, key }
let busy = false;
let idleTimer = null;
// After a failed print: the ticket on screen, the number being typed, and
// the key of the last attempt (the same number sent twice is one request).
let attach = null; // { ticket, phone, key, sent }
const $ = id => document.getElementById(id);
const t = (k, ...a) => { const v = T[lang][k]; return typeof v === "function" ? v(...a) : v; };

function newKey() {
  return Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 10);
}

function show(id) {
  for (const s of document.querySelectorAll(".screen")) s.hidden = s.id !== id;
  if (id === "check-in") $("code").focus();
}

function translate() {
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  for (const el of document.querySelectorAll("[data-t]")) el.textContent = t(el.dataset.t);
  $("lang").textContent = lang === "zh" ? "English" : "中文";
  $("large").textContent = large ? t("large_off") : t("large");
  document.body.classList.toggle("large", large);
  buildKeys();
  if (attach && attach.done) $("attach-done").textContent = t("attach_done", maskPhone(attach.phone));
  render();
}

function walkInsTaken(v) { return v.issuing && v.open_now; }

function render() {
  if (!hall) return;
  $("lost").hidden = hall.connected;
  if (!hall.connected && hall.lost_at) {
    $("lost-at").textContent = t("lost_at", new Date(hall.lost_at).toLocaleTimeString(lang === "zh" ? "zh-CN" : "en-GB"));
  }
  const v = hall.view;
  if (!v) return;
  $("hall-name").textContent = v.hall_name;
  const closed = $("closed");
  if (!v.issuing) { closed.hidden = false; closed.textContent = t("closed_issuing"); }
  else if (!v.open_now) {
    const o = v.opens ? t("opens", v.opens.day, v.day, `${String(Math.floor(v.opens.minute / 60)).padStart(2, "0")}:${String(v.opens.minute % 60).padStart(2, "0")}`) : null;
    closed.hidden = false; closed.textContent = t("closed_hours", o);
  } else closed.hidden = true;
  const box = $("items");
  box.classList.toggle("many", v.items.length > 6);
  // Buttons are kept and updated in place: a view pushed while a finger is
  // on a button must not replace the button under it (the tap would be lost).
  const codes = v.items.map(it => it.code).join(",");
  if (box.dataset.codes !== codes) {
    box.textContent = "";
    for (const it of v.items) {
      const b = document.createElement("button");
      b.className = "item";
      b.dataset.item = it.code;
      b.innerHTML = `<span class="name"></span><span class="facts"></span><span class="why"></span>`;
      b.addEventListener("click", () => { const cur = itemByCode(b.dataset.item); if (cur) chooseItem(cur); });
      box.appendChild(b);
    }
    box.dataset.codes = codes;
  }
  v.items.forEach((it, i) => {
    const b = box.children[i];
    const waiting = it.waiting[0] + it.waiting[1] + it.waiting[2];
    const capped = it.daily_cap !== null && it.issued_today >= it.daily_cap;
    const noWindow = it.windows.length === 0;
    const off = capped || noWindow || !walkInsTaken(v);
    b.querySelector(".name").textContent = it.name;
    b.querySelector(".facts").textContent = `${t("waiting", waiting)} · ${t("wait", it.eta_secs)}`;
    const why = b.querySelector(".why");
    why.hidden = !(capped || noWindow);
    why.textContent = capped ? t("capped") : noWindow ? t("no_window") : "";
    b.classList.toggle("off", off);
    b.disabled = off;
  });
}

function itemByCode(code) {
  return hall && hall.view ? hall.view.items.find(it => it.code === code) : null;
}

function chooseItem(it) {
  if (busy) return;
  choice = { item: it.code, name: it.name, lane: "walk_in", phone: "", key: newKey() };
  $("lane-title").textContent = it.name;
  show("lane");
}

function chooseLane(lane) {
  choice.lane = lane;
  choice.phone = "";
  $("phone-shown").textContent = "";
  $("phone-error").hidden = true;
  show("phone");
}

function validPhone(p) { return /^1[3-9][0-9]{9}$/.test(p); }

async function post(path, body) {
  busy = true;
  $("busy").hidden = false;
  for (const b of document.querySelectorAll(".nav button")) b.disabled = true;
  try {
    const r = await fetch(path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    return await r.json();
  } catch (e) {
    return { ok: false, code: "connection_lost" };
  } finally {
    busy = false;
    $("busy").hidden = true;
    for (const b of document.querySelectorAll(".nav button")) b.disabled = false;
  }
}

async function take(withPhone) {
  if (busy || !choice) return;
  const phone = withPhone ? choice.phone : "";
  if (withPhone && !validPhone(phone)) {
    $("phone-error").textContent = t("phone_bad");
    $("phone-error").hidden = false;
    return;
  }
  const answer = await post("/issue", { item: choice.item, lane: choice.lane, phone: phone || null, key: choice.key });
  answered(answer);
}

async function checkIn() {
  if (busy) return;
  const code = $("code").value.replace(/[\s-]+/g, "").toUpperCase();
  if (!code) { $("code-error").textContent = t("code_empty"); $("code-error").hidden = false; return; }
  if (!choice || choice.code !== code) choice = { code, key: newKey() };
  answered(await post("/check-in", { code, key: choice.key }));
}

function answered(a) {
  if (!a.ok) {
    if (a.field === "phone") { $("phone-error").textContent = t("phone_bad"); $("phone-error").hidden = false; return; }
    const text = T[lang].errors[a.code] || T[lang].errors.default;
    $("refused-text").textContent = text;
    show("refused");
    return;
  }
  $("result-hall").textContent = a.hall_name;
  $("result-item").textContent = `${a.item_name} · ${T[lang].lanes[a.lane] || ""}`;
  $("result-number").textContent = a.ticket;
  const lines = [t("ahead", a.position), t("windows", a.windows), t("wait", a.eta_secs), a.time];
  $("result-lines").innerHTML = lines.map(l => `<div></div>`).join("");
  [...$("result-lines").children].forEach((d, i) => { d.textContent = lines[i]; });
  const pf = $("print-failed");
  pf.hidden = !a.print_failed;
  pf.textContent = a.phone ? t("print_failed_phone") : t("print_failed");
  // "Keep your ticket" only where a slip comes out; with no printer the
  // screen is the ticket, and after a failed print the notice says what to do.
  const keep = $("keep");
  keep.hidden = a.print_failed;
  keep.textContent = hall && hall.printer === "none" ? t("note_number") : t("keep");
  // A failed print without a phone: offer to leave one (the issue's
  // "photograph it or leave a mobile number").
  attach = a.print_failed && !a.phone ? { ticket: a.ticket, phone: "", key: null, sent: null } : null;
  $("attach-open").hidden = !attach;
  $("attach-done").hidden = true;
  show("result");
  if (hall && hall.printer === "browser") browserPrint(a);
}

// The browser-print fallback: the slip for an 80 mm roll (see @media print).
function browserPrint(a) {
  const s = $("slip");
  s.innerHTML = "<div></div><div></div><div class='n'></div><div class='l'></div><div class='l'></div><div class='l'></div><div class='l'></div><div></div>";
  const zh = T.zh;
  const texts = [a.hall_name, `${a.item_name} ${zh.lanes[a.lane] || ""}`, a.ticket, zh.ahead(a.position), zh.windows(a.windows), zh.wait(a.eta_secs), `取号时间 ${a.time}`, zh.keep];
  [...s.children].forEach((d, i) => { d.textContent = texts[i]; });
  window.print();
}

function maskPhone(p) { return p.slice(0, 3) + "****" + p.slice(7); }

function showPhone(el, p) {
  el.textContent = p.replace(/^(\d{3})(\d{0,4})(\d{0,4})$/, (m, a, b, c) => [a, b, c].filter(Boolean).join(" "));
}

function openAttach() {
  if (!attach) return;
  attach.phone = "";
  $("attach-number").textContent = attach.ticket;
  showPhone($("attach-shown"), "");
  $("attach-error").hidden = true;
  $("attach").hidden = false;
}

function closeAttach() { $("attach").hidden = true; }

async function sendAttach() {
  if (busy || !attach) return;
  const err = $("attach-error");
  if (!validPhone(attach.phone)) { err.textContent = t("phone_bad"); err.hidden = false; return; }
  if (attach.sent !== attach.phone) { attach.key = newKey(); attach.sent = attach.phone; }
  const a = await post("/attach-phone", { ticket: attach.ticket, phone: attach.phone, key: attach.key });
  if (!a.ok) {
    const m = T[lang].attach_errors;
    err.textContent = a.field === "phone" ? t("phone_bad") : (m[a.code] || m.default);
    err.hidden = false;
    return;
  }
  closeAttach();
  $("attach-open").hidden = true;
  $("attach-done").textContent = t("attach_done", maskPhone(attach.phone));
  $("attach-done").hidden = false;
  $("print-failed").textContent = t("print_failed_phone");
  attach.done = true;
}

function backToStart() {
  choice = null;
  attach = null;
  closeAttach();
  $("code").value = "";
  $("code-error").hidden = true;
  show("start");
}

function buildKeys() {
  const pad = $("keypad");
  pad.textContent = "";
  for (const k of ["1", "2", "3", "4", "5", "6", "7", "8", "9", "clear", "0", "del"]) {
    const b = document.createElement("button");
    b.textContent = k === "clear" ? t("clear") : k === "del" ? t("del") : k;
    b.dataset.key = k;
    b.addEventListener("click", () => {
      if (!choice) return;
      if (k === "clear") choice.phone = "";
      else if (k === "del") choice.phone = choice.phone.slice(0, -1);
      else if (choice.phone.length < 11) choice.phone += k;
      $("phone-shown").textContent = choice.phone.replace(/^(\d{3})(\d{0,4})(\d{0,4})$/, (m, a, b, c) => [a, b, c].filter(Boolean).join(" "));
      $("phone-error").hidden = true;
    });
    pad.appendChild(b);
  }
  const ap = $("attach-keypad");
  ap.textContent = "";
  for (const k of ["1", "2", "3", "4", "5", "6", "7", "8", "9", "clear", "0", "del"]) {
    const b = document.createElement("button");
    b.textContent = k === "clear" ? t("clear") : k === "del" ? t("del") : k;
    b.dataset.key = k;
    b.addEventListener("click", () => {
      if (!attach) return;
      if (k === "clear") attach.phone = "";
      else if (k === "del") attach.phone = attach.phone.slice(0, -1);
      else if (attach.phone.length < 11) attach.phone += k;
      showPhone($("attach-shown"), attach.phone);
      $("attach-error").hidden = true;
    });
    ap.appendChild(b);
  }
  const kb = $("keyboard");
  kb.textContent = "";
  for (const k of "1234567890QWERTYUPASDFGHJKLZXCVBNM".split("").concat(["del"])) {
    const b = document.createElement("button");
    b.textContent = k === "del" ? t("del") : k;
    b.dataset.key = k;
    b.addEventListener("click", () => {
      const c = $("code");
      c.value = k === "del" ? c.value.slice(0, -1) : (c.value + k).slice(0, 16);
      $("code-error").hidden = true;
    });
    kb.appendChild(b);
  }
}

// A USB scanner is a keyboard: it types the code and Enter. In the code
// field Enter checks in; on the start screen typed characters are caught
// and the check-in screen opens with them.
let scanned = "";
document.addEventListener("keydown", e => {
  poke();
  const onStart = !$("start").hidden;
  const inCode = document.activeElement === $("code");
  if (e.key === "Enter") {
    if (inCode || (!$("check-in").hidden)) { e.preventDefault(); checkIn(); }
    else if (onStart && scanned) { $("code").value = scanned; scanned = ""; show("check-in"); checkIn(); }
    return;
  }
  if (onStart && /^[0-9A-Za-z]$/.test(e.key)) scanned = (scanned + e.key).slice(-16);
});

function poke() {
  clearTimeout(idleTimer);
  const secs = hall ? hall.idle_secs : 30;
  idleTimer = setTimeout(() => { if (!busy) backToStart(); }, secs * 1000);
}
document.addEventListener("pointerdown", poke);

$("lang").addEventListener("click", () => { lang = lang === "zh" ? "en" : "zh"; translate(); });
$("large").addEventListener("click", () => { large = !large; translate(); });
$("to-check-in").addEventListener("click", () => { choice = null; show("check-in"); });
for (const b of document.querySelectorAll("[data-lane]")) b.addEventListener("click", () => chooseLane(b.dataset.lane));
for (const b of document.querySelectorAll(".back")) b.addEventListener("click", () => {
  if (!$("phone").hidden) show("lane"); else backToStart();
});
$("phone-skip").addEventListener("click", () => take(false));
$("phone-ok").addEventListener("click", () => take(choice && choice.phone.length > 0));
$("code-ok").addEventListener("click", checkIn);
$("done").addEventListener("click", backToStart);
$("attach-open").addEventListener("click", openAttach);
$("attach-cancel").addEventListener("click", closeAttach);
$("attach-ok").addEventListener("click", sendAttach);
$("refused-back").addEventListener("click", backToStart);

function tick() {
  $("clock").textContent = new Date().toLocaleString(lang === "zh" ? "zh-CN" : "en-GB", { month: "numeric", day: "numeric", hour: "2-digit", minute: "2-digit", hour12: false });
}
setInterval(tick, 1000);
tick();

// The hall, pushed. A stream silent for three pings is treated as lost,
// and the page says so rather than offering stale items.
let lastEvent = Date.now();
function connect() {
  const es = new EventSource("/events");
  es.addEventListener("hall", ev => { lastEvent = Date.now(); hall = JSON.parse(ev.data); render(); });
  es.addEventListener("ping", () => { lastEvent = Date.now(); });
  es.onerror = () => { if (hall) { hall.connected = false; hall.lost_at = hall.lost_at || Date.now(); render(); } };
}
setInterval(() => {
  if (hall && Date.now() - lastEvent > 16000 && hall.connected) { hall.connected = false; hall.lost_at = Date.now(); render(); }
}, 2000);
connect();
translate();
show("start");
poke();
