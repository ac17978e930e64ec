// The cws chat page: the browser's own WebSocket, no libraries.
// Wire format: docs/chat-protocol.md. Recovery: the page remembers the
// last sequence number it saw (sessionStorage, so a reload resumes) and
// reconnects with /ws?since=N; the server replays exactly what was missed.
'use strict';

const KEEP = 200;                       // messages cached for reloads
const SEQ_KEY = 'cws-chat.seq';
const LOG_KEY = 'cws-chat.log';
const NAME_KEY = 'cws-chat.name';

const $ = (id) => document.getElementById(id);
const list = $('messages');
const statusEl = $('status');
const input = $('input');
const nameInput = $('name');
const sendButton = $('send');

let ws = null;
let attempts = 0;                       // failed connects since the last success
let maxTextBytes = 4096;
let lastSeq = Number(sessionStorage.getItem(SEQ_KEY));
let haveSeq = sessionStorage.getItem(SEQ_KEY) !== null && Number.isSafeInteger(lastSeq);
let log = loadLog();

function loadLog() {
  try {
    const l = JSON.parse(sessionStorage.getItem(LOG_KEY) || '[]');
    return Array.isArray(l) ? l : [];
  } catch (e) {
    return [];
  }
}

function remember() {
  if (log.length > KEEP) log = log.slice(-KEEP);
  try {
    sessionStorage.setItem(SEQ_KEY, String(lastSeq));
    sessionStorage.setItem(LOG_KEY, JSON.stringify(log));
  } catch (e) { /* storage full or disabled: recovery still works in-page */ }
}

function setStatus(state, text) {
  statusEl.className = 'status ' + state;
  statusEl.textContent = text || state;
  sendButton.disabled = state !== 'online';
}

function timeText(ms) {
  const d = new Date(ms);
  return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

// Everything the server sends is shown with textContent, never as HTML.
function addLine(kind, parts, seq) {
  const nearBottom = list.parentElement.scrollHeight - list.parentElement.scrollTop
    - list.parentElement.clientHeight < 40;
  const li = document.createElement('li');
  li.className = kind;
  if (seq !== undefined) li.dataset.seq = String(seq);
  for (const [cls, text] of parts) {
    const span = document.createElement('span');
    span.className = cls;
    span.textContent = text;
    li.append(span);
  }
  list.append(li);
  if (nearBottom) li.scrollIntoView({ block: 'end' });
}

function showMessage(m) {
  addLine('message', [['time', timeText(m.time)], ['name', m.name], ['text', m.text]], m.seq);
}

function system(text) {
  addLine('system', [['text', text]]);
}

function handle(m) {
  switch (m.type) {
    case 'hello':
      maxTextBytes = m.max_text || maxTextBytes;
      $('online').textContent = m.online + ' online';
      break;
    case 'message':
      if (haveSeq && m.seq <= lastSeq) return;   // already shown
      lastSeq = m.seq;
      haveSeq = true;
      log.push(m);
      remember();
      showMessage(m);
      break;
    case 'synced':
      // Everything up to m.seq has been replayed; live traffic follows.
      lastSeq = Math.max(haveSeq ? lastSeq : 0, m.seq);
      haveSeq = true;
      remember();
      break;
    case 'notice':
      if (m.code === 'history_reset') {
        log = [];
        lastSeq = 0;
        list.replaceChildren();
        remember();
      }
      system(m.text);
      break;
    case 'join':
    case 'leave':
      $('online').textContent = m.online + ' online';
      system(m.name + (m.type === 'join' ? ' joined' : ' left'));
      break;
    case 'rename':
      system(m.from + ' is now called ' + m.name);
      break;
    case 'latency':
      $('latency').textContent = 'latency ' + m.ms + ' ms';
      break;
    case 'error':
      addLine('error', [['text', 'server: ' + m.text]]);
      break;
    default:
      break;                                  // newer server: ignore
  }
}

function url() {
  const params = new URLSearchParams();
  if (haveSeq) params.set('since', String(lastSeq));
  const name = nameInput.value.trim();
  if (name) params.set('name', name);
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const q = params.toString();
  return scheme + '//' + location.host + '/ws' + (q ? '?' + q : '');
}

function connect() {
  setStatus(attempts ? 'reconnecting' : 'connecting');
  ws = new WebSocket(url());
  ws.onopen = () => {
    if (attempts) system('reconnected');
    attempts = 0;
    setStatus('online');
  };
  ws.onmessage = (ev) => {
    let m;
    try { m = JSON.parse(ev.data); } catch (e) { return; }
    if (m && typeof m === 'object') handle(m);
  };
  ws.onclose = (ev) => {
    ws = null;
    attempts++;
    // Exponential backoff with jitter, so a restarted server is not hit
    // by every page at the same instant: 0.5 s, 1 s, 2 s ... up to 30 s,
    // each scaled by a random factor in [0.5, 1).
    const base = Math.min(30000, 500 * 2 ** Math.min(attempts - 1, 6));
    const delay = Math.round(base * (0.5 + Math.random() / 2));
    setStatus('reconnecting', 'reconnecting in ' + (delay / 1000).toFixed(1) + ' s');
    if (attempts === 1) system('connection lost' + (ev.reason ? ' (' + ev.reason + ')' : '') + '; reconnecting');
    setTimeout(connect, delay);
  };
}

$('composer').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const text = input.value;
  if (!ws || ws.readyState !== WebSocket.OPEN || !text.trim()) return;
  if (new TextEncoder().encode(text).length > maxTextBytes) {
    addLine('error', [['text', 'message too long (max ' + maxTextBytes + ' bytes)']]);
    return;
  }
  ws.send(JSON.stringify({ type: 'message', text }));
  input.value = '';
});

nameInput.value = localStorage.getItem(NAME_KEY) || '';
nameInput.addEventListener('change', () => {
  const name = nameInput.value.trim();
  localStorage.setItem(NAME_KEY, name);
  if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: 'name', name }));
});

for (const m of log) {
  if (m && typeof m.seq === 'number') showMessage(m);
}
connect();
