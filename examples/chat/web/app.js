// The cws chat page: the browser's own WebSocket, no libraries.
// Wire format: docs/chat-protocol.md. Recovery: the page remembers the
// last sequence number it saw and the history's epoch (sessionStorage, so
// a reload resumes) and reconnects with /ws?since=N&epoch=E; the server
// replays exactly what was missed, or, if its history lost seqs it had
// handed out (a new epoch), says history_reset and starts the page over.
// Lines are drawn in batches, once per animation frame, and only the last
// MAX_LINES stay on screen: a flood of messages or joins costs one DOM
// update per frame, not a layout per line. Posts wait in the outbox
// (outbox.js), shown as pending, until their id comes back stored; they
// are sent once the replay after a (re)connect is over (synced), so those
// stored meanwhile are recognised in it rather than sent again.
'use strict';

const KEEP = 200;                       // messages cached for reloads
const MAX_LINES = 500;                  // lines on screen; older ones are dropped
const SEQ_KEY = 'cws-chat.seq';
const EPOCH_KEY = 'cws-chat.epoch';
const EPOCH_FORMAT = /^[0-9a-f]{16}$/;  // anything else the server refuses (400)
const LOG_KEY = 'cws-chat.log';
const NAME_KEY = 'cws-chat.name';

const $ = (id) => document.getElementById(id);
const list = $('messages');
const statusEl = $('status');
const input = $('input');
const nameInput = $('name');
const scroller = list.parentElement;    // <main>, the box that scrolls

let ws = null;
let synced = false;                     // ws has replayed what we missed: posts may go
let retryTimer = null;                  // resending after rate_limited
let attempts = 0;                       // failed connects since the last success
let maxTextBytes = 4096;
let maxNameBytes = 32;                  // the server counts bytes of UTF-8, not characters
let myName = '';                        // the name asked for when connecting
let nameless = false;                   // retrying without the name (see onclose)
let probing = false;                    // the name was sent in a message after such a retry
let pending = [];                       // lines waiting for the next frame
let online = null;                      // people online, shown at the next frame
let dirty = false;                      // sessionStorage to update at the next frame
let frameAsked = false;
let stuck = true;                       // the user is at the bottom: follow new lines
let lastSeq = Number(sessionStorage.getItem(SEQ_KEY));
let haveSeq = sessionStorage.getItem(SEQ_KEY) !== null && Number.isSafeInteger(lastSeq);
let epoch = sessionStorage.getItem(EPOCH_KEY);   // lastSeq and log belong to it
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
  dirty = false;
  if (log.length > KEEP) log = log.slice(-KEEP);
  try {
    sessionStorage.setItem(SEQ_KEY, String(lastSeq));
    if (epoch) sessionStorage.setItem(EPOCH_KEY, epoch);
    else sessionStorage.removeItem(EPOCH_KEY);
    sessionStorage.setItem(LOG_KEY, JSON.stringify(log));
  } catch (e) { /* storage full or disabled: recovery still works in-page */ }
}

function setStatus(state, text) {
  statusEl.className = 'status ' + state;
  statusEl.textContent = text || state;
}

function timeText(ms) {
  const d = new Date(ms);
  return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

function schedule() {
  if (!frameAsked) requestAnimationFrame(flush);
  frameAsked = true;
}

// A line to draw at the next frame. A hidden tab draws no frames, so the
// queue is cut to the lines that would stay on screen anyway.
function queue(p) {
  pending.push(p);
  if (pending.length > 2 * MAX_LINES) pending = pending.slice(-MAX_LINES);
  schedule();
}

function addLine(kind, parts, seq) {
  queue({ kind, parts, seq });
}

// The server sends joins and leaves in batches, a few a second at most.
// Each batch is one line, and batches not drawn yet (a hidden tab draws no
// frames) share it: up to three people are named, more are counted.
function presence(m) {
  const joined = Array.isArray(m.joined) ? m.joined : [];
  const left = Array.isArray(m.left) ? m.left : [];
  let p = pending[pending.length - 1];
  if (!p || !p.presence) {
    p = { kind: 'system presence', presence: true, joined: [], left: [], joinedCount: 0, leftCount: 0 };
    queue(p);
  }
  p.joined.push(...joined.slice(0, 3 - p.joined.length));
  p.left.push(...left.slice(0, 3 - p.left.length));
  p.joinedCount += joined.length + (m.more_joined || 0);
  p.leftCount += left.length + (m.more_left || 0);
  p.online = m.online;
}

// "alice", "alice and bob", "alice, bob and carol", "alice, bob and 5 others".
function who(names, count) {
  if (count > names.length) {
    const shown = names.slice(0, 2);
    const others = count - shown.length;
    if (!shown.length) return count + ' people';
    return shown.join(', ') + ' and ' + others + (others === 1 ? ' other' : ' others');
  }
  if (names.length === 1) return names[0];
  return names.slice(0, -1).join(', ') + ' and ' + names[names.length - 1];
}

function presenceText(p) {
  const parts = [];
  if (p.joinedCount) parts.push(who(p.joined, p.joinedCount) + ' joined');
  if (p.leftCount) parts.push(who(p.left, p.leftCount) + ' left');
  parts.push(p.online + ' online');
  return parts.join('; ');
}

// Everything the server sends is shown with textContent, never as HTML.
function lineElement(p) {
  let parts = p.parts;
  if (p.presence) parts = [['text', presenceText(p)]];
  const li = document.createElement('li');
  li.className = p.kind;
  if (p.seq !== undefined) li.dataset.seq = String(p.seq);
  if (p.post !== undefined) li.dataset.post = p.post;
  for (const [cls, text] of parts) {
    const span = document.createElement('span');
    span.className = cls;
    span.textContent = text;
    li.append(span);
  }
  return li;
}

// One DOM update per frame: the new lines in one fragment, the oldest
// beyond MAX_LINES removed, one scroll if the user was at the bottom.
function flush() {
  frameAsked = false;
  if (pending.length) {
    const frag = document.createDocumentFragment();
    for (const p of pending) frag.append(lineElement(p));
    pending = [];
    list.append(frag);
    for (let n = list.childElementCount - MAX_LINES; n > 0; n--) list.firstElementChild.remove();
    if (stuck) scroller.scrollTop = scroller.scrollHeight;
  }
  if (online !== null) $('online').textContent = online + ' online';
  if (dirty) remember();
}

scroller.addEventListener('scroll', () => {
  stuck = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 40;
}, { passive: true });

function showOnline(n) {
  online = n;
  schedule();
}

function save() {
  dirty = true;
  schedule();
}

function showMessage(m) {
  addLine('message', [['time', timeText(m.time)], ['name', m.name], ['text', m.text]], m.seq);
}

function showPending(post) {
  addLine('pending', [['time', 'sending'], ['name', myName || 'you'], ['text', post.text]]);
  pending[pending.length - 1].post = post.id;
}

// Our post came back stored: its pending line gives way to the message.
function acknowledged(id) {
  if (!outbox.done(id)) return;
  pending = pending.filter((p) => p.post !== id);
  for (const li of list.querySelectorAll('li.pending')) {
    if (li.dataset.post === id) li.remove();
  }
}

// Sends every post still waiting. Always safe: a post the server already
// stored is answered with the stored message, not stored again.
function sendOutbox() {
  if (!ws || ws.readyState !== WebSocket.OPEN || !synced) return;
  for (const post of outbox.all()) ws.send(JSON.stringify({ type: 'message', text: post.text, id: post.id }));
}

function system(text) {
  addLine('system', [['text', text]]);
}

// What the page shows and keeps is of a history the server no longer
// has: its seqs may now mean other messages.
function forgetHistory() {
  log = [];
  lastSeq = 0;
  pending = [];
  list.replaceChildren();
  for (const post of outbox.all()) showPending(post);
  save();
}

function handle(m) {
  switch (m.type) {
    case 'hello': {
      maxTextBytes = m.max_text || maxTextBytes;
      maxNameBytes = m.max_name || maxNameBytes;
      showOnline(m.online);
      const was = epoch;
      epoch = typeof m.epoch === 'string' ? m.epoch : null;
      // history_reset follows; forgetting now as well means the seq and
      // log saved with the new epoch are never the old ones.
      if (was && epoch && epoch !== was) forgetHistory();
      save();
      break;
    }
    case 'message':
      if (typeof m.id === 'string') acknowledged(m.id);
      if (haveSeq && m.seq <= lastSeq) return;   // already shown
      lastSeq = m.seq;
      haveSeq = true;
      log.push(m);
      if (log.length > 2 * KEEP) log = log.slice(-KEEP);
      save();
      showMessage(m);
      break;
    case 'synced':
      // Everything up to m.seq has been replayed; live traffic follows.
      lastSeq = Math.max(haveSeq ? lastSeq : 0, m.seq);
      haveSeq = true;
      save();
      if (typeof m.online === 'number') showOnline(m.online);
      synced = true;
      sendOutbox();                           // what the replay did not acknowledge
      break;
    case 'notice':
      if (m.code === 'history_reset') forgetHistory();
      system(m.text);
      break;
    case 'presence':
      showOnline(m.online);
      presence(m);
      break;
    case 'rename':
      system(m.from + ' is now called ' + m.name);
      break;
    case 'latency':
      $('latency').textContent = 'latency ' + m.ms + ' ms';
      break;
    case 'error':
      if (m.code === 'bad_name' && probing) {
        forgetName('the server refused your name "' + myName + '" (' + m.text + ')');
        break;
      }
      if (m.code === 'rate_limited' && !retryTimer) {
        retryTimer = setTimeout(() => { retryTimer = null; sendOutbox(); }, 1500);
        break;                                // still pending: it goes again shortly
      }
      addLine('error', [['text', 'server: ' + m.text]]);
      break;
    default:
      break;                                  // newer server: ignore
  }
}

// Why the server would refuse a name (its rules: docs/chat-protocol.md), or null.
function nameProblem(name) {
  const bytes = new TextEncoder().encode(name).length;
  if (bytes > maxNameBytes) return 'it is ' + bytes + ' bytes in UTF-8, the server allows ' + maxNameBytes;
  if (/[\u0000-\u001f\u007f]/.test(name)) return 'it contains control characters';
  return null;
}

function forgetName(why) {
  addLine('error', [['text', why + '; you are connected without a name']]);
  myName = '';
  nameInput.value = '';
  localStorage.removeItem(NAME_KEY);
  probing = false;
}

function url(name) {
  const params = new URLSearchParams();
  if (haveSeq) params.set('since', String(lastSeq));
  if (haveSeq && EPOCH_FORMAT.test(epoch || '')) params.set('epoch', epoch);
  if (name) params.set('name', name);
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const q = params.toString();
  return scheme + '//' + location.host + '/ws' + (q ? '?' + q : '');
}

function connect() {
  setStatus(attempts ? 'reconnecting' : 'connecting');
  const name = nameless ? '' : myName;
  let opened = false;
  synced = false;
  ws = new WebSocket(url(name));
  ws.onopen = () => {
    opened = true;
    if (attempts) system('reconnected');
    attempts = 0;
    setStatus('online');
    if (nameless && myName) {
      // Ask for the name in a message: a refusal now comes with a reason.
      probing = true;
      ws.send(JSON.stringify({ type: 'name', name: myName }));
    }
    nameless = false;
  };
  ws.onmessage = (ev) => {
    let m;
    try { m = JSON.parse(ev.data); } catch (e) { return; }
    if (m && typeof m === 'object') handle(m);
  };
  ws.onclose = (ev) => {
    ws = null;
    synced = false;
    // Closed before opening while asking for a name: the server may have
    // refused the handshake over the name (HTTP 400, which the browser
    // does not show to the page). Retry at once, once, without it.
    if (!opened && name) {
      nameless = true;
      connect();
      return;
    }
    nameless = false;
    probing = false;
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
  if (!text.trim()) return;
  if (new TextEncoder().encode(text).length > maxTextBytes) {
    addLine('error', [['text', 'message too long (max ' + maxTextBytes + ' bytes)']]);
    return;
  }
  // The server refuses them; a refused post would wait forever.
  if (/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/.test(text)) {
    addLine('error', [['text', 'message not sent: it contains control characters']]);
    return;
  }
  if (outbox.full()) {
    addLine('error', [['text', 'too many messages waiting to be sent; wait until you are back online']]);
    return;
  }
  // Kept before it is sent: offline, or if the answer is lost, it goes
  // again after the next synced.
  const post = outbox.add(text);
  showPending(post);
  if (ws && ws.readyState === WebSocket.OPEN && synced) {
    ws.send(JSON.stringify({ type: 'message', text, id: post.id }));
  }
  input.value = '';
});

// A name is checked as the server would, before it is sent or stored.
nameInput.addEventListener('input', () => {
  nameInput.setAttribute('aria-invalid', String(!!nameProblem(nameInput.value.trim())));
});
nameInput.addEventListener('change', () => {
  const name = nameInput.value.trim();
  const problem = nameProblem(name);
  if (problem) {
    addLine('error', [['text', 'name not changed: ' + problem]]);
    return;
  }
  myName = name;
  localStorage.setItem(NAME_KEY, name);
  probing = false;
  if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: 'name', name }));
});

myName = (localStorage.getItem(NAME_KEY) || '').trim();
nameInput.value = myName;
if (nameProblem(myName)) forgetName('your saved name "' + myName + '" was not used: ' + nameProblem(myName));

for (const m of log) {
  if (m && typeof m.seq === 'number') showMessage(m);
}
for (const post of outbox.all()) showPending(post);
connect();
