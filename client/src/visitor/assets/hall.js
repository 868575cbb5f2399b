// 线上取号 (issue 18 item 4): the hall's items with their waiting counts,
// a mainland mobile number, the one-time code sent by SMS, and then the
// ticket's own page (/t/<token>). Every text is made here from the
// daemon's error codes, in Chinese or English.
'use strict';

const TEXT = {
  zh: {
    title: '线上取号', loading: '正在读取办理事项…', choose: '请选择办理事项',
    waiting: (n) => '等候 ' + n + ' 人', full: '今日已满',
    closed: '当前不在取号时间，暂不能取号。',
    phone_label: '手机号码', phone_note: '我们将向此号码发送验证码；取号后叫号时也会短信提醒您。',
    send: '获取验证码', back: '重新选择事项',
    sent: (p, m) => '验证码已发送至 ' + p + '，' + m + ' 分钟内有效。',
    code_label: '短信验证码（6 位）', take: '确认取号', resend: '重新获取验证码',
    remote_tickets_off: '本厅暂未开通线上取号，请到大厅取号机取号。',
    not_mobile_number: '请输入 11 位大陆手机号码。',
    code_rate_limited: '获取验证码过于频繁，请几分钟后再试。',
    code_wrong: '验证码不正确，请核对短信后重新输入。',
    code_expired: '验证码已过期，请重新获取。',
    code_tries_used: '验证码输错次数过多，请重新获取。',
    phone_ticket_limit: '此手机号已有该事项的号码在排队，不能重复取号。',
    daily_cap_reached: '该事项今日号源已满。', issuing_closed: '今日已停止取号。',
    hall_closed: '当前不在取号时间。', unknown_item: '没有这个事项。',
    rate_limited: '操作过于频繁，请稍后再试。', offline: '网络已断开，请稍后再试。',
    error: '操作未成功，请稍后再试。',
  },
  en: {
    title: 'Take a number online', loading: 'Loading the services…', choose: 'Choose a service',
    waiting: (n) => n + ' waiting', full: 'full today',
    closed: 'Numbers are not given at this time.',
    phone_label: 'Mobile number', phone_note: 'We send a code to this number, and SMS reminders when your turn comes.',
    send: 'Send me a code', back: 'Choose another service',
    sent: (p, m) => 'Code sent to ' + p + ', good for ' + m + ' min.',
    code_label: 'Code from the SMS (6 digits)', take: 'Take my number', resend: 'Send a new code',
    remote_tickets_off: 'This hall does not give numbers online; take one at the kiosk in the hall.',
    not_mobile_number: 'Please type an 11-digit mainland mobile number.',
    code_rate_limited: 'Too many codes asked for; try again in a few minutes.',
    code_wrong: 'That code is not right; check the SMS and type it again.',
    code_expired: 'The code has expired; ask for a new one.',
    code_tries_used: 'The code was typed wrong too many times; ask for a new one.',
    phone_ticket_limit: 'This phone already has a number waiting for this service.',
    daily_cap_reached: 'No more numbers for this service today.', issuing_closed: 'Numbers are no longer given today.',
    hall_closed: 'Numbers are not given at this time.', unknown_item: 'No such service.',
    rate_limited: 'Too many requests; please wait a moment.', offline: 'No connection; try again in a moment.',
    error: 'That did not work; please try again.',
  },
};

let lang = new URLSearchParams(location.search).get('lang') === 'en' ? 'en' : 'zh';
let hall = null;
let item = null;
let phone = '';

const $ = (id) => document.getElementById(id);
const t = (key, ...args) => {
  const v = TEXT[lang][key];
  return typeof v === 'function' ? v(...args) : v;
};

function show(id) {
  for (const s of document.querySelectorAll('.screen')) s.hidden = s.id !== id;
  // A message of the step before does not belong to this one.
  $('message').hidden = true;
}

let messageTimer = null;
function say(code) {
  const m = $('message');
  m.textContent = TEXT[lang][code] ? t(code) : t('error');
  m.dataset.code = code;
  m.hidden = false;
  clearTimeout(messageTimer);
  messageTimer = setTimeout(() => { m.hidden = true; }, 6000);
}

function words() {
  document.documentElement.lang = lang === 'en' ? 'en' : 'zh-CN';
  document.title = t('title');
  $('lang').textContent = lang === 'en' ? '中文' : 'English';
  for (const el of document.querySelectorAll('[data-t]')) el.textContent = t(el.dataset.t);
  if (hall) drawItems();
}

function drawItems() {
  $('hall').textContent = hall.hall_name;
  const open = hall.open_now && hall.issuing;
  $('closed').hidden = open;
  $('closed').textContent = hall.issuing ? t('closed') : t('issuing_closed');
  const list = $('item-list');
  list.replaceChildren();
  for (const i of hall.items) {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'grade choice';
    b.dataset.item = i.code;
    const name = document.createElement('span');
    name.textContent = i.code + ' ' + i.name;
    const count = document.createElement('span');
    count.className = 'count';
    count.textContent = i.full ? t('full') : t('waiting', i.waiting);
    b.append(name, count);
    b.disabled = !open || i.full;
    b.addEventListener('click', () => choose(i));
    list.append(b);
  }
}

function choose(i) {
  item = i;
  $('chosen').textContent = $('chosen2').textContent = i.code + ' ' + i.name;
  show('phone-step');
  $('phone').focus();
}

async function post(path, body) {
  try {
    const r = await fetch(path, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
    });
    return await r.json();
  } catch (e) {
    return { ok: false, code: 'offline' };
  }
}

async function load() {
  let a;
  try {
    a = await (await fetch('/hall/items')).json();
  } catch (e) {
    a = { ok: false, code: 'offline' };
  }
  if (!a.ok) {
    $('off-text').textContent = TEXT[lang][a.code] ? t(a.code) : t('error');
    $('off-text').dataset.code = a.code;
    show('off');
    return;
  }
  hall = a;
  drawItems();
  show('items');
}

async function sendCode() {
  phone = $('phone').value.trim();
  if (!/^1[3-9][0-9]{9}$/.test(phone)) return say('not_mobile_number');
  $('send').disabled = true;
  const a = await post('/hall/code', { item: item.code, phone });
  $('send').disabled = false;
  if (!a.ok) return say(a.code);
  $('sent').textContent = t('sent', a.phone, Math.ceil(a.expires_in_secs / 60));
  $('code').value = '';
  show('code-step');
  $('code').focus();
}

async function take() {
  const code = $('code').value.trim();
  if (!/^[0-9]{6}$/.test(code)) return say('code_wrong');
  $('take').disabled = true;
  const a = await post('/hall/ticket', { item: item.code, phone, code });
  $('take').disabled = false;
  if (!a.ok) {
    if (a.code === 'code_expired' || a.code === 'code_tries_used') show('phone-step');
    say(a.code);
    return;
  }
  location.href = '/t/' + encodeURIComponent(a.token) + (lang === 'en' ? '?lang=en' : '');
}

$('lang').addEventListener('click', () => { lang = lang === 'en' ? 'zh' : 'en'; words(); });
$('send').addEventListener('click', sendCode);
$('resend').addEventListener('click', () => show('phone-step'));
$('back').addEventListener('click', () => show('items'));
$('take').addEventListener('click', take);
$('code').addEventListener('keydown', (e) => { if (e.key === 'Enter') take(); });
$('phone').addEventListener('keydown', (e) => { if (e.key === 'Enter') sendCode(); });
words();
load();
