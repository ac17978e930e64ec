// The chat page against two cws-chat nodes sharing one room in Redis
// (issue 13), in headless Chromium. A real deployment puts a load balancer
// in front of the nodes, since the page connects to its own origin; here a
// TCP proxy per page plays it. Page A (through proxy A, to node 1) and
// page B (through proxy B, to node 2) see each other's posts. Node 1 is
// killed -9 while proxy A refuses connections: A is disconnected, and a
// post typed then waits in its outbox while B goes on posting on node 2.
// Proxy A then routes to node 2: A resumes with since=&epoch= (no fresh
// start), gets what B posted meanwhile exactly once and in order, and its
// post is delivered exactly once, to A, to B and in the Redis stream.
'use strict';
const assert = require('assert');
const fs = require('fs');
const net = require('net');
const os = require('os');
const path = require('path');
const { execFileSync, spawn } = require('child_process');
const WebSocket = require('ws');
const { BUILD, STEP, startChat, launchChromium, stopChat, runTest } = require('./lib/chat_process');

const REDIS_CHAT = path.join(BUILD, 'redis', 'cws-chat');
const PREFIX = 'cws-chat-browser';
const children = []; // every process started here: killed on any exit
process.on('exit', () => {
  for (const p of children) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
});

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function redisCli(port, ...args) {
  return execFileSync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), '--raw', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

// redis-server on a free loopback port, AOF fsynced on every write, in dir.
async function startRedis(dir) {
  const port = await freePort();
  const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '',
    '--appendonly', 'yes', '--appendfsync', 'always', '--dir', dir, '--daemonize', 'no'],
  { stdio: ['ignore', 'ignore', 'ignore'] });
  children.push(proc);
  const deadline = Date.now() + STEP;
  for (;;) {
    try {
      if (redisCli(port, 'PING').trim() === 'PONG') return { proc, port };
    } catch (e) { /* not listening yet */ }
    if (Date.now() > deadline || proc.exitCode !== null) throw new Error('redis-server did not start');
    await new Promise((r) => setTimeout(r, 50));
  }
}

// Every message text in the room's stream, in stream order.
function streamTexts(port) {
  return redisCli(port, 'XRANGE', PREFIX + ':log', '-', '+').split('\n')
    .filter((l) => l.startsWith('{"type":"message"')).map((l) => JSON.parse(l).text);
}

// A node answers 503 until it has read the epoch and seq from Redis.
async function startNode(redisPort, history) {
  const node = await startChat({ bin: REDIS_CHAT, history, extra: ['--redis', `127.0.0.1:${redisPort}`,
    '--redis-prefix', PREFIX, '--max-per-ip', '0', '--ping-interval', '300'] });
  children.push(node.proc);
  const deadline = Date.now() + STEP;
  while (!await new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${node.port}/ws`);
    ws.on('message', () => { ws.terminate(); resolve(true); });
    ws.on('error', () => resolve(false));
  })) {
    if (Date.now() > deadline) throw new Error('the node never reached Redis');
    await new Promise((r) => setTimeout(r, 50));
  }
  return node;
}

// "The load balancer": a TCP proxy on its own port piping each new
// connection to proxy.backend (a port), or refusing it while that is null.
// Connections already piped live and die with their backend.
function startProxy(backend) {
  const proxy = { backend, sockets: new Set() };
  proxy.server = net.createServer((client) => {
    if (proxy.backend === null) return client.destroy();
    const up = net.connect(proxy.backend, '127.0.0.1');
    for (const s of [client, up]) {
      proxy.sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => {
        proxy.sockets.delete(s);
        client.destroy();
        up.destroy();
      });
    }
    client.pipe(up);
    up.pipe(client);
  });
  return new Promise((resolve) => proxy.server.listen(0, '127.0.0.1', () => {
    proxy.port = proxy.server.address().port;
    resolve(proxy);
  }));
}

function closeProxy(proxy) {
  if (!proxy) return;
  for (const s of proxy.sockets) s.destroy();
  proxy.server.close();
}

// The WebSocket connections a page opened and the server messages each got.
function recordSockets(page) {
  const conns = [];
  page.on('websocket', (ws) => {
    const c = { url: ws.url(), got: [] };
    conns.push(c);
    ws.on('framereceived', (f) => {
      try { c.got.push(JSON.parse(f.payload)); } catch (e) { c.got.push({ type: 'unparsable' }); }
    });
  });
  return conns;
}

// [seq, text] of every message the page shows, in order.
async function shownMessages(page) {
  return page.$$eval('#messages li.message', (lis) => lis.map((li) => [Number(li.dataset.seq),
    li.querySelector('.text').textContent]));
}

async function waitShown(page, text) {
  await page.waitForFunction((t) => [...document.querySelectorAll('#messages li.message .text')]
    .some((e) => e.textContent === t), text, { timeout: STEP });
}

async function ready(page) {
  await page.waitForFunction(() => ws && ws.readyState === WebSocket.OPEN && synced, null, { timeout: STEP });
}

async function say(page, text) {
  await page.fill('#input', text);
  await page.click('#send');
}

// Posts on page and waits until both pages show it.
async function postSeen(page, text, pages) {
  await say(page, text);
  for (const p of pages) await waitShown(p, text);
}

function outboxEmpty(page) {
  return page.waitForFunction(() => !document.querySelector('li.pending')
    && JSON.parse(sessionStorage.getItem('cws-chat.outbox') || '[]').length === 0, null, { timeout: STEP });
}

// The seqs are 1..n, each once, in order, and each text is there once.
function checkGapless(list, texts, who) {
  assert.deepStrictEqual(list.map(([s]) => s), list.map((_, i) => i + 1), `${who}: seqs not 1..n once each`);
  for (const t of texts) {
    const n = list.filter(([, x]) => x === t).length;
    assert.strictEqual(n, 1, `${who}: "${t}" shown ${n} times`);
  }
}

async function main() {
  if (!fs.existsSync(REDIS_CHAT)) throw new Error(`missing ${REDIS_CHAT}: make redis-chat first`);
  const t0 = Date.now();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cws-chat-browser-redis-'));
  const history = path.join(tmp, 'unused-with-redis');
  let redis = null, node1 = null, node2 = null, proxyA = null, proxyB = null, browser = null;
  try {
    redis = await startRedis(tmp);
    [node1, node2] = await Promise.all([startNode(redis.port, history), startNode(redis.port, history)]);
    proxyA = await startProxy(node1.port);
    proxyB = await startProxy(node2.port);
    browser = await launchChromium();
    const errors = [];
    const a = await (await browser.newContext()).newPage();
    const b = await (await browser.newContext()).newPage();
    const socketsA = recordSockets(a);
    for (const [p, proxy] of [[a, proxyA], [b, proxyB]]) {
      p.on('pageerror', (e) => errors.push(String(e)));
      await p.goto(`http://127.0.0.1:${proxy.port}/`);
      await ready(p);
    }

    // Across the nodes, both ways.
    await postSeen(a, 'from A on node 1', [a, b]);
    await postSeen(b, 'from B on node 2', [a, b]);
    const seqBefore = await a.evaluate(() => lastSeq);
    const roomEpoch = await a.evaluate(() => epoch);
    assert.strictEqual(seqBefore, 2, 'two messages before the kill');

    // Node 1 dies; its balancer has nowhere to send A for a moment.
    proxyA.backend = null;
    await stopChat(node1, 'SIGKILL');
    await a.waitForSelector('#status.reconnecting', { timeout: STEP });
    await say(a, 'typed while down');
    await a.waitForSelector('#messages li.pending', { timeout: STEP });
    const meanwhile = ['B while A is down 1', 'B while A is down 2', 'B while A is down 3'];
    for (const t of meanwhile) await postSeen(b, t, [b]);
    assert.strictEqual(await a.$$eval('#messages li.pending', (l) => l.length), 1, 'A still has its post pending');

    // The balancer now sends A to node 2.
    proxyA.backend = node2.port;
    await waitShown(a, 'typed while down');
    await outboxEmpty(a);
    await waitShown(b, 'typed while down');
    await postSeen(b, 'from B after the switch', [a, b]);
    await postSeen(a, 'from A on node 2', [a, b]);
    await a.waitForTimeout(300); // anything duplicated in flight arrives

    const texts = ['from A on node 1', 'from B on node 2', ...meanwhile, 'typed while down',
      'from B after the switch', 'from A on node 2'];
    // Redis stored each post once, in this order (A's post after B's three).
    assert.deepStrictEqual(streamTexts(redis.port), texts, 'the stream in Redis');
    const shownA = await shownMessages(a);
    const shownB = await shownMessages(b);
    checkGapless(shownA, texts, 'page A');
    checkGapless(shownB, texts, 'page B');
    assert.deepStrictEqual(shownA, shownB, 'pages A and B show different histories');

    // On the wire: A's first socket (node 1) and the one that resumed on
    // node 2 with since=2&epoch=E; between them only refused attempts.
    const opened = socketsA.filter((c) => c.got.some((m) => m.type === 'hello'));
    assert.strictEqual(opened.length, 2, `A's sockets that got a hello: ${opened.map((c) => c.url)}`);
    const resumed = new URL(opened[1].url);
    assert.strictEqual(resumed.port, String(proxyA.port), 'A reconnected to its own origin');
    assert.strictEqual(resumed.searchParams.get('since'), String(seqBefore), `A resumed with ${resumed.search}`);
    assert.strictEqual(resumed.searchParams.get('epoch'), roomEpoch, `A resumed with ${resumed.search}`);
    const hello = opened[1].got.find((m) => m.type === 'hello');
    assert.strictEqual(hello.epoch, roomEpoch, 'node 2 has the room\'s epoch');
    const wire = opened.flatMap((c) => c.got.filter((m) => m.type === 'message').map((m) => [m.seq, m.text]));
    checkGapless(wire, texts, 'A\'s sockets (every message frame)');
    const gap = opened[1].got.find((m) => m.type === 'notice');
    assert.ok(!gap, `A got a notice on resuming: ${JSON.stringify(gap)}`);
    assert.deepStrictEqual(errors, [], 'page errors');
    console.log(`ok   two nodes: posts cross; node 1 killed -9, A resumed on node 2 with since=${seqBefore}; ` +
      `the post typed while down delivered once (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  } finally {
    if (browser) await browser.close();
    closeProxy(proxyA);
    closeProxy(proxyB);
    await stopChat(node1, 'SIGKILL');
    await stopChat(node2);
    if (redis) redis.proc.kill('SIGKILL');
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

runTest('browser redis test', main, 60000);
