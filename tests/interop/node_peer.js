// The Node `ws` and headless Chromium side of the interop matrix.
//
//   node node_peer.js serve [--deflate]          peer server (see cws_peer.c
//                                                for the path protocol);
//                                                --deflate: accepts
//                                                permessage-deflate
//   node node_peer.js client ECHO_URL CTRL_URL [DEFLATE_URL]
//                                                the checklist with Node ws
//   node node_peer.js browser ECHO_URL CTRL_URL [DEFLATE_URL]
//                                                the checklist in a page of
//                                                headless Chromium, with the
//                                                browser's own WebSocket
// With DEFLATE_URL, the "deflate" check too: permessage-deflate (which
// both offer by default) agreed with DEFLATE_URL/echo, and a compressible
// text and an incompressible binary of 64 KiB echoed.
// Clients print "CHECK name ok|fail|na detail" lines.
'use strict';
const path = require('path');
const NODE_MODULES = path.join(__dirname, '..', 'node_modules');
const WebSocket = require(path.join(NODE_MODULES, 'ws'));

const PING = 'interop-ping';

// Runs in Node and, as source text, inside the page: it may use nothing
// but its arguments and what both have (WebSocket API, TextEncoder).
// pingOut(ws) resolves {ok, detail}, or is null where the API has no ping.
async function checklist(WS, echoBase, base, pingOut, deflateBase) {
    const STEP_MS = 10000;
    const results = [];
    const report = (name, ok, detail) => results.push([name, ok, String(detail || '')]);
    const within = (p, what) => {
        let timer;
        const t = new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error('timed out: ' + what)), STEP_MS);
        });
        return Promise.race([p, t]).finally(() => clearTimeout(timer));
    };

    function open(url) {
        const ws = new WS(url);
        ws.binaryType = 'arraybuffer';
        ws.inbox = [];
        ws.waiters = [];
        ws.onmessage = (e) => (ws.waiters.length ? ws.waiters.shift()(e.data) : ws.inbox.push(e.data));
        ws.closed = new Promise((resolve) => { ws.onclose = (e) => resolve({ code: e.code, reason: e.reason }); });
        return within(new Promise((resolve, reject) => {
            ws.onopen = () => resolve(ws);
            ws.onerror = () => reject(new Error('cannot open ' + url));
        }), 'open');
    }
    const next = (ws) => within(ws.inbox.length ? Promise.resolve(ws.inbox.shift())
        : new Promise((resolve) => ws.waiters.push(resolve)), 'a message');

    function textOf(n) {
        const s = 'a\u00e9\u20ac\u{1F600}'.repeat(Math.floor(n / 10)); // 1+2+3+4 bytes
        return s + 'x'.repeat(n - new TextEncoder().encode(s).length);
    }
    function bytesOf(n) {
        const b = new Uint8Array(n);
        let x = (n * 2654435761 + 1) >>> 0;
        for (let i = 0; i < n; i++) {
            x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
            b[i] = x & 255;
        }
        return b;
    }
    function sameBytes(a, b) {
        if (!(a instanceof ArrayBuffer) || a.byteLength !== b.length) return false;
        const v = new Uint8Array(a);
        for (let i = 0; i < v.length; i++) if (v[i] !== b[i]) return false;
        return true;
    }

    const sizes = [[0, '0'], [1, '1'], [125, '125'], [65536, '64K'], [4 << 20, '4M']];
    let ws = await open(echoBase + '/echo');
    for (const [n, label] of sizes) {
        const sent = textOf(n);
        try {
            ws.send(sent);
            const got = await next(ws);
            report('text_' + label, got === sent, typeof got);
        } catch (e) { report('text_' + label, false, e.message); }
    }
    for (const [n, label] of sizes) {
        const sent = bytesOf(n);
        try {
            ws.send(sent);
            const got = await next(ws);
            report('binary_' + label, sameBytes(got, sent), typeof got);
        } catch (e) { report('binary_' + label, false, e.message); }
    }
    if (pingOut) {
        try {
            const r = await within(pingOut(ws), 'pong');
            report('ping_out', r.ok, r.detail);
        } catch (e) { report('ping_out', false, e.message); }
    } else {
        results.push(['ping_out', 'na', 'the API has no ping']);
    }
    ws.close(1000);
    await within(ws.closed, 'close');

    ws = await open(base + '/ping-me');
    try {
        const got = await next(ws);
        report('ping_in', got === 'pong:interop-ping', 'server saw ' + got);
    } catch (e) { report('ping_in', false, e.message); }
    ws.close(1000);
    await within(ws.closed, 'close');

    ws = await open(base + '/close-1000');
    ws.close(1000, 'client bye');
    try {
        const c = await within(ws.closed, 'close');
        report('close_1000', c.code === 1000, 'client saw ' + c.code + ' ' + c.reason);
    } catch (e) { report('close_1000', false, e.message); }

    ws = await open(base + '/close-4001');
    try {
        const c = await within(ws.closed, 'close');
        report('close_4001', c.code === 4001 && c.reason === 'server bye', 'client saw ' + c.code + ' ' + c.reason);
    } catch (e) { report('close_4001', false, e.message); }

    if (deflateBase) {
        try {
            ws = await open(deflateBase + '/echo');
            // Node ws: the names; a browser: the whole header value.
            if (!/^permessage-deflate(;|,|$)/.test(ws.extensions)) {
                report('deflate', false, 'agreed ' + JSON.stringify(ws.extensions));
            } else {
                const text = textOf(65536), bin = bytesOf(65536);
                ws.send(text);
                const t = await next(ws);
                ws.send(bin);
                const b = await next(ws);
                report('deflate', t === text && sameBytes(b, bin),
                    'agreed ' + ws.extensions + '; text ' + (t === text) + ', binary ' + sameBytes(b, bin));
            }
            ws.close(1000);
            await within(ws.closed, 'close');
        } catch (e) { report('deflate', false, e.message); }
    }
    return results;
}

function print(results) {
    for (const [name, ok, detail] of results)
        console.log(`CHECK ${name} ${ok === 'na' ? 'na' : ok ? 'ok' : 'fail'} ${detail}`);
}

function nodePingOut(ws) {
    return new Promise((resolve) => {
        ws.once('pong', (data) => resolve({ ok: data.toString() === PING, detail: 'pong ' + data }));
        ws.ping(PING);
    });
}

async function runBrowser(echoBase, base, deflateBase) {
    const { chromium } = require(path.join(NODE_MODULES, 'playwright-core'));
    const browser = await chromium.launch({
        executablePath: '/usr/bin/chromium',
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
            '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    try {
        const page = await browser.newPage();
        const results = await page.evaluate(async ([src, e, b, d]) => {
            const fn = (0, eval)('(' + src + ')');
            return fn(WebSocket, e, b, null, d);
        }, [checklist.toString(), echoBase, base, deflateBase || null]);
        print(results);
    } finally {
        await browser.close();
    }
}

function serve(deflate) {
    const wss = new WebSocket.WebSocketServer({ host: '127.0.0.1', port: 0, maxPayload: 64 << 20,
        perMessageDeflate: deflate });
    wss.on('listening', () => console.log(`listening on ws://127.0.0.1:${wss.address().port}`));
    wss.on('connection', (ws, req) => {
        const p = req.url;
        ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
        ws.on('pong', (data) => ws.send('pong:' + data.toString()));
        ws.on('close', (code, reason) => console.log(`CLOSE ${p} ${code} ${reason}`));
        if (p === '/ping-me') ws.ping(PING);
        if (p === '/close-4001') ws.close(4001, 'server bye');
    });
}

async function main() {
    const [mode, echoBase, base, deflateBase] = process.argv.slice(2);
    if (mode === 'serve') return serve(echoBase === '--deflate');
    if (mode === 'client' && base) {
        print(await checklist(WebSocket, echoBase, base, nodePingOut, deflateBase));
        return;
    }
    if (mode === 'browser' && base) return runBrowser(echoBase, base, deflateBase);
    console.error('usage: node node_peer.js serve [--deflate] | client ECHO_URL CTRL_URL [DEFLATE_URL]'
        + ' | browser ECHO_URL CTRL_URL [DEFLATE_URL]');
    process.exit(2);
}

main().catch((e) => { console.error(e); process.exit(1); });
