// hallq display board: follows the board process's event stream (/events)
// and redraws on every `state` event. No polling and no reloads: the
// browser's EventSource reconnects by itself, and a watchdog catches a
// stream that went silent without closing.
//
// Query parameters: window=N (the screen over window N), speak=1 (announce
// calls; also toggled with the button or the S key), repeat=N (with the
// browser's voice: say each announcement N times; the board process's
// --repeat otherwise).
//
// Sound (/voice.json says which): "espeak" plays /announce.wav?call=ID,
// chime and words made by the board process with espeak-ng (offline), one
// clip after another; "browser" plays /chime.wav, then the browser's own
// speech synthesis; "off" is silent. #voice-player carries data-requested
// (clips asked for), data-played (clips played to the end), data-src (the
// last one) and data-error.
//
// For tests and monitoring the page writes what it shows into data-
// attributes: body[data-link] is "live" only while the numbers are live;
// #latest carries data-call-id, data-ticket, data-window, data-at (when the
// daemon made the call) and data-shown-at (when this page first drew it).
(function () {
  'use strict';

  var params = new URLSearchParams(location.search);
  var windowOnly = params.has('window') ? Number(params.get('window')) : null;
  var repeatParam = Number(params.get('repeat')) || 0;
  var repeat = Math.max(1, Math.min(3, repeatParam || 1));
  var voice = { engine: 'espeak', repeat: 2, chime: true }; // until /voice.json answers
  var clips = [];            // announcements waiting to be played, oldest first
  var playing = false;
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

  function pauseText(w) {
    return w.reason && w.reason !== '暂停服务' ? '暂停服务（' + w.reason + '）' : '暂停服务';
  }

  /** How a window reads: [data-state, ticket text, state text]. */
  function windowLook(w) {
    if (w.state === 'paused') {
      // A paused window still serving the visitor it called shows that
      // ticket (the visitor must not think the window is gone), the pause
      // second; with nobody, §8.2.2.2: the pause where the number would be.
      if (w.current) return ['paused', w.current, pauseText(w)];
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
    }).slice(0, 4).forEach(function (c) {
      var li = el('li');
      li.appendChild(el('span', 'ticket', c.ticket));
      li.appendChild(el('span', 'win', c.window + '号窗口'));
      earlier.appendChild(li);
    });
  }

  /** Columns and tile height giving the largest type for n windows. A big
      hall (more than 20 windows) gets compact tiles: the number and state
      on a line above, the ticket below across the tile's width. */
  function layoutGrid(n) {
    var grid = $('window-grid');
    var compact = n > 20;
    grid.className = compact ? 'compact' : '';
    var box = $('windows').getBoundingClientRect();
    var gap = Math.max(4, window.innerHeight * 0.008);
    // Inside #windows' padding, with a pixel to spare for rounding.
    box = { width: box.width - 2, height: box.height - window.innerHeight * 0.012 - 2 };
    // The ticket's height as a share of the tile's, and the width it needs
    // in ticket ems (4 characters, beside the number on a large tile).
    var share = compact ? 0.56 : 0.5;
    var ems = compact ? 2.8 : 5.2;
    var best = { cols: 4, h: 60, font: 0, w: 200 };
    for (var cols = 1; cols <= Math.max(1, n); cols += 1) {
      var rows = Math.ceil(n / cols);
      var w = (box.width - gap * (cols - 1)) / cols;
      var h = Math.min((box.height - gap * (rows - 1)) / rows, w * 0.42, window.innerHeight * 0.2);
      var font = Math.min(h * share, (w - 24) / ems);
      if (font > best.font) best = { cols: cols, h: font / share, font: font, w: w };
    }
    grid.style.setProperty('--cols', best.cols);
    grid.style.setProperty('--tile-h', Math.floor(best.h) + 'px');
    grid.style.setProperty('--tile-w', Math.floor(best.w) + 'px');
    grid.style.setProperty('--gap', Math.floor(gap) + 'px');
    grid.dataset.cols = best.cols;
  }

  function renderWindows(s) {
    var grid = $('window-grid');
    grid.textContent = '';
    layoutGrid(s.windows.length);
    var compact = grid.className === 'compact';
    s.windows.forEach(function (w) {
      var look = windowLook(w);
      var tile = el('div', 'tile');
      tile.dataset.window = w.number;
      tile.dataset.state = look[0];
      if (w.current) {
        tile.dataset.current = w.current;
        tile.dataset.serving = w.serving ? '1' : '0';
      }
      tile.appendChild(el('div', 'tile-no', w.number + '号'));
      tile.appendChild(el('div', 'tile-ticket', look[1] || '—'));
      // Compact tiles have a narrow state line: the pause in short.
      var words = look[2];
      if (compact && look[0] === 'paused' && w.current) {
        words = w.reason && w.reason !== '暂停服务' ? '暂停·' + w.reason : '暂停服务';
      }
      tile.appendChild(el('div', 'tile-state', words));
      grid.appendChild(tile);
    });
  }

  /** 请…准备 and 过号, when hallqd gives them (null: an older hallqd). */
  function renderLines(s) {
    var hasLines = s.next !== null && s.next !== undefined;
    $('next').hidden = !hasLines;
    $('no-shows').hidden = !hasLines;
    $('band').className = hasLines ? '' : 'no-lists';
    if (!hasLines) return;
    // Many items: the head of each line only; few: the next two or three.
    var perItem = s.next.length > 8 ? 1 : s.next.length > 4 ? 2 : 3;
    var numbers = [];
    s.next.forEach(function (n) {
      n.tickets.slice(0, perItem).forEach(function (t) { numbers.push(t); });
    });
    var list = $('next-list');
    list.textContent = '';
    numbers = numbers.slice(0, 30);
    // As large as the panel allows: a chip is ~3.5 em wide, 1.3 em high
    // plus its padding and the gap (1.4vh).
    var panel = $('next').getBoundingClientRect();
    var room = { w: panel.width - window.innerWidth * 0.02, h: panel.height - window.innerHeight * 0.065 };
    var cols = 3;
    var font = 0;
    for (var c = 2; c <= 6; c += 1) {
      var r = Math.max(1, Math.ceil(numbers.length / c));
      var f = Math.min(room.w / c / 3.5, (room.h / r - window.innerHeight * 0.016) / 1.3,
        window.innerHeight * 0.044);
      if (f > font + 0.5) { font = f; cols = c; }
    }
    list.style.setProperty('--next-cols', cols);
    list.style.setProperty('--chip-font', Math.floor(font) + 'px');
    numbers.forEach(function (t) {
      var chip = el('div', 'next-number', t);
      chip.dataset.ticket = t;
      list.appendChild(chip);
    });
    if (!numbers.length) list.appendChild(el('div', 'empty-note', '暂无等候'));
    var noShows = $('no-show-list');
    noShows.textContent = '';
    s.no_shows.slice(0, 8).forEach(function (n) {
      var chip = el('div', 'no-show');
      chip.dataset.ticket = n.ticket;
      chip.appendChild(el('span', 'ticket', n.ticket));
      chip.appendChild(el('span', 'win', n.window + '号'));
      noShows.appendChild(chip);
    });
    noShows.style.setProperty('--chip-font', '3.6vh');
    if (!s.no_shows.length) noShows.appendChild(el('div', 'empty-note', '无'));
  }

  function renderItems(s) {
    var items = $('items');
    items.textContent = '';
    // Many items: a compact grid of name and count (two rows for 20).
    var many = s.items.length > 8;
    items.className = many ? 'many' : '';
    items.style.setProperty('--item-cols', Math.ceil(s.items.length / 2));
    s.items.forEach(function (i) {
      var chip = el('div', 'item');
      chip.dataset.item = i.code;
      if (many) {
        chip.appendChild(el('span', 'item-name', i.code + ' ' + i.name));
        chip.appendChild(el('b', '', String(i.waiting)));
      } else {
        chip.appendChild(document.createTextNode(i.name + '（' + i.code + '）等候 '));
        chip.appendChild(el('b', '', String(i.waiting)));
        chip.appendChild(document.createTextNode(' 人'));
      }
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
    var why = $('wt-reason');
    why.textContent = '';
    delete box.dataset.current;
    if (!w) {
      box.dataset.state = 'closed';
      ticket.textContent = '—';
      words.textContent = '没有这个窗口';
      return;
    }
    var look = windowLook(w);
    box.dataset.state = look[0];
    if (look[0] === 'paused' && w.current) {
      // Paused while its visitor is called or served: the ticket stays
      // the largest thing on the screen; the pause and its reason below.
      box.dataset.current = w.current;
      ticket.textContent = w.current;
      words.textContent = w.serving ? '正在办理' : '请' + w.current + '号到本窗口办理';
      why.textContent = pauseText(w);
    } else if (look[0] === 'paused') {
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
      if (!first && c.id > top && c.announce) say(c);
    });
    s.calls.forEach(function (c) { top = Math.max(top, c.id); });
    highestCallId = top;
  }

  /** Announces call `c` ({id, text}; no id: a notice of the page's own). */
  function say(c) {
    announced += 1;
    document.body.dataset.announced = announced;
    document.body.dataset.lastAnnouncement = c.text;
    if (!speakOn || voice.engine === 'off') return;
    if (voice.engine === 'espeak' && c.id) {
      clips.push({ src: 'announce.wav?call=' + c.id, text: c.text });
    } else {
      // The browser speaks (or espeak-ng failed): chime first, then words.
      clips.push({ src: voice.chime ? 'chime.wav' : null, text: c.text, browser: true });
    }
    playNext();
  }

  function speakInBrowser(text) {
    if (!('speechSynthesis' in window)) return;
    var times = repeatParam || voice.repeat || 1;
    for (var i = 0; i < times; i += 1) {
      var u = new SpeechSynthesisUtterance(text);
      u.lang = 'zh-CN';
      u.rate = 0.9;
      window.speechSynthesis.speak(u);
    }
  }

  /** Plays the waiting clips one after another (calls at several windows
      at once are said in turn, never over each other). */
  function playNext() {
    if (playing || !clips.length) return;
    var clip = clips.shift();
    var player = $('voice-player');
    var done = function () {
      player.onended = player.onerror = null;
      playing = false;
      if (clip.browser && voice.engine === 'browser') speakInBrowser(clip.text);
      playNext();
    };
    if (!clip.src) { done(); return; }
    playing = true;
    player.dataset.requested = Number(player.dataset.requested || 0) + 1;
    player.dataset.src = clip.src;
    player.onended = function () {
      player.dataset.played = Number(player.dataset.played || 0) + 1;
      done();
    };
    player.onerror = function () {
      player.dataset.error = clip.src;
      // espeak-ng failed for this call: at least the chime, so the hall
      // looks up at the board.
      if (!clip.browser && voice.chime) clips.unshift({ src: 'chime.wav', text: clip.text, browser: true });
      done();
    };
    player.src = clip.src;
    var started = player.play();
    if (started && started.catch) {
      started.catch(function (e) {
        // Autoplay refused (no click yet, no --autoplay-policy flag).
        player.dataset.error = String(e && e.name);
        done();
      });
    }
  }

  function loadVoice() {
    fetch('voice.json', { cache: 'no-store' }).then(function (r) { return r.json(); })
      .then(function (v) { voice = v; document.body.dataset.voice = v.engine; })
      .catch(function () { /* an older board process: keep the defaults */ });
  }

  function render(s) {
    state = s;
    if (s.hall) {
      $('hall-name').textContent = s.hall;
      document.title = s.hall + ' · 叫号显示屏';
    }
    announce(s);
    if (windowOnly === null) {
      // Sized first: the band is lower in a big hall, and the lists and
      // tiles below are laid out in what is left.
      document.body.dataset.windows = s.windows.length > 20 ? 'many' : 'few';
      renderCalls(s);
      renderLines(s);
      // The footer first: the windows get the height it leaves.
      renderItems(s);
      renderWindows(s);
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
    if (speakOn) say({ text: '语音播报已开启' });
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
  window.addEventListener('resize', function () { if (state && windowOnly === null) renderWindows(state); });
  loadVoice();
  showSpeak();
  tickClock();
  showLink();
  setInterval(watchdog, 1000);
  connect();
})();
