// Starting and stopping cws-chat for the headless-Chromium tests
// (test_browser*.js): each server serves examples/chat/web, its stderr is
// kept for the failure report, and stopping one waits for it to exit, so a
// test removes the history only after the server wrote its last file (the
// .epoch of a clean shutdown).
'use strict';
const fs = require('fs');
const path = require('path');
const { spawn } = require('child_process');

const REPO = path.resolve(__dirname, '..', '..', '..');
const BUILD = path.resolve(REPO, process.env.BUILD || 'build');
const CHAT = path.join(BUILD, 'cws-chat');
const CHROMIUM = '/usr/bin/chromium';
const STEP = 15000; // ms any single wait may take
const WEB = path.join(REPO, 'examples', 'chat', 'web');
let log = ''; // the stderr of every server started here

// Resolves with { proc, port, url } once the server prints its first line;
// rejects if it exits first or says nothing within STEP (then it is killed).
// tls: { cert, key } (PEM files) serves https:// and wss:// (--tls-cert,
// --tls-key); url is the page's, http://127.0.0.1:PORT/ or https://.
function startChat({ port = 0, history, extra = [], tls = null }) {
  const tlsArgs = tls ? ['--tls-cert', tls.cert, '--tls-key', tls.key] : [];
  return new Promise((resolve, reject) => {
    const proc = spawn(CHAT, ['--port', String(port), '--history', history, '--web', WEB, ...tlsArgs, ...extra],
      { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    proc.stderr.on('data', (d) => { log += d; });
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error('server did not start'));
    }, STEP);
    proc.stdout.on('data', (d) => {
      out += d;
      const m = /^listening on (https?):\/\/127\.0\.0\.1:(\d+)\n/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ proc, port: Number(m[2]), url: `${m[1]}://127.0.0.1:${m[2]}/` });
      }
    });
    proc.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error('server exited with ' + code));
    });
  });
}

// Headless Chromium as the browser tests run it; extraArgs are added
// (e.g. --ignore-certificate-errors-spki-list=HASH to trust one key).
function launchChromium(extraArgs = []) {
  const { chromium } = require('playwright-core');
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync', ...extraArgs],
  });
}

// What the servers wrote to stderr so far: shown if a test fails.
function serverLog() {
  return log;
}

// Sends signal and resolves with the exit code once the process has exited
// (null if the signal killed it); at once if it already has, or if srv is
// null (a server never started).
function stopChat(srv, signal = 'SIGTERM') {
  return new Promise((resolve) => {
    if (!srv) return resolve(null);
    if (srv.proc.exitCode !== null || srv.proc.signalCode !== null) return resolve(srv.proc.exitCode);
    srv.proc.once('exit', (code) => resolve(code));
    srv.proc.kill(signal);
  });
}

// Stops the server (or each of an array of them, nulls skipped) with
// SIGTERM, waits for the exit, then removes dir.
async function removeDir(srv, dir) {
  for (const s of [].concat(srv)) await stopChat(s);
  fs.rmSync(dir, { recursive: true, force: true });
}

// Runs a test's main(): exit 0 when it resolves; on a failure or after
// limitMs, exit 1 with what went wrong and the end of the server's stderr.
function runTest(name, main, limitMs) {
  const watchdog = setTimeout(() => {
    console.error(`FAIL ${name} timed out`);
    process.exit(1);
  }, limitMs);
  main().then(() => {
    clearTimeout(watchdog);
    process.exit(0);
  }, (e) => {
    console.error('FAIL ' + (e && e.stack || e));
    console.error('server stderr:\n' + serverLog().slice(-4000));
    process.exit(1);
  });
}

module.exports = { REPO, BUILD, CHAT, CHROMIUM, STEP, startChat, launchChromium, serverLog, stopChat, removeDir, runTest };
