// The throwaway certificates of certs.py for the Node TLS tests: made in a
// temporary directory by the Python script (one implementation), removed
// when the process exits. makeCerts() returns certs.py's dict (file paths,
// SPKI hashes).
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { execFileSync } = require('child_process');

function makeCerts() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cws-tls-'));
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  const out = execFileSync('/usr/bin/python3', [path.join(__dirname, 'certs.py'), dir], { encoding: 'utf8' });
  return JSON.parse(out);
}

// --tls-cert/--tls-key for the cws servers with certificate `which`.
function serverArgs(certs, which = 'server') {
  return ['--tls-cert', certs[`${which}_cert`], '--tls-key', certs[`${which}_key`]];
}

module.exports = { makeCerts, serverArgs };
