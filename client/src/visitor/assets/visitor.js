// The visitor's phone page (issue 18). The ticket comes pushed on an
// event stream; every text is made here from the ticket's fields and the
// daemon's error codes, in Chinese or English.
'use strict';

const TEXT = {
  zh: {
    title: '排队进度', loading: '正在读取您的号码…', your_number: '您的号码',
    ahead: '前面还有', wait: '预计等候', windows: '办理窗口',
    people: (n) => n + ' 人', minutes: (m) => '约 ' + m + ' 分钟', no_wait: '无需等候', no_eta: '暂无窗口开放',
    window_list: (ws) => ws.map((w) => w + '号').join('、') + '窗口',
    approaching: '即将轮到您，请到等候区等候叫号。',
    step_back: (n) => '我需要更多时间（后退 ' + n + ' 位）',
    stepped: (n) => '您已后退 ' + n + ' 位（每个号码只能后退一次）。',
    leave: '我要离开（放弃此号）', leave_confirm: '确定放弃此号吗？放弃后不能恢复。',
    leave_yes: '确定放弃', leave_no: '继续排队',
    called: (w) => '请到' + w + '号窗口', called_note: '请携带材料前往窗口办理。', ok: '知道了',
    serving: (w) => '正在' + w + '号窗口办理',
    rate_title: '请对本次服务进行评价', rate_note: '一次服务评价一次，您的评价将用于改进服务。',
    g5: '非常满意', g4: '满意', g3: '基本满意', g2: '不满意', g1: '非常不满意',
    thanks: '感谢您的评价！', tablet_idle: (w) => w + '号窗口 · 办结后请在此评价', done: '办理完毕，感谢您的耐心等候。', left: '您已放弃此号。',
    no_show: '您已过号。如仍需办理，请到窗口说明。', expired: '此号已过期。',
    link_invalid: '链接无效：请扫描取号单上的二维码。',
    link_expired: '此链接已过期（不是今天的号码）。',
    unknown_ticket: '找不到这个号码。', rate_limited: '操作过于频繁，请稍后再试。',
    already_rated: '本次服务已评价过。', already_stepped_back: '每个号码只能后退一次。',
    wrong_ticket_state: '当前状态下不能这样操作。', offline: '网络已断开，正在重新连接…',
    forbidden: '此设备不是窗口评价器。', error: '操作未成功，请稍后再试。',
  },
  en: {
    title: 'Your place in line', loading: 'Loading your ticket…', your_number: 'Your number',
    ahead: 'People ahead', wait: 'Estimated wait', windows: 'Windows',
    people: (n) => String(n), minutes: (m) => 'about ' + m + ' min', no_wait: 'no wait', no_eta: 'no window open yet',
    window_list: (ws) => ws.map((w) => 'No. ' + w).join(', '),
    approaching: 'Your turn is near: please come to the waiting area.',
    step_back: (n) => 'I need more time (move back ' + n + ')',
    stepped: (n) => 'You moved back ' + n + ' places (once per ticket).',
    leave: "I'm leaving (give up this ticket)", leave_confirm: 'Give up this ticket? This cannot be undone.',
    leave_yes: 'Give it up', leave_no: 'Keep my place',
    called: (w) => 'Please go to window ' + w, called_note: 'Bring your documents to the window.', ok: 'OK',
    serving: (w) => 'Being served at window ' + w,
    rate_title: 'How was the service?', rate_note: 'One rating per service; it helps the hall improve.',
    g5: 'Very satisfied', g4: 'Satisfied', g3: 'Fairly satisfied', g2: 'Dissatisfied', g1: 'Very dissatisfied',
    thanks: 'Thank you for your rating!', tablet_idle: (w) => 'Window ' + w + ' · rate your service here when done', done: 'Done. Thank you for waiting.', left: 'You gave up this ticket.',
    no_show: 'You missed your call. Please tell a window if you still need the service.',
    expired: 'This ticket has expired.',
    link_invalid: 'This link is not valid: scan the QR code on your ticket.',
    link_expired: 'This link has expired (it is not from today).',
    unknown_ticket: 'No such ticket.', rate_limited: 'Too many requests; please try again later.',
    already_rated: 'This service has been rated already.', already_stepped_back: 'A ticket can move back once only.',
    wrong_ticket_state: 'That is not possible now.', offline: 'Connection lost, reconnecting…',
    forbidden: 'This device is not a window rating tablet.', error: 'That did not work; please try again.',
  },
};

// The rating tablet at a window (/rate?window=N) shows the service that
// window finished last; a phone (/t/<token>) shows its own ticket.
const tablet = location.pathname === '/rate';
const tabletWindow = new URLSearchParams(location.search).get('window');
let token = tablet ? '' : decodeURIComponent(location.pathname.replace(/^\/t\//, '').split('/')[0] || '');
let thankedFor = null;
// The service whose rating is on its way to hallqd (tablet).
let ratingFor = null;
let lang = new URLSearchParams(location.search).get('lang') === 'en' ? 'en' : 'zh';
let ticket = null;
let problem = null;
let thanked = false;
let calledShownFor = null;
let remindedBuzzed = false;
const $ = (id) => document.getElementById(id);

function t(key, ...args) {
  const v = TEXT[lang][key];
  return typeof v === 'function' ? v(...args) : v;
}

function stateName(s) {
  return typeof s === 'string' ? s : Object.keys(s)[0];
}
function stateWindow(s) {
  return typeof s === 'string' ? null : Object.values(s)[0];
}

function show(id) {
  for (const s of document.querySelectorAll('.screen')) s.hidden = s.id !== id;
}

function buzz(pattern) {
  try { if (navigator.vibrate) navigator.vibrate(pattern); } catch (e) { /* not on this phone */ }
}

let audio = null;
function chime() {
  // Three short tones, made here: no sound file to fetch.
  try {
    audio = audio || new (window.AudioContext || window.webkitAudioContext)();
    [0, 0.35, 0.7].forEach((at, i) => {
      const o = audio.createOscillator();
      const g = audio.createGain();
      o.frequency.value = [880, 660, 880][i];
      g.gain.setValueAtTime(0.3, audio.currentTime + at);
      g.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + at + 0.3);
      o.connect(g).connect(audio.destination);
      o.start(audio.currentTime + at);
      o.stop(audio.currentTime + at + 0.3);
    });
  } catch (e) { /* no audio */ }
}

function render() {
  document.documentElement.lang = lang === 'en' ? 'en' : 'zh-CN';
  document.title = t('title');
  $('lang').textContent = lang === 'en' ? '中文' : 'English';
  for (const el of document.querySelectorAll('[data-t]')) el.textContent = t(el.dataset.t);
  if (problem) {
    show('problem');
    $('problem-text').textContent = t(problem) || t('error');
    $('called').hidden = true;
    return;
  }
  if (tablet && !ticket) {
    show('end');
    $('end-number').textContent = '';
    $('end-text').textContent = t('tablet_idle', tabletWindow || '?');
    return;
  }
  if (!ticket) { show('loading'); return; }
  $('hall').textContent = ticket.hall_name;
  const state = stateName(ticket.state);
  const number = ticket.ticket;
  if (state === 'called') {
    const w = stateWindow(ticket.state);
    $('called-number').textContent = number;
    $('called-window').textContent = t('called', w);
    if (calledShownFor !== number + '@' + w) {
      calledShownFor = number + '@' + w;
      $('called').hidden = false;
      // The test reads when the called screen appeared (page clock).
      document.body.dataset.calledAt = String(Date.now());
      buzz([400, 150, 400, 150, 800]);
      chime();
    }
  } else {
    $('called').hidden = true;
    calledShownFor = null;
  }
  if (state === 'waiting' || state === 'called') {
    show('waiting');
    $('number').textContent = number;
    $('item').textContent = ticket.item_name;
    $('ahead').textContent = ticket.position == null ? '—' : t('people', ticket.position);
    $('eta').textContent = ticket.eta_secs == null ? t('no_eta')
      : ticket.eta_secs === 0 ? t('no_wait') : t('minutes', Math.ceil(ticket.eta_secs / 60));
    $('windows').textContent = ticket.windows.length ? t('window_list', ticket.windows) : t('no_eta');
    $('approaching').hidden = !ticket.approaching;
    $('approaching').textContent = t('approaching');
    if (ticket.approaching && !remindedBuzzed && state === 'waiting') {
      remindedBuzzed = true;
      buzz([200, 100, 200]);
      chime();
    }
    $('step-back').textContent = t('step_back', ticket.step_back_places);
    $('step-back').disabled = ticket.stepped_back || state !== 'waiting';
    $('stepped').hidden = !ticket.stepped_back;
    $('stepped').textContent = t('stepped', ticket.step_back_places);
  } else if (state === 'serving') {
    show('serving');
    $('serving-number').textContent = number;
    $('serving-text').textContent = t('serving', stateWindow(ticket.state));
  } else if (state === 'done' && ticket.can_rate && !thanked) {
    show('rate');
    $('rate-number').textContent = number;
  } else {
    show('end');
    $('end-number').textContent = number;
    $('end-text').textContent = {
      done: thanked ? t('thanks') : t('done'), left: t('left'), no_show: t('no_show'), expired: t('expired'),
    }[state] || t('done');
  }
}

let messageTimer = null;
function say(code) {
  $('message').textContent = t(code) || t('error');
  $('message').hidden = false;
  clearTimeout(messageTimer);
  messageTimer = setTimeout(() => { $('message').hidden = true; }, 4000);
}

function take(answer) {
  if (answer.ok && answer.ticket) ticket = answer.ticket;
  else if (!answer.ok) {
    if (['link_invalid', 'link_expired', 'unknown_ticket'].includes(answer.code)) problem = answer.code;
    else if (answer.offline) { $('offline').hidden = false; return; }
  }
  $('offline').hidden = true;
  render();
}

async function post(action, body) {
  try {
    const r = await fetch('/t/' + encodeURIComponent(token) + '/' + action, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body || {}),
    });
    const answer = await r.json();
    if (!answer.ok) say(answer.code);
    return answer;
  } catch (e) {
    say('offline');
    return { ok: false };
  }
}

function followTablet() {
  const source = new EventSource('/rate/events?window=' + encodeURIComponent(tabletWindow || ''));
  source.addEventListener('tablet', (e) => {
    const answer = JSON.parse(e.data);
    $('offline').hidden = true;
    if (!answer.ok) { if (!answer.offline) problem = answer.code; render(); return; }
    if (answer.ticket && answer.token) {
      if (thankedFor !== answer.ticket.ticket) thanked = false;
      token = answer.token;
      ticket = answer.ticket;
    } else if (answer.ticket && [thankedFor, ratingFor].includes(answer.ticket.ticket)) {
      ticket = answer.ticket;
    } else {
      ticket = null;
    }
    render();
  });
  source.onerror = () => { $('offline').hidden = false; $('offline').textContent = t('offline'); };
}

function follow() {
  if (tablet) { followTablet(); return; }
  if (!token) { problem = 'link_invalid'; render(); return; }
  const source = new EventSource('/t/' + encodeURIComponent(token) + '/events');
  source.addEventListener('ticket', (e) => {
    const answer = JSON.parse(e.data);
    take(answer);
    if (problem) source.close();
  });
  source.onerror = () => { if (!problem) $('offline').hidden = false; $('offline').textContent = t('offline'); };
  source.onopen = () => { $('offline').hidden = true; };
}

$('lang').addEventListener('click', () => { lang = lang === 'en' ? 'zh' : 'en'; render(); });
$('step-back').addEventListener('click', async () => {
  $('step-back').disabled = true;
  take(await post('step-back'));
});
$('leave').addEventListener('click', () => { $('confirm').hidden = false; });
$('confirm-no').addEventListener('click', () => { $('confirm').hidden = true; });
$('confirm-yes').addEventListener('click', async () => {
  $('confirm').hidden = true;
  take(await post('leave'));
});
$('called-ok').addEventListener('click', () => { $('called').hidden = true; });
for (const b of document.querySelectorAll('.grade')) {
  b.addEventListener('click', async () => {
    // Noted before the answer: on a tablet, the window's stream may push
    // the service just rated (no token any more) before this answer comes,
    // and must keep it on screen for the thanks.
    const rated = ticket && ticket.ticket;
    ratingFor = rated;
    const answer = await post('rate', { rating: Number(b.dataset.rating) });
    ratingFor = null;
    if (answer.ok || answer.code === 'already_rated') {
      thanked = true;
      thankedFor = rated;
      render();
    }
  });
}
// The first tap anywhere lets the page play its chime later (browsers
// allow sound only after the visitor touched the page).
document.addEventListener('pointerdown', () => {
  try { audio = audio || new (window.AudioContext || window.webkitAudioContext)(); audio.resume(); } catch (e) { /* none */ }
}, { once: true });

render();
follow();
