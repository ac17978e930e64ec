// Echo server on Node's `ws` (tests/node_modules), to check the
// conformance suite against an independent implementation. Same limit as
// cws-echo (16 MiB), no compression unless --deflate (then permessage-deflate
// with threshold 0: every echo compressed, as cws-echo --deflate). Prints
// "listening on ws://HOST:PORT".
'use strict';
const { WebSocketServer } = require('ws');

const deflate = process.argv.includes('--deflate');
const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, maxPayload: 16 * 1024 * 1024,
  perMessageDeflate: deflate ? { threshold: 0 } : false });
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on('error', () => {});
});
wss.on('listening', () => console.log(`listening on ws://127.0.0.1:${wss.address().port}`));
