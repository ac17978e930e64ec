// Cross-site WebSocket hijacking in a real browser (headless Chromium
// driven by playwright-core): the chat's own page connects and posts a
// secret; a page of another origin (another port, served by a tiny
// server here) and about:blank (Origin: null) open the chat's WebSocket
// and get HTTP 403 — onerror, onclose 1006, no message ever, so the
// history does not leak. With --allow-origin naming the other page it
// connects and reads the history.
'use strict';
const assert = require('assert');
const fs = require('fs');
const http = require('http');
const os = require('os');
const path = require('path');
const { chromium } = require('playwright-core');
const { CHAT, CHROMIUM, STEP, startChat, serverLog, stopChat, removeDir, runTest } = require('./lib/chat_process');

const SECRET = 'the launch code is 0000';

// What a page's script does with new WebSocket(url): every event, in order.
function probe(url) {
  return new Promise((resolve) => {
    const events = [];
    const ws = new WebSocket(url);
    const timer = setTimeout(() => resolve({ events, timedOut: true }), 10000);
    ws.onopen = () => events.push('open');
    ws.onerror = () => events.push('error');
    ws.onmessage = (e) => events.push('message ' + e.data);
    ws.onclose = (e) => {
      events.push('close ' + e.code);
      clearTimeout(timer);
      resolve({ events });
    };
    // Once the greeting is in, the history has been sent (or not).
    ws.addEventListener('message', (e) => { if (/"synced"/.test(e.data)) ws.close(); });
  });
}

// Another origin: a page on a second port of the same host.
function startOtherSite() {
  return new Promise((resolve) => {
    const srv = http.createServer((req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
      res.end('<!doctype html><title>another site</title><p>not the chat</p>');
    });
    srv.listen(0, '127.0.0.1', () => resolve(srv));
  });
}

async function probeFrom(page, chatPort) {
  return page.evaluate(`(${probe})('ws://127.0.0.1:${chatPort}/ws')`);
}

function assertRefused(result, who) {
  assert.ok(!result.timedOut, `${who}: no close within 10 s: ${JSON.stringify(result)}`);
  assert.deepStrictEqual(result.events, ['error', 'close 1006'], `${who}: ${JSON.stringify(result)}`);
}

async function main() {
  if (!fs.existsSync(CHAT)) throw new Error(`missing ${CHAT}: build it first`);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cws-chat-origin-'));
  const other = await startOtherSite();
  const otherOrigin = `http://127.0.0.1:${other.address().port}`;
  const chat = await startChat({ history: path.join(tmp, 'history.log') });
  let open = null; // cws-chat --allow-origin otherOrigin
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    // The chat's own page still connects, and leaves a secret in the history.
    const own = await (await browser.newContext()).newPage();
    await own.goto(`http://127.0.0.1:${chat.port}/`);
    await own.waitForSelector('#status.online', { timeout: STEP });
    await own.fill('#input', SECRET);
    await own.click('#send');
    await own.waitForFunction((t) => [...document.querySelectorAll('#messages li.message .text')]
      .some((e) => e.textContent === t), SECRET, { timeout: STEP });
    const ownProbe = await probeFrom(own, chat.port);
    assert.ok(ownProbe.events.some((e) => e.includes(SECRET)), `own page: ${JSON.stringify(ownProbe)}`);

    // A page of another site: the handshake is refused (Chromium logs the 403).
    const evil = await (await browser.newContext()).newPage();
    const consoleLines = [];
    evil.on('console', (m) => consoleLines.push(m.text()));
    await evil.goto(otherOrigin + '/');
    assertRefused(await probeFrom(evil, chat.port), 'page of ' + otherOrigin);
    assert.ok(consoleLines.some((l) => /\b403\b/.test(l)), `no 403 in the console: ${JSON.stringify(consoleLines)}`);

    // about:blank has an opaque origin: Origin: null, refused as well.
    const blank = await (await browser.newContext()).newPage();
    await blank.goto('about:blank');
    assertRefused(await probeFrom(blank, chat.port), 'about:blank');

    // --allow-origin lets that other site in: the same probe reads the
    // history (the same file: the first server lets go of it first).
    assert.strictEqual(await stopChat(chat), 0, 'exit status on SIGTERM');
    open = await startChat({ history: path.join(tmp, 'history.log'), extra: ['--allow-origin', otherOrigin] });
    const allowed = await probeFrom(evil, open.port);
    assert.strictEqual(allowed.events[0], 'open', `allowed page: ${JSON.stringify(allowed)}`);
    assert.ok(allowed.events.some((e) => e.includes(SECRET)), `allowed page: ${JSON.stringify(allowed)}`);
    assertRefused(await probeFrom(blank, open.port), 'about:blank with --allow-origin ' + otherOrigin);

    await browser.close();
    assert.strictEqual(await stopChat(open), 0, 'exit status on SIGTERM');
    assert.ok(!/Sanitizer|runtime error:/.test(serverLog()), 'sanitizer report');
    console.log('ok   own page connects; another origin\'s page and about:blank get 403 (onerror, close 1006, '
      + 'no message); --allow-origin admits that origin');
  } finally {
    await browser.close();
    other.close();
    await removeDir([chat, open], tmp);
  }
}

runTest('browser origin test', main, 120000);
