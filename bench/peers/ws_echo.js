// Peer echo server for the benchmarks: Node's `ws` package (npm). Echoes
// every message with the same opcode. No permessage-deflate unless
// --deflate: then ws's own (zlib, level 6 and memLevel 8 by default, its
// zlib calls on libuv's thread pool) with no threshold, so every echo is
// compressed, as cws-echo --deflate does.
// --broadcast relays every message to every open client, the sender
// included (the fan-out benchmark, issue 18), as ws's README shows it: a
// loop over wss.clients with client.send() for each open one.
// --tls-cert FILE --tls-key FILE serve wss://: ws on an
// https.createServer({ cert, key }) (Node's TLS, its bundled OpenSSL, on
// the main thread), the TLS benchmark (issue 12).
//   node bench/peers/ws_echo.js [--port N] [--deflate] [--broadcast]
//        [--tls-cert FILE --tls-key FILE]
//   (port 0: ephemeral; prints "listening on HOST:PORT", wss://HOST:PORT
//   with TLS)
'use strict';
const path = require('path');
const { createRequire } = require('module');

// `ws` from bench/node_modules if `make bench-deps` put it there, else the
// tests' copy.
function loadWs() {
  for (const dir of ['..', path.join('..', '..', 'tests')]) {
    try {
      return createRequire(path.join(__dirname, dir, 'package.json'))('ws');
    } catch (e) { /* try the next */ }
  }
  return require('ws');
}
const WebSocket = loadWs();
const { WebSocketServer } = WebSocket;

function arg(name) {
  const k = process.argv.indexOf(name);
  return k > 0 ? process.argv[k + 1] : undefined;
}
const port = Number(arg('--port') || 0);
const perMessageDeflate = process.argv.includes('--deflate') ? { threshold: 0 } : false;
const certFile = arg('--tls-cert');
const keyFile = arg('--tls-key');
let wss;
if (certFile) {
  const fs = require('fs');
  const https = require('https');
  const server = https.createServer({ cert: fs.readFileSync(certFile), key: fs.readFileSync(keyFile || certFile) });
  wss = new WebSocketServer({ server, perMessageDeflate, maxPayload: 64 << 20 });
  server.listen(port, '127.0.0.1', () => {
    process.stdout.write(`listening on wss://127.0.0.1:${server.address().port}\n`);
  });
} else {
  wss = new WebSocketServer({ host: '127.0.0.1', port, perMessageDeflate, maxPayload: 64 << 20 });
  wss.on('listening', () => {
    process.stdout.write(`listening on 127.0.0.1:${wss.address().port}\n`);
  });
}
const broadcast = process.argv.includes('--broadcast');
wss.on('connection', (ws) => {
  if (broadcast) {
    ws.on('message', (data, isBinary) => {
      for (const client of wss.clients) {
        if (client.readyState === WebSocket.OPEN) client.send(data, { binary: isBinary });
      }
    });
  } else {
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  }
  ws.on('error', () => {});
});
process.on('SIGTERM', () => process.exit(0));
