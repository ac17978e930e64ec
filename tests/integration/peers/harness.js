// Test harness for the Node interop tests: start a server that prints
// "listening on ws://HOST:PORT" (or wss://), run async cases with a time bound each,
// and kill every started process whatever happens.
'use strict';
const assert = require('assert');
const path = require('path');
const { spawn } = require('child_process');

const REPO = path.resolve(__dirname, '..', '..', '..');
const BUILD = process.env.BUILD || 'build';
const WebSocket = require(path.join(REPO, 'tests', 'node_modules', 'ws'));
const STEP_TIMEOUT_MS = 10000;

const children = new Set();
const killAll = () => { for (const c of children) c.kill('SIGKILL'); };
process.on('exit', killAll);

function binary(name) {
    return path.resolve(REPO, BUILD, 'cws-' + name);
}

// Rejects with `what` if p has not settled within ms.
function within(ms, p, what) {
    let timer;
    const t = new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms);
    });
    return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

// Starts argv; resolves {proc, url, port, exited} once the first line names the URL.
function startServer(argv) {
    const proc = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(proc);
    let stderr = '';
    proc.stderr.on('data', (d) => { stderr += d; });
    const exited = new Promise((resolve) => proc.on('exit', (code, signal) => {
        children.delete(proc);
        resolve({ code, signal, stderr });
    }));
    const ready = new Promise((resolve, reject) => {
        let out = '';
        proc.stdout.on('data', (d) => {
            out += d;
            const nl = out.indexOf('\n');
            if (nl < 0) return;
            const m = /^listening on (wss?:\/\/\S+:(\d+))$/.exec(out.slice(0, nl));
            if (m) resolve({ proc, url: m[1], port: Number(m[2]), exited });
            else reject(new Error(`unexpected first line: ${out.slice(0, nl)}`));
        });
        proc.on('error', reject);
        exited.then((e) => reject(new Error(`server exited early: ${JSON.stringify(e)}`)));
    });
    return within(STEP_TIMEOUT_MS, ready, `${argv[0]} to listen`);
}

// Opens a ws client; resolves once open.
function connect(url, options = {}) {
    const ws = new WebSocket(url, { maxPayload: 64 << 20, ...options });
    // Messages queue here so a test can await them one by one, in order.
    ws.inbox = [];
    ws.waiters = [];
    ws.on('message', (data, isBinary) => {
        const m = { data, isBinary };
        if (ws.waiters.length) ws.waiters.shift()(m); else ws.inbox.push(m);
    });
    ws.closed = new Promise((resolve) => ws.on('close', (code, reason) =>
        resolve({ code, reason: reason.toString() })));
    return within(STEP_TIMEOUT_MS, new Promise((resolve, reject) => {
        ws.once('open', () => resolve(ws));
        ws.once('error', reject);
    }), `connect to ${url}`);
}

// The next message on ws: {data: Buffer, isBinary}.
function next(ws) {
    const p = ws.inbox.length ? Promise.resolve(ws.inbox.shift())
        : new Promise((resolve) => ws.waiters.push(resolve));
    return within(STEP_TIMEOUT_MS, p, 'a message');
}

// A string whose UTF-8 form is exactly n bytes, with 1- to 4-byte characters.
function textOf(n) {
    let s = 'aé€😀'.repeat(Math.floor(n / 10)); // 1 + 2 + 3 + 4 bytes
    return s + 'x'.repeat(n - Buffer.byteLength(s));
}

// n bytes of a fixed pseudo-random sequence (xorshift), different per n.
function bytesOf(n) {
    const b = Buffer.alloc(n);
    let x = (n * 2654435761) >>> 0 || 1;
    for (let i = 0; i < n; i++) {
        x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
        b[i] = x & 255;
    }
    return b;
}

// Sends one binary message in three fragments (§5.4) with a ping between
// them (§5.5) on an open connection to an echo server; asserts the echo
// is the whole message and the pong carries the ping's payload.
async function fragmentsWithPing(ws) {
    const pong = new Promise((resolve) => ws.once('pong', resolve));
    ws.send(Buffer.from('frag-'), { binary: true, fin: false });
    ws.ping(Buffer.from('mid'));
    ws.send(bytesOf(70000), { binary: true, fin: false });
    ws.send(Buffer.from('-end'), { binary: true, fin: true });
    const m = await next(ws);
    const want = Buffer.concat([Buffer.from('frag-'), bytesOf(70000), Buffer.from('-end')]);
    assert.ok(m.isBinary && m.data.equals(want), 'reassembled message differs');
    const p = await within(STEP_TIMEOUT_MS, pong, 'pong');
    assert.strictEqual(p.toString(), 'mid');
}

// Runs the cases in order; exits 0 only if all pass.
async function runCases(cases, caseTimeoutMs = 60000) {
    let failed = 0;
    for (const c of cases) {
        const start = Date.now();
        try {
            await within(caseTimeoutMs, c(), c.name);
            console.log(`ok   ${c.name} (${((Date.now() - start) / 1000).toFixed(2)} s)`);
        } catch (e) {
            failed++;
            console.log(`FAIL ${c.name}\n${e && e.stack ? e.stack : e}`);
        }
        killAll();
    }
    console.log(`${cases.length - failed} passed, ${failed} failed`);
    process.exit(failed ? 1 : 0);
}

module.exports = {
    WebSocket, binary, startServer, connect, next, within, runCases, STEP_TIMEOUT_MS, textOf, bytesOf, fragmentsWithPing,
};
