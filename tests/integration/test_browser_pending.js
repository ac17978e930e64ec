// Posts with an id, from the page (docs/chat-protocol.md, "Posts with an
// id"), in headless Chromium: a post typed while the server is down is
// shown as pending and delivered exactly once when it is back; a post
// whose answer the page never got (its socket closed right after sending,
// or the server killed -9 right after it) is recognised after the
// reconnect, in the replay or by the server, and shown once; a pending
// post survives a reload. The server's side is test_chat_post_ids.py.
'use strict';
const assert = require('assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { chromium } = require('playwright-core');
const { CHAT, CHROMIUM, STEP, startChat, serverLog, stopChat, removeDir, runTest } = require('./lib/chat_process');

async function shown(page, text) {
  return page.$$eval('#messages li.message .text', (els, t) => els.filter((e) => e.textContent === t).length, text);
}

async function waitShown(page, text) {
  await page.waitForFunction((t) => [...document.querySelectorAll('#messages li.message .text')]
    .some((e) => e.textContent === t), text, { timeout: STEP });
}

async function pendingCount(page) {
  return page.$$eval('#messages li.pending', (lis) => lis.length);
}

// Until nothing waits in the page's outbox; then the text must be shown
// exactly once, and stay so after everything in flight has arrived.
async function deliveredOnce(page, text, what) {
  await waitShown(page, text);
  await page.waitForFunction(() => !document.querySelector('li.pending')
    && JSON.parse(sessionStorage.getItem('cws-chat.outbox') || '[]').length === 0,
    null, { timeout: STEP });
  await page.waitForTimeout(300);
  assert.strictEqual(await shown(page, text), 1, `${what}: "${text}" shown ${await shown(page, text)} times`);
}

// Connected and past the replay: a post goes out at once.
async function ready(page) {
  await page.waitForFunction(() => ws && ws.readyState === WebSocket.OPEN && synced, null, { timeout: STEP });
}

async function say(page, text) {
  await page.fill('#input', text);
  await page.click('#send');
}

async function main() {
  if (!fs.existsSync(CHAT)) throw new Error(`missing ${CHAT}: build it first`);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cws-chat-pending-'));
  const history = path.join(tmp, 'history.log');
  const start = (port) => startChat({ port, history, extra: ['--ping-interval', '300'] });
  let srv = await start(0);
  const port = srv.port;
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const errors = [];
    const page = await (await browser.newContext()).newPage();
    const other = await (await browser.newContext()).newPage();
    for (const p of [page, other]) {
      p.on('pageerror', (e) => errors.push(String(e)));
      await p.goto(`http://127.0.0.1:${port}/`);
      await p.waitForSelector('#status.online', { timeout: STEP });
    }
    await say(page, 'online post');
    await deliveredOnce(page, 'online post', 'online');

    // Typed while the server is down: pending, kept across a reload,
    // delivered once when the server is back.
    await stopChat(srv, 'SIGKILL');
    await page.waitForSelector('#status.reconnecting', { timeout: STEP });
    await say(page, 'typed offline');
    await page.waitForSelector('#messages li.pending', { timeout: STEP }); // drawn at the next frame
    assert.strictEqual(await pendingCount(page), 1, 'one pending line for the offline post');
    srv = await start(port);
    await page.reload(); // the page may have resent it already, or not yet
    await deliveredOnce(page, 'typed offline', 'offline');
    await waitShown(other, 'typed offline');
    assert.strictEqual(await shown(other, 'typed offline'), 1, 'the other page got the offline post twice');

    // The answer lost on the wire: the socket closes right after the send,
    // so the page never sees its broadcast; the replay shows it stored.
    await ready(page);
    await page.evaluate(() => {
      document.getElementById('input').value = 'answer lost';
      document.getElementById('composer').requestSubmit();
      ws.close();
    });
    await deliveredOnce(page, 'answer lost', 'closed after sending');

    // The server killed -9 right after the post left: stored or not, it
    // is there once after the restart.
    await ready(page);
    await page.evaluate(() => {
      document.getElementById('input').value = 'then killed';
      document.getElementById('composer').requestSubmit();
    });
    await stopChat(srv, 'SIGKILL');
    srv = await start(port);
    await deliveredOnce(page, 'then killed', 'killed after sending');

    // The answer lost, and the page reloaded without its saved seq: it
    // resumes fresh and still knows the post by its id.
    await ready(page);
    await page.evaluate(() => {
      document.getElementById('input').value = 'resent by id';
      document.getElementById('composer').requestSubmit();
      ws.close();
      sessionStorage.removeItem('cws-chat.seq');
      sessionStorage.removeItem('cws-chat.log');
    });
    await page.reload();
    await deliveredOnce(page, 'resent by id', 'resent after a reload');
    for (const text of ['typed offline', 'answer lost', 'then killed', 'resent by id']) {
      await waitShown(other, text);
      assert.strictEqual(await shown(other, text), 1, `the other page shows "${text}" more than once`);
    }
    assert.deepStrictEqual(errors, [], 'page errors');
    await browser.close();
    assert.strictEqual(await stopChat(srv), 0, 'exit status on SIGTERM');
    assert.ok(!/Sanitizer|runtime error:/.test(serverLog()), 'sanitizer report');
    console.log('ok   pending posts: typed offline, lost answer, kill -9, reload: each shown once');
  } finally {
    await browser.close();
    await removeDir([srv], tmp);
  }
}

runTest('browser pending test', main, 120000);
