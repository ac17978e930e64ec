// permessage-deflate (RFC 7692) against Node `ws`, in both roles, over
// real loopback sockets.
//   ws client -> cws-echo --deflate: the 101's agreement, echoes of every
//     size class compressed (RSV1) or not as --deflate-threshold says,
//     fragments with a ping between them, 1000 and 1009 closes, offer
//     variants (context takeover, window bits 8..15) echoing data whose
//     back-references span each window; an offer-less ws client too.
//   ws server (in this process) -> cws-client --deflate: lines in, same
//     lines out, -v says whether it was agreed, for answers that limit the
//     client's window or context; a server that declines (perMessageDeflate:
//     false) leaves cws-client uncompressed.
// What each frame carried (RSV1, opcode, length) is read by wrapping two
// methods of ws's Receiver, the frame parser (ws 8.x, tests/node_modules).
'use strict';
const assert = require('assert');
const path = require('path');
const { spawn } = require('child_process');
const h = require(path.join(__dirname, 'peers', 'harness.js'));

const { WebSocket } = h;
const { WebSocketServer, Receiver } = WebSocket;
const ECHO = h.binary('echo');
const CLIENT = h.binary('client');
const SIZES = [0, 1, 125, 126, 1023, 1024, 65535, 65536, 1 << 20];
const CLIENT_THRESHOLD = 1024; // cws-client keeps the library's default

// --- frames on the wire --------------------------------------------------
// getInfo() reads a frame's first two bytes, haveLength() runs once the
// whole length is known: together, one entry per data frame in
// receiver.wireLog: {op (0: continuation), rsv1, fin, len}.
assert.strictEqual(typeof Receiver.prototype.getInfo, 'function', 'ws Receiver changed: getInfo');
assert.strictEqual(typeof Receiver.prototype.haveLength, 'function', 'ws Receiver changed: haveLength');
const getInfo = Receiver.prototype.getInfo;
const haveLength = Receiver.prototype.haveLength;
Receiver.prototype.getInfo = function (cb) {
    this.wireByte0 = this._bufferedBytes >= 2 ? this._buffers[0][0] : undefined;
    return getInfo.call(this, cb);
};
Receiver.prototype.haveLength = function (cb) {
    const b = this.wireByte0;
    if (b !== undefined && (b & 0x0f) < 3) {
        (this.wireLog = this.wireLog || []).push({
            op: b & 0x0f, rsv1: (b & 0x40) !== 0, fin: (b & 0x80) !== 0, len: this._payloadLength,
        });
    }
    return haveLength.call(this, cb);
};

// Per message: {rsv1 of its first frame, wire bytes of all its frames}.
function messages(ws) {
    const out = [];
    for (const f of ws._receiver.wireLog || []) {
        if (f.op === 0) out[out.length - 1].wire += f.len;
        else out.push({ rsv1: f.rsv1, wire: f.len });
    }
    return out;
}

// --- data ------------------------------------------------------------------

function textOf(n) { // UTF-8 of exactly n bytes, 1- to 4-byte characters
    const s = 'aé€😀'.repeat(Math.floor(n / 10));
    return s + 'x'.repeat(n - Buffer.byteLength(s));
}

function rng(seed) { // xorshift32
    let x = (seed * 2654435761) >>> 0 || 1;
    return () => { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; return x; };
}

function bytesOf(n, seed = n) { // incompressible
    const r = rng(seed + 1), b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = r() & 255;
    return b;
}

const LETTERS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
function lettersOf(n, seed) {
    const r = rng(seed + 1);
    let s = '';
    for (let i = 0; i < n; i++) s += LETTERS[r() % LETTERS.length];
    return Buffer.from(s);
}

function compressible(n) {
    const parts = [];
    for (let i = 0; i * 30 <= n; i++) parts.push(`cws permessage-deflate line ${i}\n`);
    return Buffer.from(parts.join('')).subarray(0, n);
}

// Random blocks each followed by its copy: matches only at distances
// 200 .. 30000, so a compressor exceeding its agreed window breaks the
// peer's inflater.
function windowed(make = bytesOf) {
    return Buffer.concat([200, 400, 1000, 3000, 7000, 15000, 30000]
        .flatMap((d) => { const b = make(d, d + 7); return [b, b]; }));
}

// Sent twice, the second copy is one back-reference into the first message
// only if the sender keeps its context and its window reaches that far
// (zlib and cws reach 2^bits - 262 bytes back).
const PROBE_LEN = 1500;
const secondCopySmall = (nct, bits) => !nct && (1 << bits) - 262 >= PROBE_LEN;

// --- helpers ---------------------------------------------------------------

async function withEcho(args, fn) {
    const srv = await h.startServer([ECHO, '--port', '0', ...args]);
    try {
        return await fn(srv);
    } finally {
        srv.proc.kill('SIGKILL');
    }
}

async function echo(ws, msg, what) {
    const binary = Buffer.isBuffer(msg);
    ws.send(msg, { binary });
    const m = await h.next(ws);
    assert.strictEqual(m.isBinary, binary, `${what}: opcode changed`);
    assert.ok(m.data.equals(binary ? msg : Buffer.from(msg)), `${what}: content changed (${m.data.length} back)`);
}

async function closeCleanly(ws, reason = '') {
    ws.close(1000, reason);
    const c = await h.within(h.STEP_TIMEOUT_MS, ws.closed, 'close');
    assert.strictEqual(c.code, 1000);
    return c;
}

// Records the upgrade response's extension header on every new client.
const answers = new WeakMap();
function watchUpgrade(url, options) {
    return new Promise((resolve, reject) => {
        const ws = new WebSocket(url, { maxPayload: 64 << 20, ...options });
        ws.on('upgrade', (res) => answers.set(ws, res.headers['sec-websocket-extensions']));
        ws.once('open', () => resolve(ws));
        ws.once('error', reject);
    });
}

// A ws client whose messages queue for h.next(); ws.answer is the 101's
// Sec-WebSocket-Extensions.
async function open(url, perMessageDeflate) {
    const raw = await h.within(h.STEP_TIMEOUT_MS, watchUpgrade(url, { perMessageDeflate }), `connect ${url}`);
    raw.inbox = [];
    raw.waiters = [];
    raw.on('message', (data, isBinary) => {
        const m = { data, isBinary };
        if (raw.waiters.length) raw.waiters.shift()(m); else raw.inbox.push(m);
    });
    raw.closed = new Promise((resolve) => raw.on('close', (code, reason) =>
        resolve({ code, reason: reason.toString() })));
    raw.answer = answers.get(raw);
    return raw;
}

// --- ws client -> cws-echo --deflate -----------------------------------------

async function test_offer_accepted_and_every_size_echoed_compressed() {
    await withEcho(['--deflate'], async (srv) => {
        const ws = await open(srv.url, { threshold: 0 });
        assert.strictEqual(ws.answer, 'permessage-deflate');
        assert.strictEqual(ws.extensions, 'permessage-deflate');
        const sent = [];
        for (const [kind, make] of [['text', textOf], ['random binary', bytesOf], ['compressible binary', compressible]]) {
            for (const n of SIZES) {
                await echo(ws, make(n), `${kind} ${n} B`);
                sent.push([kind, n]);
            }
        }
        const got = messages(ws);
        assert.strictEqual(got.length, sent.length);
        sent.forEach(([kind, n], i) => {
            assert.ok(got[i].rsv1, `${kind} ${n} B: echo not compressed`);
            if (kind !== 'random binary' && n >= 1024) assert.ok(got[i].wire < n / 2, `${kind} ${n} B: ${got[i].wire} on the wire`);
        });
        await closeCleanly(ws);
        console.log(`  ${sent.length} echoes, all with RSV1`);
    });
}

async function test_threshold_1024_leaves_shorter_echoes_uncompressed() {
    await withEcho(['--deflate', '--deflate-threshold', '1024'], async (srv) => {
        const ws = await open(srv.url, { threshold: 0 });
        const sizes = [0, 1, 125, 126, 1023, 1024, 1025, 65536, 1 << 20];
        for (const n of sizes) {
            await echo(ws, textOf(n), `text ${n} B`);
            await echo(ws, compressible(n), `binary ${n} B`);
        }
        assert.deepStrictEqual(messages(ws).map((m) => m.rsv1), sizes.flatMap((n) => [n >= 1024, n >= 1024]));
        await closeCleanly(ws);
    });
}

async function test_fragments_with_a_ping_between() {
    await withEcho(['--deflate'], async (srv) => {
        const ws = await open(srv.url, { threshold: 0 });
        const pong = new Promise((resolve) => ws.once('pong', resolve));
        // ws compresses each fragment with a sync flush, RSV1 on the first (§6.1).
        ws.send(Buffer.from('frag-'), { binary: true, fin: false });
        ws.ping(Buffer.from('mid'));
        ws.send(compressible(70000), { binary: true, fin: false });
        ws.send(bytesOf(5000), { binary: true, fin: false });
        ws.send(Buffer.from('-end'), { binary: true, fin: true });
        const m = await h.next(ws);
        const want = Buffer.concat([Buffer.from('frag-'), compressible(70000), bytesOf(5000), Buffer.from('-end')]);
        assert.ok(m.isBinary && m.data.equals(want), 'reassembled message differs');
        assert.strictEqual((await h.within(h.STEP_TIMEOUT_MS, pong, 'pong')).toString(), 'mid');
        ws.send('héllo ', { fin: false });
        ws.send('wörld 😀', { fin: true });
        const t = await h.next(ws);
        assert.ok(!t.isBinary && t.data.toString() === 'héllo wörld 😀');
        await closeCleanly(ws);
    });
}

async function test_close_1000_with_reason_and_1009_past_max_message() {
    await withEcho(['--deflate', '--max-message', '65536'], async (srv) => {
        let ws = await open(srv.url, { threshold: 0 });
        await echo(ws, Buffer.alloc(65536), '65536 zeros (at the limit)');
        const c = await closeCleanly(ws, 'bye ünïcode');
        assert.ok(c.reason === '' || c.reason === 'bye ünïcode', c.reason);

        ws = await open(srv.url, { threshold: 0 });
        ws.send('a'.repeat(1 << 20)); // about 1 KiB on the wire
        assert.strictEqual((await h.within(h.STEP_TIMEOUT_MS, ws.closed, 'close')).code, 1009);

        ws = await open(srv.url, { threshold: 0 });
        ws.send(Buffer.alloc(64 << 20)); // a bomb: some 64 KiB on the wire
        assert.strictEqual((await h.within(h.STEP_TIMEOUT_MS, ws.closed, 'close')).code, 1009);

        ws = await open(srv.url, { threshold: 0 }); // still serving
        await echo(ws, 'still here', 'text');
        await closeCleanly(ws);
    });
}

// perMessageDeflate options of the ws client.
const OFFERS = [
    {}, { serverNoContextTakeover: true }, { clientNoContextTakeover: true },
    { serverNoContextTakeover: true, clientNoContextTakeover: true },
    ...[8, 9, 10, 11, 12, 13, 14, 15].map((b) => ({ serverMaxWindowBits: b })),
    ...[8, 9, 10, 11, 12, 13, 14, 15].map((b) => ({ clientMaxWindowBits: b })),
    { serverMaxWindowBits: 9, clientMaxWindowBits: 9, serverNoContextTakeover: true, clientNoContextTakeover: true },
    { clientMaxWindowBits: 8, zlibDeflateOptions: { level: 9, memLevel: 9 } },
];

async function test_every_offer_variant_echoes() {
    const payload = windowed();
    const probe = bytesOf(PROBE_LEN, 99);
    await withEcho(['--deflate'], async (srv) => {
        for (const offer of OFFERS) {
            const what = `offer ${JSON.stringify(offer)}`;
            const ws = await open(srv.url, { threshold: 0, ...offer });
            const params = ws._extensions['permessage-deflate'].params;
            assert.strictEqual(!!params.server_no_context_takeover, !!offer.serverNoContextTakeover, `${what}: ${ws.answer}`);
            const serverBits = offer.serverMaxWindowBits || 15;
            assert.strictEqual(Number(params.server_max_window_bits || 15), serverBits, `${what}: ${ws.answer}`);
            for (const m of [probe, probe, payload, payload, textOf(40000), textOf(40000), Buffer.alloc(0), 'short']) {
                await echo(ws, m, what);
            }
            const got = messages(ws);
            assert.ok(got.every((m) => m.rsv1), `${what}: an echo went uncompressed`);
            const small = secondCopySmall(!!offer.serverNoContextTakeover, serverBits);
            assert.strictEqual(got[1].wire < 100, small, `${what}: the echoes of one probe took ${got[0].wire}, ${got[1].wire}`);
            await closeCleanly(ws);
        }
    });
    console.log(`  ${OFFERS.length} offers, each echoing back-references at distances 200 .. 30000`);
}

async function test_offerless_client_against_deflate_server() {
    await withEcho(['--deflate'], async (srv) => {
        const ws = await open(srv.url, false);
        assert.strictEqual(ws.answer, undefined, `answered ${ws.answer}`);
        assert.strictEqual(ws.extensions, '');
        // ws fails the connection on an RSV1 frame here ("RSV1 must be clear").
        for (const n of SIZES) {
            await echo(ws, textOf(n), `text ${n} B`);
            await echo(ws, compressible(n), `binary ${n} B`);
        }
        await closeCleanly(ws);
    });
}

// --- ws server -> cws-client --deflate ---------------------------------------

// An in-process ws echo server; .offers: each request's extension header.
async function wsServer(perMessageDeflate) {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, maxPayload: 64 << 20, perMessageDeflate });
    wss.offers = [];
    wss.conns = [];
    wss.on('connection', (ws, req) => {
        wss.offers.push(req.headers['sec-websocket-extensions']);
        wss.conns.push(ws);
        ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    });
    await h.within(h.STEP_TIMEOUT_MS, new Promise((resolve) => wss.once('listening', resolve)), 'ws server');
    wss.url = `ws://127.0.0.1:${wss.address().port}`;
    return wss;
}

function stopServer(wss) {
    for (const c of wss.clients) c.terminate();
    return new Promise((resolve) => wss.close(resolve));
}

// Runs cws-client with lines on stdin, kept open until every echo is
// back; resolves {code, out: Buffer, err: string}.
function runClient(args, lines) {
    const input = Buffer.concat(lines.flatMap((l) => [Buffer.from(l), Buffer.from('\n')]));
    const proc = spawn(CLIENT, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out = [];
    let outLen = 0, err = '';
    proc.stderr.on('data', (d) => { err += d; });
    proc.stdout.on('data', (d) => {
        out.push(d);
        outLen += d.length;
        if (outLen >= input.length) proc.stdin.end();
    });
    proc.stdin.on('error', () => {});
    proc.stdin.write(input);
    const done = new Promise((resolve) => proc.on('exit', (code) =>
        resolve({ code, out: Buffer.concat(out), err, input })));
    return h.within(h.STEP_TIMEOUT_MS, done, 'cws-client to finish').finally(() => proc.kill('SIGKILL'));
}

const OFFER = 'permessage-deflate; client_max_window_bits';
const LINES = [Buffer.alloc(0), Buffer.from('x'), Buffer.from('wörld 😀 €'), Buffer.from('y'.repeat(1023)),
    Buffer.from('y'.repeat(1024)), compressible(200000).map((b) => (b === 10 ? 32 : b)), windowed(lettersOf)];

async function test_cws_client_against_ws_server() {
    const wss = await wsServer(true); // ws's defaults: threshold 1024, zlib level 3 (Node's default)
    try {
        const lines = [...LINES, ...LINES];
        const r = await runClient(['-v', '--deflate', wss.url], lines);
        assert.strictEqual(r.code, 0, `exit ${r.code}: ${r.err}`);
        assert.ok(r.out.equals(r.input), `${r.out.length} of ${r.input.length} bytes back`);
        assert.ok(r.err.includes('compression: permessage-deflate'), r.err);
        assert.deepStrictEqual(wss.offers, [OFFER]);
        const got = messages(wss.conns[0]);
        assert.deepStrictEqual(got.map((m) => m.rsv1), lines.map((l) => l.length >= CLIENT_THRESHOLD));
    } finally {
        await stopServer(wss);
    }
}

// Each a different answer from a ws server to cws-client's offer.
const SERVER_VARIANTS = [
    { threshold: 0 }, { serverNoContextTakeover: true }, { clientNoContextTakeover: true },
    { clientMaxWindowBits: 10 }, { clientMaxWindowBits: 8 }, { serverMaxWindowBits: 10 }, { serverMaxWindowBits: 9 },
    { threshold: 0, serverMaxWindowBits: 9, clientMaxWindowBits: 9, serverNoContextTakeover: true, clientNoContextTakeover: true },
];

async function test_cws_client_window_and_takeover_variants() {
    const probe = lettersOf(PROBE_LEN, 5);
    const lines = [probe, probe, windowed(lettersOf), windowed(lettersOf), Buffer.from('ünï 😀'.repeat(500)), Buffer.from('short')];
    for (const v of SERVER_VARIANTS) {
        const what = JSON.stringify(v);
        const wss = await wsServer(v);
        try {
            const r = await runClient(['-v', '--deflate', wss.url], lines);
            assert.strictEqual(r.code, 0, `${what}: exit ${r.code}: ${r.err}`);
            assert.ok(r.out.equals(r.input), `${what}: ${r.out.length} of ${r.input.length} bytes back`);
            assert.ok(r.err.includes('compression: permessage-deflate'), `${what}: ${r.err}`);
            const got = messages(wss.conns[0]);
            assert.deepStrictEqual(got.map((m) => m.rsv1), [true, true, true, true, true, false], what);
            const small = secondCopySmall(!!v.clientNoContextTakeover, v.clientMaxWindowBits || 15);
            assert.strictEqual(got[1].wire < 100, small, `${what}: the probe took ${got[0].wire}, then ${got[1].wire}`);
        } finally {
            await stopServer(wss);
        }
    }
    console.log(`  ${SERVER_VARIANTS.length} server answers, incl. a client window of 8`);
}

async function test_cws_client_when_ws_server_declines() {
    const wss = await wsServer(false);
    try {
        const r = await runClient(['-v', '--deflate', wss.url], LINES);
        assert.strictEqual(r.code, 0, `exit ${r.code}: ${r.err}`);
        assert.ok(r.out.equals(r.input), `${r.out.length} of ${r.input.length} bytes back`);
        assert.ok(r.err.includes('compression: (none)'), r.err);
        assert.deepStrictEqual(wss.offers, [OFFER]);
        assert.ok(messages(wss.conns[0]).every((m) => !m.rsv1));
    } finally {
        await stopServer(wss);
    }
}

async function test_cws_client_without_flag_offers_nothing() {
    const wss = await wsServer(true);
    try {
        const r = await runClient(['-v', wss.url], LINES);
        assert.strictEqual(r.code, 0, `exit ${r.code}: ${r.err}`);
        assert.ok(r.out.equals(r.input));
        assert.deepStrictEqual(wss.offers, [undefined]);
        assert.ok(!r.err.includes('compression: permessage-deflate'), r.err); // printed only with --deflate
    } finally {
        await stopServer(wss);
    }
}

h.runCases([
    test_offer_accepted_and_every_size_echoed_compressed,
    test_threshold_1024_leaves_shorter_echoes_uncompressed,
    test_fragments_with_a_ping_between,
    test_close_1000_with_reason_and_1009_past_max_message,
    test_every_offer_variant_echoes,
    test_offerless_client_against_deflate_server,
    test_cws_client_against_ws_server,
    test_cws_client_window_and_takeover_variants,
    test_cws_client_when_ws_server_declines,
    test_cws_client_without_flag_offers_nothing,
]);
