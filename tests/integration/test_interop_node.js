// cws-echo against a second independent peer, Node `ws`: every length
// encoding of RFC 6455 §5.2 in text and binary, fragments, pings, the
// close handshake and the 1001 shutdown on SIGTERM.
'use strict';
const assert = require('assert');
const path = require('path');
const h = require(path.join(__dirname, 'peers', 'harness.js'));

const ECHO = h.binary('echo');
const SIZES = [0, 1, 125, 126, 127, 65535, 65536, 1 << 20, 4 << 20];

const { textOf, bytesOf } = h;

async function withEcho(fn, args = []) {
    const srv = await h.startServer([ECHO, '--port', '0', ...args]);
    try {
        return await fn(srv);
    } finally {
        srv.proc.kill('SIGKILL');
    }
}

async function closeCleanly(ws) {
    ws.close(1000);
    const c = await h.within(h.STEP_TIMEOUT_MS, ws.closed, 'close');
    assert.strictEqual(c.code, 1000);
}

async function test_text_every_length_encoding() {
    await withEcho(async (srv) => {
        const ws = await h.connect(srv.url);
        for (const n of SIZES) {
            const msg = textOf(n);
            ws.send(msg);
            const m = await h.next(ws);
            assert.strictEqual(m.isBinary, false, `${n}: opcode changed`);
            assert.ok(m.data.equals(Buffer.from(msg)), `${n}: text changed`);
        }
        await closeCleanly(ws);
    });
}

async function test_binary_every_length_encoding() {
    await withEcho(async (srv) => {
        const ws = await h.connect(srv.url);
        for (const n of SIZES) {
            const msg = bytesOf(n);
            ws.send(msg);
            const m = await h.next(ws);
            assert.strictEqual(m.isBinary, true, `${n}: opcode changed`);
            assert.ok(m.data.equals(msg), `${n}: bytes changed (${m.data.length} back)`);
        }
        await closeCleanly(ws);
    });
}

async function test_fragments_and_interleaved_ping() {
    await withEcho(async (srv) => {
        const ws = await h.connect(srv.url);
        // §5.4: fragments of one message, with a control frame between them (§5.5).
        await h.fragmentsWithPing(ws);
        await closeCleanly(ws);
    });
}

async function test_ping_payloads_come_back_in_pongs() {
    await withEcho(async (srv) => {
        const ws = await h.connect(srv.url);
        for (const payload of [Buffer.alloc(0), Buffer.from('x'), bytesOf(125)]) {
            const pong = new Promise((resolve) => ws.once('pong', resolve));
            ws.ping(payload);
            const got = await h.within(h.STEP_TIMEOUT_MS, pong, 'pong');
            assert.ok(got.equals(payload), 'pong payload differs');
        }
        await closeCleanly(ws);
    });
}

async function test_close_code_is_echoed() {
    await withEcho(async (srv) => {
        const ws = await h.connect(srv.url);
        ws.close(1000, 'done here');
        const c = await h.within(h.STEP_TIMEOUT_MS, ws.closed, 'close');
        // RFC 6455 §5.5.1: the code is echoed; echoing the reason is optional.
        assert.strictEqual(c.code, 1000);
        assert.ok(c.reason === '' || c.reason === 'done here', `reason ${c.reason}`);
    });
}

async function test_many_clients_in_parallel() {
    await withEcho(async (srv) => {
        const one = async (k) => {
            const ws = await h.connect(`${srv.url}/client/${k}`);
            for (let i = 0; i < 100; i++) ws.send(i % 2 ? `${k}:${i}` : Buffer.from(`${k}:${i}`));
            for (let i = 0; i < 100; i++) {
                const m = await h.next(ws);
                assert.strictEqual(m.data.toString(), `${k}:${i}`);
                assert.strictEqual(m.isBinary, i % 2 === 0);
            }
            await closeCleanly(ws);
        };
        await Promise.all(Array.from({ length: 30 }, (_, k) => one(k)));
    });
}

async function test_sigterm_sends_1001_and_exits_0() {
    const srv = await h.startServer([ECHO, '--port', '0']);
    const clients = await Promise.all([1, 2, 3].map(() => h.connect(srv.url)));
    srv.proc.kill('SIGTERM');
    for (const ws of clients) {
        const c = await h.within(h.STEP_TIMEOUT_MS, ws.closed, 'close after SIGTERM');
        assert.strictEqual(c.code, 1001);
    }
    const e = await h.within(h.STEP_TIMEOUT_MS, srv.exited, 'exit after SIGTERM');
    assert.strictEqual(e.code, 0, `exit ${JSON.stringify(e)}`);
}

h.runCases([
    test_text_every_length_encoding,
    test_binary_every_length_encoding,
    test_fragments_and_interleaved_ping,
    test_ping_payloads_come_back_in_pongs,
    test_close_code_is_echoed,
    test_many_clients_in_parallel,
    test_sigterm_sends_1001_and_exits_0,
]);
