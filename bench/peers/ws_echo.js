// Peer echo server for the benchmarks: Node's `ws` package (npm). Echoes
// every message with the same opcode. No permessage-deflate unless
// --deflate: then ws's own (zlib, level 6 and memLevel 8 by default, its
// zlib calls on libuv's thread pool) with no threshold, so every echo is
// compressed, as cws-echo --deflate does.
// --broadcast relays every message to every open client, the sender
// included (the fan-out benchmark, issue 18), as ws's README shows it: a
// loop over wss.clients with client.send() for each open one.
//   node bench/peers/ws_echo.js [--port N] [--deflate] [--broadcast]
//   (port 0: ephemeral; prints "listening on HOST:PORT")
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

const i = process.argv.indexOf('--port');
const port = i > 0 ? Number(process.argv[i + 1]) : 0;
const perMessageDeflate = process.argv.includes('--deflate') ? { threshold: 0 } : false;
const wss = new WebSocketServer({ host: '127.0.0.1', port, perMessageDeflate, maxPayload: 64 << 20 });
wss.on('listening', () => {
  process.stdout.write(`listening on 127.0.0.1:${wss.address().port}\n`);
});
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
