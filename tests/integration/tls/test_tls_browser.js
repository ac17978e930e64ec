// The chat page over https:// in headless Chromium, from cws-chat
// --tls-cert/--tls-key: two pages load it, open their WebSocket over wss://
// on the same port, and one sees what the other posts. Chromium trusts
// exactly the throwaway server certificate's key
// (--ignore-certificate-errors-spki-list), not every certificate: a page
// from a server with the self-signed certificate is refused.
'use strict';
const assert = require('assert');
const fs = require('fs');
const https = require('https');
const os = require('os');
const path = require('path');
const { CHAT, STEP, startChat, launchChromium, removeDir, runTest } = require('../lib/chat_process');
const { makeCerts } = require('./lib/certs');

// An https server with another certificate, for the control.
function startOtherServer(certs) {
  return new Promise((resolve) => {
    const srv = https.createServer({
      cert: fs.readFileSync(certs.selfsigned_cert),
      key: fs.readFileSync(certs.selfsigned_key),
    }, (req, res) => res.end('<!doctype html><title>other</title>'));
    srv.listen(0, '127.0.0.1', () => resolve(srv));
  });
}

async function waitForText(page, text) {
  await page.waitForFunction((t) => [...document.querySelectorAll('#messages li.message .text')]
    .some((e) => e.textContent === t), text, { timeout: STEP });
}

async function main() {
  if (!fs.existsSync(CHAT)) throw new Error(`missing ${CHAT}: build it first`);
  const certs = makeCerts();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cws-chat-tls-'));
  const srv = await startChat({
    history: path.join(tmp, 'history.log'),
    tls: { cert: certs.server_cert, key: certs.server_key },
    extra: ['--ping-interval', '300'],
  });
  const other = await startOtherServer(certs);
  const browser = await launchChromium([`--ignore-certificate-errors-spki-list=${certs.server_spki}`]);
  try {
    assert.strictEqual(srv.url, `https://127.0.0.1:${srv.port}/`);
    const errors = [];
    const pages = [];
    for (const name of ['alice', 'bob']) {
      const page = await (await browser.newContext()).newPage();
      page.on('pageerror', (e) => errors.push(String(e)));
      page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
      const response = await page.goto(srv.url);
      assert.strictEqual(response.status(), 200, `${name}: page status`);
      await page.waitForSelector('#status.online', { timeout: STEP });
      const wsUrl = await page.evaluate(() => ws && ws.readyState === WebSocket.OPEN && ws.url);
      assert.ok(String(wsUrl).startsWith(`wss://127.0.0.1:${srv.port}/ws`), `${name}: WebSocket ${wsUrl}`);
      await page.fill('#name', name);
      await page.press('#name', 'Tab');
      pages.push(page);
    }
    const [alice, bob] = pages;
    await alice.fill('#input', 'hello over wss');
    await alice.click('#send');
    await waitForText(bob, 'hello over wss');
    await bob.fill('#input', 'and back');
    await bob.click('#send');
    await waitForText(alice, 'and back');
    assert.deepStrictEqual(errors, [], 'page errors');

    // The control: the flag trusts that one key, not any certificate.
    const stranger = await (await browser.newContext()).newPage();
    await assert.rejects(stranger.goto(`https://127.0.0.1:${other.address().port}/`),
      /ERR_CERT_AUTHORITY_INVALID|ERR_CERT/);
  } finally {
    await browser.close();
    other.close();
    await removeDir(srv, tmp);
  }
}

runTest('test_tls_browser', main, 60000);
