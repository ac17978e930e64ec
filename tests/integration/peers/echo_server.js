// A Node `ws` echo server that reports what it sees, for testing clients.
//   node echo_server.js [--tls-cert FILE --tls-key FILE]
// First stdout line: "listening on ws://127.0.0.1:PORT" (ephemeral port;
// wss:// with the TLS options: an https.createServer carries the ws server).
// Then one JSON object per line for each event:
//   {"event":"open","path":..,"headers":{..},"protocol":..}
//   {"event":"message","binary":bool,"len":n}
//   {"event":"close","code":n,"reason":".."}
// Every message is echoed with its opcode, except two commands a test can
// send as text: "please-binary" (answered with binary 00 01 fe ff) and
// "please-close" (the server closes with 1001 "going").
'use strict';
const fs = require('fs');
const https = require('https');
const path = require('path');
const { WebSocketServer } = require(path.join(__dirname, '..', '..', 'node_modules', 'ws'));

const report = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');
const option = (name) => {
    const i = process.argv.indexOf(name);
    return i > 0 ? process.argv[i + 1] : undefined;
};
const certFile = option('--tls-cert');
const tls = certFile ? https.createServer({
    cert: fs.readFileSync(certFile),
    key: fs.readFileSync(option('--tls-key')),
}) : null;

const wss = new WebSocketServer({
    ...(tls ? { server: tls } : { host: '127.0.0.1', port: 0 }),
    maxPayload: 64 << 20,
    // Pick the first subprotocol the client offers, so a test sees it chosen.
    handleProtocols: (offered) => offered.values().next().value || false,
});

const listening = () => {
    process.stdout.write(`listening on ${tls ? 'wss' : 'ws'}://127.0.0.1:${wss.address().port}\n`);
};
if (tls) tls.listen(0, '127.0.0.1', listening);
else wss.on('listening', listening);

wss.on('connection', (ws, req) => {
    report({ event: 'open', path: req.url, headers: req.headers, protocol: ws.protocol });
    ws.on('message', (data, isBinary) => {
        report({ event: 'message', binary: isBinary, len: data.length });
        if (!isBinary && data.toString() === 'please-binary') {
            ws.send(Buffer.from([0x00, 0x01, 0xfe, 0xff]));
        } else if (!isBinary && data.toString() === 'please-close') {
            ws.close(1001, 'going');
        } else {
            ws.send(data, { binary: isBinary });
        }
    });
    ws.on('close', (code, reason) => report({ event: 'close', code, reason: reason.toString() }));
});

const stop = () => process.exit(0);
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
// Never outlive the test that started us.
setTimeout(() => process.exit(3), 120000).unref();
