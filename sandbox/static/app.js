// The dingrecall sandbox page: fake DingTalk chats read from
// GET /sandbox/api/state every half second. People post through
// POST /sandbox/api/say (a signed callback to /dingtalk/callback, or in stream
// mode a frame on the fake's Stream connection) and the bot
// through POST /sandbox/api/bot (/api/v1/messages). No library, no build step.
(function () {
  'use strict';

  var POLL_MS = 500;
  var panels = new Map(); // chat id -> {root, list, status, sig}
  var people = [];
  var botName = 'dingrecall';
  var via = 'http'; // how typed messages reach the app: http or stream
  var maxCount = 50; // the most posts one "Bot posts" sends
  var alertChat = ''; // conversation of the Alertmanager route, '' without one
  var clickable = false; // the app's Stream connection for card clicks is up
  var applied = 0; // sequence of the newest state shown
  var requested = 0;

  // el builds an element; text children become text nodes, never HTML.
  function el(tag, attrs) {
    var e = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        var v = attrs[k];
        if (v === null || v === undefined || v === false) return;
        if (k === 'class') e.className = v;
        else if (k === 'text') e.textContent = v;
        else if (k === 'bg') e.style.background = v; // CSSOM: allowed by the page's CSP
        else if (k.slice(0, 5) === 'data-') e.setAttribute(k, String(v));
        else if (k in e && typeof v !== 'string') e[k] = v;
        else e.setAttribute(k, v === true ? '' : String(v));
      });
    }
    for (var i = 2; i < arguments.length; i++) {
      var c = arguments[i];
      if (c === null || c === undefined || c === false) continue;
      e.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
    }
    return e;
  }

  function initials(name) {
    var parts = String(name).replace(/[^A-Za-z0-9\u00C0-\uFFFF]+/g, ' ').trim().split(' ');
    var s = parts.length > 1 ? parts[0][0] + parts[1][0] : String(name).slice(0, 2);
    return s.toUpperCase();
  }

  function hue(s) {
    var h = 0;
    for (var i = 0; i < s.length; i++) h = (h * 31 + s.charCodeAt(i)) % 360;
    return h;
  }

  function clock(iso) {
    var d = new Date(iso);
    if (isNaN(d)) return '';
    return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
  }

  function postJSON(path, body) {
    return fetch(path, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body)
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (data) {
        return { status: r.status, data: data };
      });
    });
  }

  function errorText(res) {
    var e = res.data && res.data.error;
    return (e && e.message) || ('HTTP ' + res.status);
  }

  function setStatus(panel, text, kind) {
    panel.status.textContent = text;
    panel.status.setAttribute('data-kind', kind || 'info');
  }

  // buildPanel makes the column of one chat: header, message list, composer.
  function buildPanel(chat) {
    var id = chat.id;
    var isOTO = chat.kind === 'oto';
    var userSelect = el('select', { name: 'user', id: 'say-' + id + '-user', 'aria-label': 'post as' });
    people.forEach(function (p) {
      if (isOTO && p.id !== chat.owner) return;
      userSelect.appendChild(el('option', { value: p.id, text: p.nick + ' (' + p.id + ', ' + p.note + ')' }));
    });
    if (isOTO && !userSelect.options.length) {
      userSelect.appendChild(el('option', { value: chat.owner, text: chat.owner }));
    }
    if (!isOTO) userSelect.value = 'oncall';
    var adminBox = el('input', { type: 'checkbox', name: 'groupAdmin', id: 'say-' + id + '-admin' });
    var sayText = el('input', {
      type: 'text', name: 'text', id: 'say-' + id + '-text', autocomplete: 'off', maxlength: '2000',
      placeholder: isOTO ? 'Write to the bot, e.g. recall 2 in ops-alerts' : 'Message @' + botName + ', e.g. recall 3'
    });
    var quick = el('div', { class: 'quick' });
    (chat.suggestions || []).forEach(function (s) {
      quick.appendChild(el('button', { type: 'button', class: 'chip', 'data-fill': s, text: s }));
    });
    quick.addEventListener('click', function (ev) {
      var b = ev.target.closest('button[data-fill]');
      if (!b) return;
      sayText.value = b.getAttribute('data-fill');
      sayText.focus();
    });
    var quoteText = el('span', { class: 'quoting-text', id: 'say-' + id + '-quote-text' });
    var unquote = el('button', { type: 'button', class: 'unquote', id: 'say-' + id + '-unquote', title: 'do not quote', 'aria-label': 'do not quote', text: '×' });
    var quoteBar = el('div', { class: 'quoting', id: 'say-' + id + '-quote', hidden: true }, el('span', { class: 'quoting-label', text: 'Quoting' }), quoteText, unquote);
    var sayForm = el('form', { class: 'say', id: 'say-' + id, 'data-chat': id },
      quoteBar,
      el('div', { class: 'row who' },
        el('label', null, 'as ', userSelect),
        isOTO ? el('span', { class: 'hint', text: 'one-to-one: no @ needed' })
          : el('label', { class: 'check' }, adminBox, ' group admin')),
      quick,
      el('div', { class: 'row' }, sayText, el('button', { type: 'submit', class: 'primary', id: 'say-' + id + '-send', text: 'Send' })));

    var botText = el('input', { type: 'text', name: 'text', id: 'bot-' + id + '-text', value: chat.sample || '', autocomplete: 'off', maxlength: '2000', 'aria-label': 'bot message' });
    var botCount = el('input', { type: 'number', name: 'count', id: 'bot-' + id + '-count', min: '1', max: String(maxCount), value: '1', 'aria-label': 'how many' });
    var botTTL = el('input', { type: 'text', name: 'ttl', id: 'bot-' + id + '-ttl', placeholder: 'ttl', autocomplete: 'off', 'aria-label': 'ttl, e.g. 30s', title: 'recall automatically after this, e.g. 30s (optional)' });
    var botCard = el('input', { type: 'checkbox', name: 'card', id: 'bot-' + id + '-card' });
    var botForm = el('form', { class: 'post', id: 'bot-' + id, 'data-chat': id },
      el('span', { class: 'label', text: 'Bot posts' }), botText,
      el('span', { class: 'times', text: '×' }), botCount, botTTL,
      el('label', { class: 'check', title: 'an interactive card with a Recall button' }, botCard, ' card'),
      el('button', { type: 'submit', id: 'bot-' + id + '-send', text: 'Post via API' }));

    var alertForm = null;
    if (alertChat && chat.conversationId === alertChat) {
      alertForm = el('form', { class: 'post alerts', id: 'alert-' + id, 'data-chat': id },
        el('span', { class: 'label', text: 'Alertmanager' }),
        el('button', { type: 'submit', id: 'alert-' + id + '-fire', value: 'fire', text: 'Fire sample alert' }),
        el('button', { type: 'submit', id: 'alert-' + id + '-resolve', value: 'resolve', text: 'Resolve' }),
        el('span', { class: 'hint', id: 'alert-' + id + '-firing', text: '' }));
    }

    var list = el('ol', { class: 'messages', id: 'messages-' + id, 'data-chat': id });
    var status = el('p', { class: 'status', id: 'status-' + id, role: 'status' });
    var sub = isOTO ? 'one-to-one · ' + chat.owner : (chat.kind + ' · ' + chat.conversationId);
    var root = el('section', { class: 'chat', id: 'chat-' + id, 'data-chat': id, 'data-kind': chat.kind },
      el('header', { class: 'chat-head' },
        el('span', { class: 'avatar ' + (isOTO ? 'person' : 'group'), bg: 'hsl(' + hue(chat.title) + ',55%,52%)', text: initials(chat.title) }),
        el('div', { class: 'titles' }, el('h2', { text: chat.title }), el('p', { class: 'sub', text: sub })),
        el('span', { class: 'count', id: 'count-' + id })),
      list,
      el('div', { class: 'composer' }, sayForm, botForm, alertForm, status));
    var panel = { root: root, list: list, status: status, sig: '', count: root.querySelector('.count'),
      firing: alertForm ? alertForm.querySelector('.hint') : null, messages: {}, quote: null };

    // setQuote makes the next message quote m (or, for null, nothing), as
    // DingTalk's "reply" does.
    function setQuote(m) {
      panel.quote = m;
      quoteBar.hidden = !m;
      quoteBar.setAttribute('data-quote', m ? m.id : '');
      quoteText.textContent = m ? (m.from === 'bot' ? botName : m.nick) + ': ' + m.text : '';
      if (m) sayText.focus();
    }
    unquote.addEventListener('click', function () { setQuote(null); });
    list.addEventListener('click', function (ev) {
      var b = ev.target.closest('button[data-quote]');
      if (!b) return;
      var m = panel.messages[b.getAttribute('data-quote')];
      if (m) setQuote(m);
    });

    sayForm.addEventListener('submit', function (ev) {
      ev.preventDefault();
      var text = sayText.value.trim();
      if (!text) return;
      var send = sayForm.querySelector('button[type=submit]');
      send.disabled = true;
      setStatus(panel, via === 'stream' ? 'pushing a callback over the Stream connection…' : 'sending a signed callback…', 'info');
      var body = { chat: id, user: userSelect.value, groupAdmin: !isOTO && adminBox.checked, text: text };
      if (panel.quote) body.quote = panel.quote.id;
      postJSON('/sandbox/api/say', body)
        .then(function (res) {
          if (res.status !== 200) {
            setStatus(panel, 'not sent: ' + errorText(res), 'error');
          } else if (res.data.callbackStatus !== 200) {
            setStatus(panel, deliveredText(res.data) + ': ' + (res.data.callbackError || ''), 'error');
          } else {
            sayText.value = '';
            setQuote(null);
            setStatus(panel, deliveredText(res.data) + ' (msgId ' + res.data.msgId + ')', 'ok');
          }
          refresh();
        })
        .catch(function (e) { setStatus(panel, 'not sent: ' + e, 'error'); })
        .then(function () { send.disabled = false; });
    });
    botForm.addEventListener('submit', function (ev) {
      ev.preventDefault();
      var text = botText.value.trim();
      if (!text) return;
      var send = botForm.querySelector('button[type=submit]');
      send.disabled = true;
      setStatus(panel, 'posting through /api/v1/messages…', 'info');
      var body = { chat: id, text: text, count: parseInt(botCount.value, 10) || 1, card: botCard.checked };
      if (botTTL.value.trim()) body.ttl = botTTL.value.trim();
      postJSON('/sandbox/api/bot', body)
        .then(function (res) {
          if (res.status !== 200) setStatus(panel, errorText(res), 'error');
          else setStatus(panel, '/api/v1/messages accepted ' + res.data.sent + (res.data.sent === 1 ? ' message' : ' messages'), 'ok');
          refresh();
        })
        .catch(function (e) { setStatus(panel, 'not posted: ' + e, 'error'); })
        .then(function () { send.disabled = false; });
    });
    // A card's button: the person chosen above clicks it; the fake DingTalk
    // pushes the click to the app over its Stream connection.
    list.addEventListener('click', function (ev) {
      var b = ev.target.closest('button.card-btn');
      if (!b) return;
      b.disabled = true;
      setStatus(panel, userSelect.value + ' taps ' + b.textContent + '…', 'info');
      postJSON('/sandbox/api/click', { chat: id, key: b.getAttribute('data-key'), user: userSelect.value, action: b.getAttribute('data-action') })
        .then(function (res) {
          if (res.status !== 200) setStatus(panel, 'not clicked: ' + errorText(res), 'error');
          else setStatus(panel, 'click pushed over the Stream connection; the app acknowledged ' + (res.data.callbackStatus || 'nothing yet'), res.data.callbackStatus === 200 ? 'ok' : 'error');
          refresh();
        })
        .catch(function (e) { setStatus(panel, 'not clicked: ' + e, 'error'); })
        .then(function () { b.disabled = false; });
    });
    if (alertForm) {
      alertForm.addEventListener('submit', function (ev) {
        ev.preventDefault();
        var action = (ev.submitter && ev.submitter.value) || 'fire';
        var buttons = alertForm.querySelectorAll('button');
        buttons.forEach(function (b) { b.disabled = true; });
        setStatus(panel, 'posting an Alertmanager notification to /alertmanager/…', 'info');
        postJSON('/sandbox/api/alert', { action: action })
          .then(function (res) {
            if (res.status !== 200) {
              setStatus(panel, errorText(res), 'error');
            } else {
              setStatus(panel, alertText(action, res.data), 'ok');
              panel.firing.textContent = res.data.firing + ' firing';
            }
            refresh();
          })
          .catch(function (e) { setStatus(panel, 'not posted: ' + e, 'error'); })
          .then(function () { buttons.forEach(function (b) { b.disabled = false; }); });
      });
    }
    return panel;
  }

  // alertText says what an Alertmanager notification did.
  function alertText(action, d) {
    var r = d.result || {};
    if (r.retry) return 'the same notification again within ALERT_RETRY_WINDOW: a retry, nothing posted again';
    var parts = [];
    if (r.recalled && r.recalled.length) parts.push('recalled ' + r.recalled.length + ' earlier message' + (r.recalled.length === 1 ? '' : 's'));
    if (r.processQueryKey) parts.push('posted the group\'s current message');
    if (r.noticeKey) parts.push('posted a resolved notice (recalled after its TTL)');
    return (action === 'fire' ? 'fired: ' : 'resolved: ') + (parts.join(', ') || 'nothing to do');
  }

  // bubble renders one message.
  function bubble(m) {
    var isBot = m.from === 'bot';
    var attrs = {
      class: 'msg ' + (isBot ? 'from-bot' : 'from-user') + (m.recalled ? ' recalled' : ''),
      id: 'msg-' + m.id, 'data-id': m.id, 'data-from': m.from
    };
    if (isBot) {
      attrs['data-key'] = m.key;
      attrs['data-recalled'] = m.recalled ? 'true' : 'false';
    } else {
      attrs['data-user'] = m.user;
      attrs['data-callback'] = String(m.callbackStatus || 0);
      attrs['data-reactions'] = (m.reactions || []).join(' ');
      if (m.quote) attrs['data-quote-of'] = m.quote.id;
    }
    var name = isBot ? botName : m.nick;
    var avatar = el('span', { class: 'avatar ' + (isBot ? 'bot' : 'person'), text: isBot ? 'DR' : initials(name) });
    if (!isBot) avatar.style.background = 'hsl(' + hue(m.user) + ',55%,50%)';
    var meta = el('div', { class: 'meta' },
      el('span', { class: 'nick', text: name }),
      isBot ? el('span', { class: 'badge bot', text: 'bot' }) : el('span', { class: 'staff', text: m.user }),
      m.groupAdmin ? el('span', { class: 'badge admin', text: 'group admin' }) : null,
      el('time', { datetime: m.at, text: clock(m.at) }),
      m.recalled ? null : el('button', { type: 'button', class: 'quote-btn', id: 'quote-' + m.id, 'data-quote': m.id, title: 'quote this message in your next one, as DingTalk\'s reply does', text: '↩ quote' }));
    var content = el('div', { class: 'bubble' + (m.card ? ' card' : '') },
      m.quote ? el('div', { class: 'quoted' }, el('span', { class: 'quoted-nick', text: m.quote.nick }), el('span', { class: 'quoted-text', text: m.quote.text })) : null,
      m.title && m.title !== m.text ? el('strong', { class: 'title', text: m.title }) : null,
      m.card ? struck(m.text) : el('div', { class: 'text', text: m.text }),
      m.card && !m.recalled && m.card.buttons.length ? cardButtons(m) : null);
    var reactions = null;
    if (!isBot && m.reactions && m.reactions.length) {
      reactions = el('div', { class: 'reactions', title: 'reactions the bot put on this message' });
      m.reactions.forEach(function (r) { reactions.appendChild(el('span', { class: 'reaction', text: r })); });
    }
    var notes = null;
    if (isBot && m.recalled) {
      notes = el('div', { class: 'note recalled-label', text: 'recalled' + (m.recalledAt ? ' at ' + clock(m.recalledAt) : '') });
    } else if (!isBot && !m.callbackStatus && !m.callbackError) {
      notes = el('div', { class: 'note pending', text: 'sending…' });
    } else if (!isBot && m.callbackStatus !== 200) {
      notes = el('div', { class: 'note error', text: 'callback ' + (m.callbackStatus || 'failed') + (m.callbackError ? ': ' + m.callbackError : '') });
    }
    return el('li', attrs, avatar, el('div', { class: 'body' }, meta, content, reactions, notes));
  }

  // struck renders a card's text, ~~struck through~~ parts as <s>.
  function struck(text) {
    var d = el('div', { class: 'text' });
    String(text).split('~~').forEach(function (part, i) {
      d.appendChild(i % 2 ? el('s', { text: part }) : document.createTextNode(part));
    });
    return d;
  }

  // cardButtons renders a card's buttons.
  function cardButtons(m) {
    var row = el('div', { class: 'card-buttons' });
    m.card.buttons.forEach(function (b) {
      row.appendChild(el('button', { type: 'button', class: 'card-btn', 'data-action': b.action, 'data-key': m.key,
        id: 'card-' + m.key + '-' + b.action, text: b.text, disabled: !clickable,
        title: clickable ? null : 'clicks travel over the app\'s Stream connection, which is not up yet' }));
    });
    return row;
  }

  function renderMessages(panel, chat) {
    var sig = clickable + JSON.stringify(chat.messages);
    if (sig === panel.sig) return;
    panel.sig = sig;
    var list = panel.list;
    var atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    var frag = document.createDocumentFragment();
    if (!chat.messages.length) {
      frag.appendChild(el('li', { class: 'empty', text: 'No messages yet. Make the bot post something, then recall it.' }));
    }
    panel.messages = {};
    chat.messages.forEach(function (m) {
      panel.messages[m.id] = m;
      frag.appendChild(bubble(m));
    });
    list.replaceChildren(frag);
    var bots = chat.messages.filter(function (m) { return m.from === 'bot'; });
    var live = bots.filter(function (m) { return !m.recalled; }).length;
    panel.count.textContent = bots.length ? live + ' live · ' + (bots.length - live) + ' recalled' : '';
    if (atBottom) list.scrollTop = list.scrollHeight;
  }

  function renderPeople() {
    var p = document.getElementById('people');
    p.replaceChildren(el('span', { class: 'label', text: 'People (default settings): ' }));
    people.forEach(function (x) {
      p.appendChild(el('span', { class: 'person' },
        el('span', { class: 'dot', bg: 'hsl(' + hue(x.id) + ',55%,50%)' }),
        el('b', { text: x.id }), ' ' + x.note));
    });
    p.appendChild(el('span', { class: 'person' }, 'any group admin (tick “group admin”) may recall in that group'));
  }

  // deliveredText says how a typed message reached the app and what it answered.
  function deliveredText(d) {
    if (d.via === 'stream') {
      return d.callbackStatus ? 'pushed over the Stream connection; the app acknowledged ' + d.callbackStatus
        : 'pushed over the Stream connection; no acknowledgement yet';
    }
    return '/dingtalk/callback answered ' + d.callbackStatus;
  }

  function apply(state) {
    if (state.botName) botName = state.botName;
    if (state.maxCount) maxCount = state.maxCount;
    if (state.alertChat) alertChat = state.alertChat;
    clickable = !!state.clickable;
    if (state.via && state.via !== via) {
      via = state.via;
      var how = document.getElementById('send-how');
      if (how && via === 'stream') how.textContent = 'pushes the callback over the fake DingTalk\'s Stream mode connection (CALLBACK_MODE=stream)';
    }
    if (!people.length && state.people) {
      people = state.people;
      renderPeople();
    }
    var main = document.getElementById('chats');
    state.chats.forEach(function (chat) {
      var panel = panels.get(chat.id);
      if (!panel) {
        panel = buildPanel(chat);
        panels.set(chat.id, panel);
        main.appendChild(panel.root);
      }
      renderMessages(panel, chat);
      if (panel.firing) panel.firing.textContent = state.alertsFiring ? state.alertsFiring + ' firing' : '';
    });
    document.body.setAttribute('data-ready', 'true');
  }

  function setConn(live) {
    var c = document.getElementById('conn');
    c.setAttribute('data-live', live ? 'true' : 'false');
    c.textContent = live ? 'live' : 'app not answering';
  }

  // refresh fetches the state once; an answer older than one already shown
  // is dropped.
  function refresh() {
    var seq = ++requested;
    return fetch('/sandbox/api/state', { cache: 'no-store' })
      .then(function (r) {
        if (!r.ok) throw new Error('HTTP ' + r.status);
        return r.json();
      })
      .then(function (state) {
        if (seq < applied) return;
        applied = seq;
        apply(state);
        setConn(true);
      })
      .catch(function () { setConn(false); });
  }

  function loop() {
    refresh().then(function () { setTimeout(loop, POLL_MS); });
  }

  loop();
})();
