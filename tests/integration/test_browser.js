// The chat page in a real browser (headless Chromium driven by
// playwright-core): two pages chat, a reload shows the history again, a
// server killed with -9 and restarted is reconnected to by the page and the
// conversation continues without gaps or duplicates. The page's WebSocket
// negotiates permessage-deflate (RFC 7692) with cws-chat, and none with
// cws-chat --no-deflate. Saves $BUILD/chat.png.
'use strict';
const assert = require('assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { chromium } = require('playwright-core');
const { BUILD, CHAT, CHROMIUM, STEP, startChat, serverLog, stopChat, removeDir, runTest } = require('./lib/chat_process');

// cws-chat on port (0: any) with the history file, pinging every 300 ms.
function startServer(port, history, extra = []) {
  return startChat({ port, history, extra: ['--ping-interval', '300', ...extra] });
}

async function texts(page) {
  return page.$$eval('#messages li.message', (lis) => lis.map((li) => ({
    seq: Number(li.dataset.seq),
    name: li.querySelector('.name').textContent,
    text: li.querySelector('.text').textContent,
  })));
}

async function waitForText(page, text) {
  await page.waitForFunction((t) => [...document.querySelectorAll('#messages li.message .text')]
    .some((e) => e.textContent === t), text, { timeout: STEP });
}

// The Sec-WebSocket-Extensions the page's open WebSocket (app.js's
// top-level `ws`) agreed to: "" when none.
async function extensions(page) {
  return page.evaluate(() => (ws && ws.readyState === WebSocket.OPEN ? ws.extensions : null));
}

// cws-chat answers Chromium's offer with server_no_context_takeover.
function assertDeflate(ext, who) {
  assert.ok(/^permessage-deflate(;|$)/.test(ext || ''), `${who}: extensions ${JSON.stringify(ext)}`);
  assert.ok(/server_no_context_takeover/.test(ext), `${who}: extensions ${JSON.stringify(ext)}`);
}

async function say(page, text) {
  await page.fill('#input', text);
  await page.click('#send');
}

async function main() {
  if (!fs.existsSync(CHAT)) throw new Error(`missing ${CHAT}: build it first`);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cws-chat-browser-'));
  const history = path.join(tmp, 'history.log');
  let srv = await startServer(0, history);
  let plain = null; // cws-chat --no-deflate
  const port = srv.port;
  const url = `http://127.0.0.1:${port}/`;
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const errors = [];
    // Two browser contexts: two people with their own storage.
    const alice = await (await browser.newContext({ viewport: { width: 900, height: 600 } })).newPage();
    const bob = await (await browser.newContext({ viewport: { width: 900, height: 600 } })).newPage();
    for (const p of [alice, bob]) {
      p.on('pageerror', (e) => errors.push(String(e)));
      p.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
      await p.goto(url);
      await p.waitForSelector('#status.online', { timeout: STEP });
    }
    await alice.fill('#name', 'alice');
    await alice.press('#name', 'Tab'); // "change" sends {"type":"name"}
    await bob.fill('#name', 'bob');
    await bob.press('#name', 'Tab');

    for (const [p, who] of [[alice, 'alice'], [bob, 'bob']]) assertDeflate(await extensions(p), who);

    await say(alice, 'hello from alice');
    await waitForText(bob, 'hello from alice');
    await say(bob, 'hi alice <b>not bold</b>');
    await waitForText(alice, 'hi alice <b>not bold</b>');
    assert.strictEqual(await alice.$$eval('#messages b', (b) => b.length), 0, 'text rendered as HTML');
    let seen = await texts(bob);
    assert.deepStrictEqual(seen.map((m) => [m.seq, m.name, m.text]),
      [[1, 'alice', 'hello from alice'], [2, 'bob', 'hi alice <b>not bold</b>']]);

    // The latency the server measured reaches the page.
    await alice.waitForFunction(() => /latency \d+ ms/.test(document.getElementById('latency').textContent),
      null, { timeout: STEP });

    // A reload shows the history again, once.
    await bob.reload();
    await bob.waitForSelector('#status.online', { timeout: STEP });
    await waitForText(bob, 'hello from alice');
    seen = await texts(bob);
    assert.deepStrictEqual(seen.map((m) => m.seq), [1, 2], 'history after reload');

    // Kill the server hard and restart it on the same port: the pages
    // reconnect by themselves and resume from the last seq they saw.
    await stopChat(srv, 'SIGKILL');
    await alice.waitForSelector('#status.reconnecting', { timeout: STEP });
    // Posts typed offline wait in the outbox (test_browser_pending.js).
    assert.ok(!(await alice.$eval('#send', (b) => b.disabled)), 'send disabled while offline');
    srv = await startServer(port, history);
    await alice.waitForSelector('#status.online', { timeout: STEP });
    await bob.waitForSelector('#status.online', { timeout: STEP });
    assertDeflate(await extensions(alice), 'alice after the restart');
    await say(alice, 'after the restart');
    await waitForText(bob, 'after the restart');
    seen = await texts(bob);
    assert.deepStrictEqual(seen.map((m) => m.seq), [1, 2, 3], 'conversation continues, no gap or duplicate');
    assert.strictEqual(seen[2].name, 'alice');

    // A third page loaded fresh gets the recent history from the server.
    const carol = await (await browser.newContext()).newPage();
    await carol.goto(url);
    await waitForText(carol, 'after the restart');
    assert.deepStrictEqual((await texts(carol)).map((m) => m.seq), [1, 2, 3]);

    await bob.screenshot({ path: path.join(BUILD, 'chat.png') });

    // Over the 1024-byte threshold: the server sends this broadcast
    // compressed (Chromium compresses everything it sends).
    const long = 'compressed broadcast ' + 'ünïcode 😀 '.repeat(200);
    await say(carol, long);
    await waitForText(alice, long);
    await waitForText(bob, long);

    // Without deflate the same page agrees to no extension and still chats.
    plain = await startServer(0, path.join(tmp, 'plain.log'), ['--no-deflate']);
    const dave = await (await browser.newContext()).newPage();
    const erin = await (await browser.newContext()).newPage();
    for (const p of [dave, erin]) {
      await p.goto(`http://127.0.0.1:${plain.port}/`);
      await p.waitForSelector('#status.online', { timeout: STEP });
      assert.strictEqual(await extensions(p), '', 'extensions with --no-deflate');
    }
    await say(dave, long);
    await waitForText(erin, long);
    assert.strictEqual(await stopChat(plain), 0, 'exit status of --no-deflate on SIGTERM');
    assert.deepStrictEqual(errors.filter((e) => !/WebSocket|ERR_CONNECTION_REFUSED/.test(e)), [],
      'page errors');
    await browser.close();
    assert.strictEqual(await stopChat(srv), 0, 'exit status on SIGTERM');
    assert.ok(!/Sanitizer|runtime error:/.test(serverLog()), 'sanitizer report');
    console.log('ok   browser chat, reload, restart; screenshot ' + path.join(BUILD, 'chat.png'));
    console.log('ok   permessage-deflate agreed (server_no_context_takeover) before and after the restart, '
      + 'a long broadcast arrives; --no-deflate: extensions ""');
  } finally {
    await browser.close();
    await removeDir([srv, plain], tmp);
  }
}

runTest('browser test', main, 120000);
