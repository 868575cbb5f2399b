// hallq display board: follows the board process's event stream (/events)
// and redraws on every `state` event. No polling and no reloads: the
// browser's EventSource reconnects by itself, and a watchdog catches a
// stream that went silent without closing.
//
// Query parameters: window=N (the screen over window N), speak=1 (announce
// calls with speech synthesis; also toggled with the button or the S key),
// repeat=N (say each announcement N times, default 1).
//
// For tests and monitoring the page writes what it shows into data-
// attributes: body[data-link] is "live" only while the numbers are live;
// #latest carries data-call-id, data-ticket, data-window, data-at (when the
// daemon made the call) and data-shown-at (when this page first drew it).
(function () {
  'use strict';

  var params = new URLSearchParams(location.search);
  var windowOnly = params.has('window') ? Number(params.get('window')) : null;
  var repeat = Math.max(1, Math.min(3, Number(params.get('repeat')) || 1));
  var speakOn = params.get('speak') === '1' ||
    (params.get('speak') !== '0' && storage('get') === '1');

  /** A page silent this long has lost its board process (3 pings). */
  var SILENCE_MS = 15000;

  var state = null;          // the last board state received
  var streamUp = false;      // the event stream to the board process is open
  var lastMessageAt = Date.now();
  var highestCallId = null;  // null until the first state: nothing to announce yet
  var shownAt = {};          // call id -> when this page first drew it
  var announced = 0;
  var source = null;

  var $ = function (id) { return document.getElementById(id); };

  function storage(op, value) {
    try {
      if (op === 'get') return localStorage.getItem('hallq-speak');
      localStorage.setItem('hallq-speak', value);
    } catch (e) { /* private mode: the toggle just does not stick */ }
    return null;
  }

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function pad(n) { return (n < 10 ? '0' : '') + n; }

  function clockText(ms) {
    var d = new Date(ms);
    return pad(d.getHours()) + ':' + pad(d.getMinutes()) + ':' + pad(d.getSeconds());
  }

  function tickClock() {
    var d = new Date();
    var week = '日一二三四五六'.charAt(d.getDay());
    $('date').textContent = d.getFullYear() + '年' + (d.getMonth() + 1) + '月' +
      d.getDate() + '日 星期' + week;
    $('time').textContent = clockText(d.getTime());
  }

  /** "live" only when both links hold: page→board process and board→hallqd. */
  function linkState() {
    if (!streamUp) return state ? 'offline' : 'connecting';
    if (!state) return 'connecting';
    return state.link; // live, connecting or lost
  }

  function showLink() {
    var link = linkState();
    document.body.dataset.link = link;
    var title = '正在连接叫号系统…';
    var text = '请稍候';
    if (link === 'lost') {
      title = '与叫号系统的连接已中断';
      text = '正在重新连接… 以上号码暂停更新' +
        (state && state.lost_since ? '（自 ' + clockText(state.lost_since) + ' 起）' : '');
    } else if (link === 'offline') {
      title = '显示服务未响应';
      text = '正在重新连接显示服务…';
    }
    $('offline-title').textContent = title;
    $('offline-text').textContent = text;
    $('status-text').textContent = link === 'live' ? '实时' : '连接中断';
  }

  /** How a window reads: [data-state, ticket text, state text]. */
  function windowLook(w) {
    // §8.2.2.2: a paused window says so where its number would be.
    if (w.state === 'paused') {
      return ['paused', '暂停服务', w.reason && w.reason !== '暂停服务' ? w.reason : ''];
    }
    if (w.state === 'closed') return ['closed', '未开放', ''];
    if (w.current && w.serving) return ['serving', w.current, '正在办理'];
    if (w.current) return ['called', w.current, '请到窗口'];
    return ['idle', '', '空闲'];
  }

  function callsFor(s) {
    return windowOnly === null ? s.calls : s.calls.filter(function (c) {
      return c.window === windowOnly;
    });
  }

  function renderCalls(s) {
    var calls = callsFor(s);
    var latest = $('latest');
    latest.textContent = '';
    var newest = calls[0];
    if (!newest) {
      latest.className = 'latest empty';
      latest.appendChild(el('div', 'latest-line')).appendChild(el('span', 'ticket', '—'));
      latest.appendChild(el('div', 'announcement', '等待叫号'));
      delete latest.dataset.callId;
    } else {
      var line = latest.appendChild(el('div', 'latest-line'));
      line.appendChild(el('span', 'ticket', newest.ticket));
      line.appendChild(el('span', 'arrow', '→'));
      line.appendChild(el('span', 'win', newest.window + '号窗口'));
      var words = latest.appendChild(el('div', 'announcement', newest.text));
      if (newest.recall) words.appendChild(el('span', 'tag', '重呼'));
      var fresh = Date.now() - shownAt[newest.id] < 6000;
      latest.className = 'latest' + (fresh ? ' fresh' : '');
      latest.dataset.callId = newest.id;
      latest.dataset.ticket = newest.ticket;
      latest.dataset.window = newest.window;
      latest.dataset.at = newest.at;
      latest.dataset.shownAt = shownAt[newest.id];
    }
    var earlier = $('earlier');
    earlier.textContent = '';
    // A recall repeats a call already listed: list each ticket once.
    var listed = {};
    if (newest) listed[newest.ticket + '@' + newest.window] = true;
    calls.slice(1).filter(function (c) {
      var key = c.ticket + '@' + c.window;
      if (listed[key]) return false;
      listed[key] = true;
      return true;
    }).slice(0, 6).forEach(function (c) {
      var li = el('li');
      li.appendChild(el('span', 'ticket', c.ticket));
      li.appendChild(el('span', 'win', c.window + '号窗口'));
      earlier.appendChild(li);
    });
  }

  function renderWindows(s) {
    var grid = $('window-grid');
    grid.textContent = '';
    grid.className = s.windows.length > 12 ? 'many' : '';
    s.windows.forEach(function (w) {
      var look = windowLook(w);
      var tile = el('div', 'tile');
      tile.dataset.window = w.number;
      tile.dataset.state = look[0];
      tile.appendChild(el('div', 'tile-no', w.number + '号'));
      tile.appendChild(el('div', 'tile-ticket', look[1] || '—'));
      tile.appendChild(el('div', 'tile-state', look[2]));
      grid.appendChild(tile);
    });
  }

  function renderItems(s) {
    var items = $('items');
    items.textContent = '';
    s.items.forEach(function (i) {
      var chip = el('div', 'item');
      chip.dataset.item = i.code;
      chip.appendChild(document.createTextNode(i.name + '（' + i.code + '）等候 '));
      chip.appendChild(el('b', '', String(i.waiting)));
      chip.appendChild(document.createTextNode(' 人'));
      items.appendChild(chip);
    });
    $('issuing-closed').hidden = s.issuing || s.items.length === 0;
  }

  function renderWindowTop(s) {
    var box = $('window-top');
    $('wt-number').textContent = windowOnly;
    var w = s.windows.filter(function (x) { return x.number === windowOnly; })[0];
    var ticket = $('wt-ticket');
    var words = $('wt-state');
    if (!w) {
      box.dataset.state = 'closed';
      ticket.textContent = '—';
      words.textContent = '没有这个窗口';
      return;
    }
    var look = windowLook(w);
    box.dataset.state = look[0];
    if (look[0] === 'paused') {
      // §8.2.2.2: a paused window says so, in the largest type.
      ticket.textContent = '暂停服务';
      words.textContent = w.reason && w.reason !== '暂停服务' ? w.reason : '';
    } else if (look[0] === 'closed') {
      ticket.textContent = '未开放';
      words.textContent = '';
    } else if (look[0] === 'idle') {
      ticket.textContent = '—';
      words.textContent = '空闲';
    } else {
      ticket.textContent = w.current;
      words.textContent = look[0] === 'called' ? '请' + w.current + '号到本窗口办理' : '正在办理';
    }
  }

  /** Speaks new calls (each recall is a new call, so it is said again). */
  function announce(s) {
    var calls = callsFor(s).slice().reverse(); // oldest first
    var first = highestCallId === null;
    var top = highestCallId === null ? 0 : highestCallId;
    calls.forEach(function (c) {
      if (!(c.id in shownAt)) shownAt[c.id] = Date.now();
      // The backlog present when the page opens is not announced again.
      if (!first && c.id > top && c.announce) say(c.text);
    });
    s.calls.forEach(function (c) { top = Math.max(top, c.id); });
    highestCallId = top;
  }

  function say(text) {
    announced += 1;
    document.body.dataset.announced = announced;
    document.body.dataset.lastAnnouncement = text;
    if (!speakOn || !('speechSynthesis' in window)) return;
    for (var i = 0; i < repeat; i += 1) {
      var u = new SpeechSynthesisUtterance(text);
      u.lang = 'zh-CN';
      u.rate = 0.9;
      window.speechSynthesis.speak(u);
    }
  }

  function render(s) {
    state = s;
    if (s.hall) {
      $('hall-name').textContent = s.hall;
      document.title = s.hall + ' · 叫号显示屏';
    }
    announce(s);
    if (windowOnly === null) {
      renderCalls(s);
      renderWindows(s);
      renderItems(s);
    } else {
      renderWindowTop(s);
    }
    document.body.dataset.seq = s.seq === null ? '' : s.seq;
    document.body.dataset.renderedAt = Date.now();
    showLink();
  }

  function showSpeak() {
    var b = $('speak');
    b.textContent = '语音播报：' + (speakOn ? '开' : '关');
    b.setAttribute('aria-pressed', speakOn ? 'true' : 'false');
    document.body.dataset.speak = speakOn ? '1' : '0';
  }

  function toggleSpeak() {
    speakOn = !speakOn;
    storage('set', speakOn ? '1' : '0');
    showSpeak();
    if (speakOn) say('语音播报已开启');
  }

  function connect() {
    if (source) source.close();
    source = new EventSource('events');
    source.addEventListener('state', function (e) {
      lastMessageAt = Date.now();
      streamUp = true;
      render(JSON.parse(e.data));
    });
    source.addEventListener('ping', function () {
      lastMessageAt = Date.now();
      streamUp = true;
      showLink();
    });
    source.onerror = function () {
      streamUp = false;
      showLink();
      // A CLOSED source is not retried by the browser: do it ourselves.
      if (source.readyState === EventSource.CLOSED) setTimeout(connect, 2000);
    };
  }

  function watchdog() {
    tickClock();
    if (streamUp && Date.now() - lastMessageAt > SILENCE_MS) {
      streamUp = false;
      showLink();
      lastMessageAt = Date.now();
      connect();
    }
    // Let the "fresh" highlight of the newest call end on time.
    if (state && windowOnly === null) {
      var latest = $('latest');
      var id = latest.dataset.callId;
      if (id && latest.classList.contains('fresh') && Date.now() - shownAt[id] >= 6000) {
        latest.classList.remove('fresh');
      }
    }
  }

  if (windowOnly !== null) {
    $('hall-board').hidden = true;
    $('window-top').hidden = false;
  }
  $('speak').addEventListener('click', toggleSpeak);
  document.addEventListener('keydown', function (e) {
    if (e.key === 's' || e.key === 'S') toggleSpeak();
  });
  showSpeak();
  tickClock();
  showLink();
  setInterval(watchdog, 1000);
  connect();
})();
