// The chat page under floods and bad names, in headless Chromium
// (docs/security.md, "The chat page"):
// - a presence batch is one line ("alice joined; 2 online") and sets the
//   online count.
// - 10,000 connect/disconnect cycles (20,000 join/leave events) and 10,000
//   messages: the page still answers within 2 s, keeps at most 500 lines,
//   shows the presence flood in a line per batch (at most one per 250 ms:
//   "flood, flood and 37 others joined; flood, flood and 38 others left;
//   2 online") and shows the last message.
// - a stored 19-character Cyrillic name (38 bytes, the server allows 32) is
//   explained and dropped; the page connects without it. The name input
//   refuses a name over 32 bytes with a message. A handshake the server
//   refuses over the name is retried once without it, and the name is
//   forgotten with the server's reason.
'use strict';
const assert = require('assert');
const fs = require('fs');
const net = require('net');
const os = require('os');
const path = require('path');
const { chromium } = require('playwright-core');
const WebSocket = require('ws');
const { CHAT, CHROMIUM, STEP, startChat, removeDir, runTest } = require('./lib/chat_process');

const CYCLES = 10000;
const MESSAGES = 10000;
const MAX_LINES = 500; // app.js

function startServer(history) {
  return startChat({ history, extra: ['--fsync', 'never', '--rate', '1000000', '--burst', '1000000'] });
}

// One raw handshake, closed as soon as the 101 arrives: a join and a leave.
function cycle(port) {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => {
      s.write('GET /ws?since=0&name=flood HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n'
        + 'Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n'
        + 'Sec-WebSocket-Version: 13\r\n\r\n');
    });
    let head = '';
    s.on('data', (d) => {
      head += d;
      if (head.includes('\r\n\r\n')) {
        if (!head.startsWith('HTTP/1.1 101')) reject(new Error('handshake: ' + head.split('\r\n')[0]));
        s.destroy();
        resolve();
      }
    });
    s.on('error', reject);
  });
}

async function connectFlood(port, n, parallel) {
  let next = 0;
  const worker = async () => { while (next++ < n) await cycle(port); };
  await Promise.all(Array.from({ length: parallel }, worker));
}

// A named client that stays until closed.
function visitor(port, name) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws?name=${name}`, { perMessageDeflate: false });
    ws.on('error', reject);
    ws.on('open', () => resolve(ws));
  });
}

async function presenceLines(page) {
  return page.$$eval('#messages li.presence', (l) => l.map((li) => li.textContent));
}

// Waits until the page shows a presence line with exactly this text.
async function presenceShown(page, text) {
  await page.waitForFunction((t) => [...document.querySelectorAll('#messages li.presence')]
    .some((li) => li.textContent === t), text, { timeout: STEP });
}

function messageFlood(port, n) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws?name=bot`, { perMessageDeflate: false });
    ws.on('error', reject);
    ws.on('open', () => {
      for (let i = 1; i <= n; i++) ws.send(JSON.stringify({ type: 'message', text: 'flood ' + i }));
      resolve(ws);
    });
  });
}

// How long the page takes to answer a trivial evaluate: a frozen main
// thread answers late.
async function roundTrip(page) {
  const t = Date.now();
  await page.evaluate(() => performance.now());
  return Date.now() - t;
}

async function lineCount(page) {
  return page.$$eval('#messages li', (l) => l.length);
}

async function errorLines(page) {
  return page.$$eval('#messages li.error', (l) => l.map((li) => li.textContent));
}

async function main() {
  if (!fs.existsSync(CHAT)) throw new Error(`missing ${CHAT}: build it first`);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cws-chat-flood-'));
  const srv = await startServer(path.join(tmp, 'history.log'));
  const url = `http://127.0.0.1:${srv.port}/`;
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const watch = [];
  try {
    const errors = [];
    const page = await (await browser.newContext({ viewport: { width: 900, height: 600 } })).newPage();
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(url);
    await page.waitForSelector('#status.online', { timeout: STEP });

    // 1. Presence: the page's own arrival, then someone else's, a line each.
    await presenceShown(page, 'anonymous joined; 1 online');
    const alice = await visitor(srv.port, 'alice');
    await presenceShown(page, 'alice joined; 2 online');
    assert.strictEqual(await page.textContent('#online'), '2 online');
    alice.close();
    await presenceShown(page, 'alice left; 1 online');
    console.log('ok   a presence batch is one line and sets the online count');

    // 2. Presence flood.
    const shownBefore = (await presenceLines(page)).length;
    let t = Date.now();
    await connectFlood(srv.port, CYCLES, 50);
    const took = Date.now() - t;
    await page.waitForFunction(() => document.getElementById('online').textContent === '1 online',
      null, { timeout: STEP });
    await new Promise((resolve) => setTimeout(resolve, 500)); // the batch after the last
    const batches = (await presenceLines(page)).slice(shownBefore);
    let rt = await roundTrip(page);
    let lines = await lineCount(page);
    console.log(`ok   ${CYCLES} connect/disconnect cycles in ${took} ms; page answers in ${rt} ms, ${lines} lines, `
      + `${batches.length} of them presence`);
    assert.ok(rt < 2000, `page round trip ${rt} ms after the presence flood`);
    assert.ok(lines <= MAX_LINES, `${lines} lines after the presence flood`);
    assert.ok(batches.length <= Math.ceil((took + 500) / 250) + 1,
      `${batches.length} presence lines for a flood of ${took} ms: more than one per 250 ms`);
    assert.ok(batches.some((l) => /^flood, flood and \d+ others joined; flood, flood and \d+ others left; \d+ online$/.test(l)),
      'presence flood summarised: ' + batches.slice(-3).join(' | '));
    assert.strictEqual(batches[batches.length - 1].split('; ').pop(), '1 online');

    // 3. Message flood.
    t = Date.now();
    watch.push(await messageFlood(srv.port, MESSAGES));
    const last = 'flood ' + MESSAGES;
    // The last message line, wherever it is: the bot's own join arrives in
    // a presence batch up to 250 ms later, and may be drawn after it.
    await page.waitForFunction((text) => {
      const ls = document.querySelectorAll('#messages li.message .text');
      return ls.length > 0 && ls[ls.length - 1].textContent === text;
    }, last, { timeout: STEP * 2 });
    rt = await roundTrip(page);
    lines = await lineCount(page);
    console.log(`ok   ${MESSAGES} messages shown in ${Date.now() - t} ms; page answers in ${rt} ms, ${lines} lines`);
    assert.ok(rt < 2000, `page round trip ${rt} ms after the message flood`);
    assert.ok(lines <= MAX_LINES, `${lines} lines after the message flood`);
    // The user was at the bottom: the last message is in view.
    await page.waitForFunction(() => {
      const main = document.querySelector('main').getBoundingClientRect();
      const r = document.querySelector('#messages li:last-child').getBoundingClientRect();
      return r.top >= main.top && r.bottom <= main.bottom + 1;
    }, null, { timeout: STEP });
    assert.deepStrictEqual(errors, [], 'page errors');

    // 4. A stored name of 19 Cyrillic letters: 19 characters, 38 bytes.
    const long = 'я'.repeat(19);
    const ctx = await browser.newContext();
    await ctx.addInitScript((n) => {
      if (!sessionStorage.getItem('seeded')) localStorage.setItem('cws-chat.name', n);
      sessionStorage.setItem('seeded', '1');
    }, long);
    const p2 = await ctx.newPage();
    p2.on('pageerror', (e) => errors.push(String(e)));
    await p2.goto(url);
    await p2.waitForSelector('#status.online', { timeout: STEP });
    await p2.waitForFunction(() => [...document.querySelectorAll('#messages li.error')]
      .some((li) => /38 bytes in UTF-8, the server allows 32/.test(li.textContent)), null, { timeout: STEP });
    assert.strictEqual(await p2.evaluate(() => localStorage.getItem('cws-chat.name')), null, 'stored name kept');
    assert.strictEqual(await p2.inputValue('#name'), '');
    console.log('ok   a stored 38-byte name is explained and dropped; the page connects without it');

    // Typed: refused with a message, neither stored nor sent.
    const before = (await errorLines(p2)).length;
    await p2.fill('#name', 'я'.repeat(17)); // 17 characters, 34 bytes
    assert.strictEqual(await p2.getAttribute('#name', 'aria-invalid'), 'true');
    await p2.press('#name', 'Tab');
    await p2.waitForFunction((n) => document.querySelectorAll('#messages li.error').length > n, before,
      { timeout: STEP });
    assert.match((await errorLines(p2)).pop(), /name not changed: it is 34 bytes in UTF-8, the server allows 32/);
    assert.strictEqual(await p2.evaluate(() => localStorage.getItem('cws-chat.name')), null);
    await p2.fill('#name', 'я'.repeat(16)); // 32 bytes: accepted
    await p2.press('#name', 'Tab');
    await p2.waitForFunction((n) => [...document.querySelectorAll('#messages li.system')]
      .some((li) => li.textContent === 'anonymous is now called ' + n), 'я'.repeat(16), { timeout: STEP });
    assert.strictEqual(await p2.evaluate(() => localStorage.getItem('cws-chat.name')), 'я'.repeat(16));

    // A name the page let through but the server refuses at the handshake
    // (as an older page would have stored): one retry without it, then the
    // server's reason, and the name is forgotten.
    await p2.evaluate((n) => { myName = n; ws.close(); }, long);
    await p2.waitForFunction(() => [...document.querySelectorAll('#messages li.error')]
      .some((li) => /the server refused your name .*you are connected without a name/.test(li.textContent)),
    null, { timeout: STEP });
    await p2.waitForSelector('#status.online', { timeout: STEP });
    assert.strictEqual(await p2.evaluate(() => localStorage.getItem('cws-chat.name')), null);
    await p2.fill('#input', 'still here');
    await p2.click('#send');
    await p2.waitForFunction(() => [...document.querySelectorAll('#messages li.message')]
      .some((li) => li.querySelector('.text').textContent === 'still here'
        && li.querySelector('.name').textContent === 'anonymous'), null, { timeout: STEP });
    console.log('ok   a typed name over 32 bytes is refused with a message; a handshake refused over '
      + 'the name is retried once without it and explained');
    assert.deepStrictEqual(errors, [], 'page errors');
  } finally {
    for (const w of watch) w.terminate();
    await browser.close();
    await removeDir(srv, tmp);
  }
}

runTest('browser flood test', main, 90000);
