// cws-echo serving wss:// against Node `ws` as the client, trusting only
// the throwaway CA (`new WebSocket(url, { ca })`): every length form of
// RFC 6455 §5.2 in text and binary, fragments with a ping between them,
// closes with 1000 and 4000 + reason, 1009 over --max-message, and a
// client that trusts nothing is refused. (Node `ws` as the server, with
// cws-client as the client: test_tls_client.py, echo_server.js --tls-cert.)
'use strict';
const assert = require('assert');
const fs = require('fs');
const path = require('path');
const h = require(path.join(__dirname, '..', 'peers', 'harness.js'));
const { makeCerts, serverArgs } = require('./lib/certs');

const ECHO = h.binary('echo');
const CERTS = makeCerts();
const CA = fs.readFileSync(CERTS.ca);
const SIZES = [0, 1, 125, 126, 65535, 65536, 1 << 20];

const { textOf, bytesOf } = h;

async function withEcho(fn, args = []) {
  const srv = await h.startServer([ECHO, '--port', '0', ...serverArgs(CERTS), ...args]);
  try {
    assert.ok(srv.url.startsWith('wss://127.0.0.1:'), srv.url);
    return await fn(srv);
  } finally {
    srv.proc.kill('SIGKILL');
  }
}

async function test_every_length_text_and_binary() {
  await withEcho(async (srv) => {
    const ws = await h.connect(srv.url, { ca: CA });
    assert.ok(['TLSv1.2', 'TLSv1.3'].includes(ws._socket.getProtocol()), ws._socket.getProtocol());
    for (const n of SIZES) {
      for (const msg of [textOf(n), bytesOf(n)]) {
        const binary = Buffer.isBuffer(msg);
        ws.send(msg);
        const m = await h.next(ws);
        assert.strictEqual(m.isBinary, binary, `${n}: opcode changed`);
        assert.ok(m.data.equals(Buffer.from(msg)), `${n}: ${binary ? 'bytes' : 'text'} changed (${m.data.length} back)`);
      }
    }
    ws.close(1000);
    assert.strictEqual((await h.within(h.STEP_TIMEOUT_MS, ws.closed, 'close')).code, 1000);
  });
}

async function test_fragments_with_a_ping_between() {
  await withEcho(async (srv) => {
    const ws = await h.connect(srv.url, { ca: CA });
    await h.fragmentsWithPing(ws);
    ws.send('täxt-', { fin: false });
    ws.send('fragmented', { fin: true });
    const t = await h.next(ws);
    assert.ok(!t.isBinary && t.data.toString() === 'täxt-fragmented', t.data.toString());
    ws.close(1000);
    await h.within(h.STEP_TIMEOUT_MS, ws.closed, 'close');
  });
}

async function test_close_codes_come_back() {
  await withEcho(async (srv) => {
    for (const [code, reason] of [[1000, ''], [4000, 'bye for now']]) {
      const ws = await h.connect(srv.url, { ca: CA });
      ws.close(code, reason);
      const c = await h.within(h.STEP_TIMEOUT_MS, ws.closed, 'close');
      assert.strictEqual(c.code, code);
      assert.ok(c.reason === '' || c.reason === reason, `reason ${c.reason}`);
    }
  });
}

async function test_message_over_max_message_1009() {
  await withEcho(async (srv) => {
    const ws = await h.connect(srv.url, { ca: CA });
    ws.send(Buffer.alloc(1000, 1));
    assert.strictEqual((await h.next(ws)).data.length, 1000);
    ws.send(Buffer.alloc(1001, 2));
    const c = await h.within(h.STEP_TIMEOUT_MS, ws.closed, 'close');
    assert.strictEqual(c.code, 1009);
  }, ['--max-message', '1000']);
}

async function test_untrusted_certificate_refused_by_ws() {
  // The control for the others: without { ca } Node refuses our CA.
  await withEcho(async (srv) => {
    await assert.rejects(h.connect(srv.url), /self[- ]signed|local issuer|certificate/i);
    const ws = await h.connect(srv.url, { ca: CA });
    ws.send('still serving');
    assert.strictEqual((await h.next(ws)).data.toString(), 'still serving');
    ws.close(1000);
    await h.within(h.STEP_TIMEOUT_MS, ws.closed, 'close');
  });
}

h.runCases([
  test_every_length_text_and_binary,
  test_fragments_with_a_ping_between,
  test_close_codes_come_back,
  test_message_over_max_message_1009,
  test_untrusted_certificate_refused_by_ws,
]);
