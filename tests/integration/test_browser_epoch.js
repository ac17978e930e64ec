// The chat page across a history that lost its tail (issue 14 point 1), in
// headless Chromium driven by playwright-core. The page saw seqs 1-3; the
// server is killed, the last record torn off, and on restart someone else
// posts, so seq 3 now means another message. The page comes back (same
// tab: its sessionStorage) and resumes with since=3&epoch=E: it must show
// the reset and the new seq 3, and nothing of the old one. With since=3
// alone the server would see a caught-up client and the page would keep
// the stale message forever.
'use strict';
const assert = require('assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { chromium } = require('playwright-core');
const WebSocket = require('ws');
const { CHAT, CHROMIUM, STEP, startChat, stopChat, removeDir, runTest } = require('./lib/chat_process');

// The epoch the server keeps in FILE.epoch (docs/chat-protocol.md).
function fileEpoch(history) {
  return /^epoch ([0-9a-f]{16})\n/.exec(fs.readFileSync(history + '.epoch', 'utf8'))[1];
}

// Tears the newest segment's last record, as a crash mid-write would.
function tearLastRecord(history) {
  const dir = path.dirname(history);
  const base = path.basename(history);
  const segs = fs.readdirSync(dir).filter((n) => n.startsWith(base + '.') && /^[0-9a-f]{16}$/.test(n.slice(base.length + 1)));
  const newest = path.join(dir, segs.sort().pop());
  fs.truncateSync(newest, fs.statSync(newest).size - 7);
}

// Another client posts text and waits for it to come back.
function postFromBot(port, text) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
    const timer = setTimeout(() => reject(new Error('bot post timed out')), STEP);
    ws.on('message', (data) => {
      const m = JSON.parse(data);
      if (m.type === 'synced') ws.send(JSON.stringify({ type: 'message', text }));
      if (m.type === 'message' && m.text === text) {
        clearTimeout(timer);
        ws.close();
        resolve(m);
      }
    });
    ws.on('error', reject);
  });
}

async function texts(page) {
  return page.$$eval('#messages li.message', (lis) => lis.map((li) => [Number(li.dataset.seq),
    li.querySelector('.text').textContent]));
}

async function waitForText(page, text) {
  await page.waitForFunction((t) => [...document.querySelectorAll('#messages li .text')]
    .some((e) => e.textContent.includes(t)), text, { timeout: STEP });
}

async function say(page, text) {
  await page.fill('#input', text);
  await page.click('#send');
  await waitForText(page, text);
}

async function main() {
  if (!fs.existsSync(CHAT)) throw new Error(`missing ${CHAT}: build it first`);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cws-chat-epoch-'));
  const history = path.join(tmp, 'history.log');
  let srv = await startChat({ history });
  const port = srv.port;
  const url = `http://127.0.0.1:${port}/`;
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const errors = [];
    const page = await (await browser.newContext()).newPage();
    page.on('pageerror', (e) => errors.push(String(e)));
    const sockets = [];
    page.on('websocket', (ws) => sockets.push(ws.url()));
    await page.goto(url);
    await page.waitForSelector('#status.online', { timeout: STEP });
    for (const t of ['one', 'two', 'old three']) await say(page, t); // each shown, so saved
    const oldEpoch = fileEpoch(history);

    // The page leaves (its tab keeps sessionStorage); the server crashes,
    // loses seq 3 and hands it out again.
    await page.goto('about:blank');
    await stopChat(srv, 'SIGKILL');
    tearLastRecord(history);
    srv = await startChat({ port, history });
    const newEpoch = fileEpoch(history);
    assert.notStrictEqual(newEpoch, oldEpoch, 'no new epoch after a torn record');
    assert.strictEqual((await postFromBot(port, 'new three')).seq, 3, 'seq 3 handed out again');

    await page.goto(url);
    await page.waitForSelector('#status.online', { timeout: STEP });
    await say(page, 'four'); // live, after whatever the resume brought
    assert.deepStrictEqual(await texts(page), [[1, 'one'], [2, 'two'], [3, 'new three'], [4, 'four']],
      'after the reset: the new history, nothing stale');
    await waitForText(page, 'history was reset');
    assert.ok(sockets.some((u) => u.endsWith(`/ws?since=3&epoch=${oldEpoch}`)), `resumed with ${sockets}`);
    assert.strictEqual(await page.evaluate(() => sessionStorage.getItem('cws-chat.epoch')), newEpoch,
      'the new epoch stored');

    // Within the new epoch a reload resumes normally: no reset, no duplicate.
    await page.reload();
    await page.waitForSelector('#status.online', { timeout: STEP });
    await say(page, 'five');
    assert.deepStrictEqual((await texts(page)).map((m) => m[1]), ['one', 'two', 'new three', 'four', 'five']);
    assert.strictEqual(await page.$$eval('#messages li.system', (l) => l.filter((li) =>
      li.textContent.includes('history was reset')).length), 0, 'reset shown again after a reload');
    assert.ok(sockets.pop().endsWith(`/ws?since=4&epoch=${newEpoch}`), 'reload resumed with the new epoch');
    assert.deepStrictEqual(errors, [], 'page errors');
    console.log('ok   the page resumes with its epoch; after a torn history it shows the reset and the '
      + 'new seq 3, nothing stale; a reload within the new epoch resumes without a reset');
  } finally {
    await browser.close();
    await removeDir(srv, tmp);
  }
}

runTest('browser epoch test', main, 60000);
