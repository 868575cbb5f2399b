// The manager's console (hallq console --serve). Everything comes from
// /events as JSON (the whole console every time it is read again); this
// script only draws it, in Chinese or English, and ticks the clocks each
// second from the instants it was given. The charts tab asks /charts for a
// day's figures (SVG drawn by hallq, nothing from the internet).
(function () {
  'use strict';
  const T = {
    zh: {
      title: '管理控制台', live: '实时', charts: '图表', other: 'English',
      windows: '窗口', items: '事项', orders: '差评工单', failures: '发送与打印失败',
      linkLive: '已连接', linkLost: '连接中断', linkConnecting: '正在连接',
      lost: (why) => '与 hallqd 的连接中断：' + why + '（显示的是断开前的状态，正在重连）',
      connecting: '正在连接 hallqd…',
      window: (n) => n + '号窗口',
      state: { open: '开放', paused: '暂停', closed: '关闭' },
      post: (p) => p + '岗', nobody: '未登录',
      called: '已叫号', serving: '办理中', none: '空闲',
      figs: (s, idle, paused) => '今日办结 ' + s + ' · 空闲 ' + idle + (paused ? ' · 暂停 ' + paused : ''),
      badRatings: (n, tickets) => '今日已有 ' + n + ' 条差评待回访：' + tickets + '（见差评工单）',
      universal: '无差别', fallback: '兜底',
      cols: ['事项', '预约', '优先', '普通', '最久等候', '预计等候', '开放窗口', '今日取号', '今日办结', '限额'],
      summary: (v) => '等候 ' + v.waiting_total + ' 人 · 开放窗口 ' + v.open + '/' + v.windows +
        ' · 等候目标 ' + Math.round(v.wait_target_secs / 60) + ' 分钟' + (v.issuing ? '' : ' · 已停止取号'),
      overTarget: (a) => a.name + '（' + a.item + '）' + (a.oldest_secs != null ? '最久已等 ' + dur(a.oldest_secs) : '') +
        (a.eta_secs != null ? '，新取号预计等 ' + dur(a.eta_secs) : '') + '，超过目标 ' + dur(a.target_secs),
      openThese: (ws) => ws.length ? '：建议开放 ' + ws.map((w) => w + '号').join('、') + '窗口' : '：没有可再开放的窗口',
      kinds: {
        wait: (a) => '事项 ' + a.item + ' 等候 ' + dur(a.value_secs) + '，超过目标 ' + dur(a.limit_secs) +
          (a.open.length ? '：建议开放 ' + a.open.map((w) => w + '号').join('、') + '窗口' : ''),
        paused: (a) => a.window + '号窗口已暂停 ' + dur(a.value_secs) + '（上限 ' + dur(a.limit_secs) + '）',
        nobody_logged_in: (a) => a.window + '号窗口开放但无人登录（' + dur(a.value_secs) + '）',
        idle: (a) => a.window + '号窗口空闲 ' + dur(a.value_secs) + '，其事项有人等候',
        bad_rating: (a) => (a.window ? a.window + '号窗口 ' : '') + (a.ticket || '') + ' 收到差评：' + grade(a.rating),
        notification_failed: (a) => '短信发送失败' + (a.ticket ? '（' + a.ticket + '）' : ''),
        print_failed: (a) => '打印失败' + (a.ticket ? '（' + a.ticket + '）' : ''),
        work_order_overdue: (a) => '差评工单 ' + a.subject + ' 已超期 ' + dur(a.value_secs),
      },
      woState: { open: '待回访', called_back: '已回访', closed: '已办结' },
      deadline: (d) => '期限 ' + d, overdue: '已超期', appealed: '已申诉',
      callBack: '回访', close: '关闭', appeal: '申诉复核',
      askCallBack: '回访记录（访客怎么说）：', askClose: '处理结果：', askAppeal: '申诉复核的理由：',
      failedAction: (t) => '操作未成功：' + t,
      orderNo: (d) => '工单 ' + d, ok: '确定', cancel: '取消', noteEmpty: '请填写内容',
      dlgTitle: { called_back: '回访', closed: '关闭工单', appeal: '申诉复核' },
      alert: '告警', noOrders: '今日没有差评', noFailures: '今日没有发送或打印失败',
      order: (o) => (o.window ? o.window + '号窗口' : '') + (o.staff ? ' · ' + o.staff : '') + ' · ' + grade(o.rating),
      notif: (n) => '短信发送失败 ' + n + ' 条（见 hallq notifications / 短信网关日志）',
      print: (p) => '打印失败：' + p.reason,
      printsTotal: (n) => '自启动以来打印失败 ' + n + ' 次',
      printsToday: (n) => '今日打印失败 ' + n + ' 次',
      grades: ['', '非常不满意', '不满意', '基本满意', '满意', '非常满意'],
      s: ' 秒', m: ' 分', h: ' 小时 ',
      date: '日期', show: '显示', today: '今天', report: '下载日报', loading: '正在生成…',
      chartsFailed: (c) => '无法生成图表（' + c + '）',
    },
    en: {
      title: 'Manager console', live: 'Live', charts: 'Charts', other: '中文',
      windows: 'Windows', items: 'Items', orders: 'Work orders (bad ratings)', failures: 'Failed notifications and prints',
      linkLive: 'live', linkLost: 'link lost', linkConnecting: 'connecting',
      lost: (why) => 'Link to hallqd lost: ' + why + ' (showing the state before; reconnecting)',
      connecting: 'Connecting to hallqd…',
      window: (n) => 'Window ' + n,
      state: { open: 'open', paused: 'paused', closed: 'closed' },
      post: (p) => 'post ' + p, nobody: 'nobody logged in',
      called: 'called', serving: 'serving', none: 'idle',
      figs: (s, idle, paused) => 'served ' + s + ' · idle ' + idle + (paused ? ' · paused ' + paused : ''),
      badRatings: (n, tickets) => n + ' bad ratings to call back: ' + tickets + ' (see the work orders)',
      universal: 'universal', fallback: 'fallback',
      cols: ['item', 'appt', 'priority', 'walk-in', 'oldest', 'est. wait', 'open windows', 'issued', 'served', 'cap'],
      summary: (v) => v.waiting_total + ' waiting · ' + v.open + '/' + v.windows + ' windows open · target ' +
        Math.round(v.wait_target_secs / 60) + ' min' + (v.issuing ? '' : ' · issuing closed'),
      overTarget: (a) => a.name + ' (' + a.item + ')' + (a.oldest_secs != null ? ': oldest waiting ' + dur(a.oldest_secs) : '') +
        (a.eta_secs != null ? ', a new ticket waits ' + dur(a.eta_secs) : '') + ', over the target of ' + dur(a.target_secs),
      openThese: (ws) => ws.length ? ': open window ' + ws.join(', ') : ': no other window serves it',
      kinds: {
        wait: (a) => 'item ' + a.item + ' waits ' + dur(a.value_secs) + ', over the target of ' + dur(a.limit_secs) +
          (a.open.length ? ': open window ' + a.open.join(', ') : ''),
        paused: (a) => 'window ' + a.window + ' paused for ' + dur(a.value_secs) + ' (limit ' + dur(a.limit_secs) + ')',
        nobody_logged_in: (a) => 'window ' + a.window + ' open with nobody logged in (' + dur(a.value_secs) + ')',
        idle: (a) => 'window ' + a.window + ' idle for ' + dur(a.value_secs) + ' while its items have people waiting',
        bad_rating: (a) => (a.window ? 'window ' + a.window + ' ' : '') + (a.ticket || '') + ' rated ' + grade(a.rating),
        notification_failed: (a) => 'SMS failed' + (a.ticket ? ' (' + a.ticket + ')' : ''),
        print_failed: (a) => 'print failed' + (a.ticket ? ' (' + a.ticket + ')' : ''),
        work_order_overdue: (a) => 'work order ' + a.subject + ' overdue by ' + dur(a.value_secs),
      },
      woState: { open: 'to call back', called_back: 'called back', closed: 'closed' },
      deadline: (d) => 'due ' + d, overdue: 'overdue', appealed: 'appealed',
      callBack: 'Call back', close: 'Close', appeal: 'Appeal',
      askCallBack: 'Call-back note (what the visitor said):', askClose: 'Outcome:', askAppeal: 'Reason for setting the rating aside:',
      failedAction: (t) => 'Not done: ' + t,
      orderNo: (d) => 'work order ' + d, ok: 'OK', cancel: 'Cancel', noteEmpty: 'Please write something',
      dlgTitle: { called_back: 'Call back', closed: 'Close the work order', appeal: 'Appeal' },
      alert: 'Alert', noOrders: 'No bad ratings today', noFailures: 'No failed notifications or prints today',
      order: (o) => (o.window ? 'window ' + o.window : '') + (o.staff ? ' · ' + o.staff : '') + ' · ' + grade(o.rating),
      notif: (n) => n + ' SMS failed today (see hallq notifications / the gateway log)',
      print: (p) => 'print failed: ' + p.reason,
      printsTotal: (n) => n + ' print failures since start',
      printsToday: (n) => n + ' print failures today',
      grades: ['', 'very dissatisfied', 'dissatisfied', 'fairly satisfied', 'satisfied', 'very satisfied'],
      s: ' s', m: ' min', h: ' h ',
      date: 'Day', show: 'Show', today: 'Today', report: 'Download report', loading: 'drawing…',
      chartsFailed: (c) => 'The charts could not be made (' + c + ')',
    },
  };
  const params = new URLSearchParams(location.search);
  let lang = params.get('lang') === 'en' ? 'en' : (params.get('lang') === 'zh' ? 'zh' : (localStorage.getItem('hallq-console-lang') || 'zh'));
  let t = T[lang];
  let console_ = null;   // the latest pushed console
  let pushedAt = 0;      // local time it came, for the ticking clocks
  let lastEvent = Date.now();
  const $ = (id) => document.getElementById(id);
  const esc = (s) => String(s == null ? '' : s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' }[c]));
  function dur(secs) {
    secs = Math.max(0, Math.floor(secs));
    if (secs < 60) return secs + t.s;
    if (secs < 3600) return Math.floor(secs / 60) + t.m;
    return Math.floor(secs / 3600) + t.h + String(Math.floor(secs / 60) % 60).padStart(2, '0') + t.m;
  }
  function clock(secs) {
    secs = Math.max(0, Math.floor(secs));
    const mm = String(Math.floor(secs / 60) % 60).padStart(2, '0');
    const ss = String(secs % 60).padStart(2, '0');
    return (secs >= 3600 ? Math.floor(secs / 3600) + ':' : '') + mm + ':' + ss;
  }
  function grade(r) { return t.grades[r] || ''; }
  // hh:mm[:ss] in the hall's zone (the browser's may be another).
  function hallTime(ms, seconds) {
    const off = console_ && console_.view ? console_.view.offset_minutes : 480;
    const d = new Date(ms + off * 60000);
    const two = (n) => String(n).padStart(2, '0');
    return two(d.getUTCHours()) + ':' + two(d.getUTCMinutes()) + (seconds ? ':' + two(d.getUTCSeconds()) : '');
  }
  // hallqd's "now" advanced by the time since the push.
  function nowMs() { return console_ && console_.view ? console_.view.now + (Date.now() - pushedAt) : Date.now(); }

  function setTexts() {
    document.documentElement.lang = lang === 'en' ? 'en' : 'zh-CN';
    $('lang').textContent = t.other;
    $('tab-live').textContent = t.live;
    $('tab-charts').textContent = t.charts;
    $('h-windows').textContent = t.windows;
    $('h-items').textContent = t.items;
    $('h-orders').textContent = t.orders;
    $('h-failures').textContent = t.failures;
    $('l-date').textContent = t.date;
    $('show').textContent = t.show;
    $('today').textContent = t.today;
    $('report-link').textContent = t.report;
    $('items').tHead.innerHTML = '<tr>' + t.cols.map((c) => '<th>' + esc(c) + '</th>').join('') + '</tr>';
  }

  function drawLink() {
    const c = console_ || { link: 'connecting' };
    document.body.dataset.link = c.link;
    $('link').textContent = c.link === 'live' ? t.linkLive : (c.link === 'lost' ? t.linkLost : t.linkConnecting);
    const lost = $('lost');
    if (c.link === 'live') { lost.hidden = true; } else {
      lost.hidden = false;
      lost.textContent = c.link === 'lost' ? t.lost(c.lost || '') : t.connecting;
    }
  }

  function drawWindows(v) {
    $('windows').innerHTML = v.windows.map((w) => {
      const staff = w.staff ? esc(w.staff) + ' · ' + t.post(w.post) : '<span class="muted">' + t.nobody + '</span>';
      const kind = (w.universal ? ' · ' + t.universal : '') + (w.fallback ? ' · ' + t.fallback : '');
      let cur = '<span class="muted">' + t.none + '</span>';
      if (w.current) {
        const how = w.serving ? t.serving : t.called;
        cur = '<span class="cur" data-since="' + (w.since || '') + '">' + esc(w.current) + ' ' + how +
          ' <span class="for"></span></span>';
      }
      const state = t.state[w.state] + (w.reason ? '：' + esc(w.reason) : '');
      return '<div class="win" data-window="' + w.number + '" data-state="' + w.state + '" data-current="' +
        esc(w.current || '') + '"><div class="head"><span>' + esc(t.window(w.number)) + '</span><span class="state">' +
        state + '</span></div><div>' + staff + '<span class="muted">' + kind + ' · ' + esc(w.items.join(' ')) +
        '</span></div><div>' + cur + '</div><div class="figs">' +
        esc(t.figs(w.served_today, dur(w.idle_secs), w.paused_secs ? dur(w.paused_secs) : null)) + '</div></div>';
    }).join('');
  }

  function drawItems(v) {
    $('items').tBodies[0].innerHTML = v.items.map((i) => {
      const cap = i.daily_cap != null ? (i.cap_used != null ? i.cap_used : i.issued_today) + '/' + i.daily_cap : '—';
      const over = (s) => s != null && v.wait_target_secs > 0 && s > v.wait_target_secs;
      return '<tr data-item="' + esc(i.code) + '" class="' + (i.over_target ? 'over' : '') + '"><td>' +
        esc(i.name) + '（' + esc(i.code) + '）</td><td>' + i.waiting[0] + '</td><td>' + i.waiting[1] +
        '</td><td>' + i.waiting[2] + '</td><td class="' + (over(i.oldest_secs) ? 'over' : '') + '">' +
        (i.oldest_secs != null ? dur(i.oldest_secs) : '—') + '</td><td class="' + (over(i.eta_secs) ? 'over' : '') + '">' +
        (i.eta_secs != null ? dur(i.eta_secs) : '—') + '</td><td>' + (i.open_windows.length ? esc(i.open_windows.join(',')) : '—') +
        '</td><td>' + i.issued_today + '</td><td>' + i.served_today + '</td><td>' + cap + '</td></tr>';
    }).join('');
  }

  // More than two bad ratings make one line (the work orders list them
  // with their buttons): a busy day's ratings must not push the floor off
  // a 768-pixel screen.
  function drawAlerts(v) {
    const bad = v.alerts.filter((a) => a.kind === 'bad_rating');
    const shown = bad.length > 2 ? v.alerts.filter((a) => a.kind !== 'bad_rating') : v.alerts;
    const grouped = bad.length > 2
      ? '<div class="alert red" data-kind="bad_rating" data-count="' + bad.length + '"><b>' + t.alert + '</b>' +
        esc(t.badRatings(bad.length, bad.map((a) => a.ticket || a.subject).join(', '))) + '</div>'
      : '';
    $('alerts').innerHTML = grouped + shown.map((a) => {
      if (a.kind === 'wait_over_target') {
        return '<div class="alert red" data-kind="' + a.kind + '"><b>' + t.alert + '</b>' +
          esc(t.overTarget(a) + t.openThese(a.open)) + '</div>';
      }
      const say = t.kinds[a.kind];
      const red = a.kind === 'wait' || a.kind === 'work_order_overdue' || a.kind === 'bad_rating';
      // A bad rating's detail is its work order's number (#7): say so.
      const detail = a.kind === 'bad_rating' && /^#\d+$/.test(a.detail || '') ? t.orderNo(a.detail) : a.detail;
      return '<div class="alert ' + (red ? 'red' : 'amber') + '" data-kind="' + esc(a.kind) + '"><b>' + t.alert + '</b>' +
        esc(say ? say(a) : a.kind) + (detail ? ' <span class="muted">' + esc(detail) + '</span>' : '') + '</div>';
    }).join('');
  }

  function drawOrders(v) {
    if (!v.work_orders.length) { $('orders').innerHTML = '<div class="muted">' + t.noOrders + '</div>'; return; }
    $('orders').innerHTML = v.work_orders.map((o) => {
      let life = '';
      if (v.lifecycle) {
        const d = String(o.deadline_day);
        life = '<span class="wo-state" data-state="' + o.state + '">' + t.woState[o.state] + '</span>' +
          '<span class="' + (o.overdue ? 'over' : 'muted') + '">' + esc(t.deadline(d.slice(4, 6) + '-' + d.slice(6))) +
          (o.overdue ? ' · ' + t.overdue : '') + '</span>' + (o.appealed ? '<span class="muted">' + t.appealed + '</span>' : '') +
          '<span class="acts">' +
          (o.state === 'open' ? '<button type="button" data-act="called_back" data-id="' + o.id + '">' + t.callBack + '</button>' : '') +
          (o.state !== 'closed' ? '<button type="button" data-act="closed" data-id="' + o.id + '">' + t.close + '</button>' : '') +
          (o.appealed ? '' : '<button type="button" data-act="appeal" data-ticket="' + esc(o.ticket) + '" data-day="' + o.day + '">' + t.appeal + '</button>') +
          '</span>';
      }
      return '<div class="order" data-ticket="' + esc(o.ticket) + '"' + (o.id ? ' data-id="' + o.id + '"' : '') + '><b>' + esc(o.ticket) +
        '</b><span>' + esc(t.order(o)) + '</span><span class="muted">' + (o.at ? hallTime(o.at) : '') + '</span>' + life + '</div>';
    }).join('');
  }

  // 回访 / 关闭 / 申诉复核: a note first (hallqd refuses an empty one), in
  // the page's own dialog (a tablet's browser may block window.prompt, and
  // its words follow the page's language), then the console server asks
  // hallqd; a refusal is shown in words in the dialog, the note kept.
  const dlg = $('note-dialog');
  let pending = null;
  function openDialog(b) {
    const act = b.dataset.act;
    pending = act === 'appeal'
      ? { act: act, ticket: b.dataset.ticket, day: Number(b.dataset.day) }
      : { act: act, id: Number(b.dataset.id) };
    const order = b.closest('.order');
    $('note-title').textContent = t.dlgTitle[act] + (order ? ' · ' + order.dataset.ticket : '');
    $('note-label').textContent = act === 'called_back' ? t.askCallBack : act === 'closed' ? t.askClose : t.askAppeal;
    $('note-ok').textContent = t.ok;
    $('note-cancel').textContent = t.cancel;
    $('note-text').value = '';
    $('note-error').textContent = '';
    dlg.dataset.act = act;
    dlg.showModal();
    $('note-text').focus();
  }
  $('orders').addEventListener('click', (e) => {
    const b = e.target.closest('button[data-act]');
    if (b) openDialog(b);
  });
  $('note-cancel').addEventListener('click', () => { pending = null; dlg.close(); });
  $('note-form').addEventListener('submit', (e) => {
    e.preventDefault();
    if (!pending) return;
    const note = $('note-text').value.trim();
    if (!note) { $('note-error').textContent = t.noteEmpty; return; }
    const p = pending;
    const body = p.act === 'appeal'
      ? { ticket: p.ticket, day: p.day, reason: note, lang: lang }
      : { id: p.id, action: p.act, note: note, lang: lang };
    $('note-ok').disabled = true;
    fetch(p.act === 'appeal' ? '/appeal' : '/workorder', { method: 'POST', body: JSON.stringify(body) })
      .then((r) => r.json()).then((answer) => {
        document.body.dataset.lastAction = answer.ok ? 'ok' : answer.code;
        if (answer.ok) { pending = null; dlg.close(); }
        else $('note-error').textContent = t.failedAction(answer.text || answer.code);
      }, () => { $('note-error').textContent = t.failedAction('—'); })
      .finally(() => { $('note-ok').disabled = false; });
  });

  function drawFailures(v) {
    const rows = [];
    if (v.failed_notifications > 0) rows.push('<div class="fail"><b>SMS</b><span>' + esc(t.notif(v.failed_notifications)) + '</span></div>');
    for (const n of v.failed_list || []) {
      rows.push('<div class="fail"><b>' + esc(n.ticket || 'SMS') + '</b><span>' + esc(n.reason) + '</span><span class="muted">' + hallTime(n.at) + '</span></div>');
    }
    for (const p of v.print_failures) {
      rows.push('<div class="fail"><b>' + esc(p.ticket) + '</b><span>' + esc(t.print(p)) + '</span><span class="muted">' +
        hallTime(p.at) + '</span></div>');
    }
    if (v.print_failures_today > v.print_failures.length) rows.push('<div class="muted">' + esc(t.printsToday(v.print_failures_today)) + '</div>');
    else if (v.print_failures_total > v.print_failures.length) rows.push('<div class="muted">' + esc(t.printsTotal(v.print_failures_total)) + '</div>');
    $('failures').innerHTML = rows.length ? rows.join('') : '<div class="muted">' + t.noFailures + '</div>';
  }

  function draw() {
    drawLink();
    const v = console_ && console_.view;
    if (!v) return;
    document.body.dataset.refreshes = console_.refreshes;
    document.body.dataset.lifecycle = String(!!v.lifecycle);
    $('hall').textContent = v.hall_name + ' · ' + t.title;
    document.title = v.hall_name + ' · ' + t.title;
    const open = v.windows.filter((w) => w.state === 'open').length;
    $('summary').textContent = t.summary(Object.assign({}, v, { open: open, windows: v.windows.length }));
    drawAlerts(v);
    drawWindows(v);
    drawItems(v);
    drawOrders(v);
    drawFailures(v);
    tick();
  }

  // Every second: the clock and how long each current ticket has been at
  // its window (red past the hall's waiting target: a service that long
  // holds the line up).
  function tick() {
    const now = nowMs();
    $('clock').textContent = hallTime(now, true);
    const target = console_ && console_.view ? console_.view.wait_target_secs : 0;
    for (const cur of document.querySelectorAll('.cur[data-since]')) {
      const since = Number(cur.dataset.since);
      if (!since) continue;
      const secs = (now - since) / 1000;
      cur.querySelector('.for').textContent = clock(secs);
      cur.classList.toggle('long', target > 0 && secs > target);
    }
    // Three silent pings: the console process or the cable is gone.
    if (Date.now() - lastEvent > 16000 && console_ && console_.link === 'live') {
      console_.link = 'lost';
      console_.lost = lang === 'en' ? 'the console stopped answering' : '控制台服务无响应';
      drawLink();
    }
  }

  function connect() {
    const source = new EventSource('/events');
    source.addEventListener('state', (e) => {
      lastEvent = Date.now();
      console_ = JSON.parse(e.data);
      pushedAt = Date.now();
      document.body.dataset.shownAt = String(Date.now());
      draw();
    });
    source.addEventListener('ping', () => { lastEvent = Date.now(); });
    source.onerror = () => {
      if (console_) { console_.link = 'lost'; console_.lost = lang === 'en' ? 'the console is not reachable' : '无法连接控制台服务'; }
      drawLink();
    };
  }

  // The charts tab: a day's figures drawn by hallq.
  function showTab(tab) {
    document.body.dataset.tab = tab;
    $('live').hidden = tab !== 'live';
    $('charts-tab').hidden = tab !== 'charts';
    $('tab-live').classList.toggle('on', tab === 'live');
    $('tab-charts').classList.toggle('on', tab === 'charts');
    if (tab === 'charts') loadCharts();
    history.replaceState(null, '', tab === 'charts' ? '#charts' : '#');
  }
  let chartsAsked = 0;
  function loadCharts() {
    const date = $('date').value;
    const q = '?lang=' + lang + (date ? '&date=' + date : '');
    $('report-link').href = '/report.html' + q;
    const asked = ++chartsAsked;
    $('charts-state').textContent = t.loading;
    document.body.dataset.charts = 'loading';
    fetch('/charts' + q).then((r) => r.ok ? r.text() : r.json().then((e) => { throw new Error(e.code); }))
      .then((html) => {
        if (asked !== chartsAsked) return;
        $('charts').innerHTML = html;
        $('charts-state').textContent = '';
        document.body.dataset.charts = 'shown';
      }, (err) => {
        if (asked !== chartsAsked) return;
        $('charts').innerHTML = '';
        $('charts-state').textContent = t.chartsFailed(err.message);
        document.body.dataset.charts = 'failed';
      });
  }

  $('lang').addEventListener('click', () => {
    lang = lang === 'en' ? 'zh' : 'en';
    t = T[lang];
    localStorage.setItem('hallq-console-lang', lang);
    setTexts();
    draw();
    if (document.body.dataset.tab === 'charts') loadCharts();
  });
  for (const b of document.querySelectorAll('#tabs button')) b.addEventListener('click', () => showTab(b.dataset.tab));
  $('day-form').addEventListener('submit', (e) => { e.preventDefault(); loadCharts(); });
  $('today').addEventListener('click', () => { $('date').value = ''; loadCharts(); });
  setTexts();
  drawLink();
  connect();
  setInterval(tick, 1000);
  if (location.hash === '#charts') showTab('charts');
})();
