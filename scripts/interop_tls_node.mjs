// Interop over TLS with the official TypeScript SDK (@modelcontextprotocol/sdk), run by
// scripts/interop-tls-node.sh: for each served transport (Streamable HTTP, SSE, WebSocket),
// `GW --stdio <server-everything> --tlsCert ... --tlsKey ...`, then the SDK's client over
// https:// (wss:// for WebSocket), trusting the test CA through NODE_EXTRA_CA_CERTS (set by
// the script: Node reads it at start only). Each case lists the tools and calls `echo`.
//
//   node interop_tls_node.mjs <packages-dir> <logs-dir> <tls-dir> <gateway> [case ...]
//
// One `PASS|FAIL case: detail` line per case, then `N passed, N failed`.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';

const CASE_MS = 20000;
const LISTEN_MS = 10000;
const [pkgDir, logDir, tlsDir, gateway, ...wanted] = process.argv.slice(2);
if (!pkgDir || !logDir || !tlsDir || !gateway) {
  console.error('usage: node interop_tls_node.mjs <packages-dir> <logs-dir> <tls-dir> <gateway> [case ...]');
  process.exit(2);
}
const NM = path.join(pkgDir, 'node_modules');
const EVERYTHING = path.join(NM, '@modelcontextprotocol', 'server-everything', 'dist', 'index.js');
const sdk = (sub) => import(pathToFileURL(path.join(NM, '@modelcontextprotocol', 'sdk', 'dist', 'esm', sub)).href);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const shq = (s) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

// Node < 22 has no global WebSocket, which the SDK's WebSocketClientTransport uses.
if (typeof globalThis.WebSocket !== 'function') {
  globalThis.WebSocket = createRequire(path.join(NM, 'noop.js'))('ws');
}

const CASES = {
  'tls-streamable': { output: 'streamableHttp', scheme: 'https', urlPath: '/mcp', client: 'streamableHttp' },
  'tls-streamable-stateful': {
    output: 'streamableHttp', stateful: true, scheme: 'https', urlPath: '/mcp', client: 'streamableHttp',
  },
  'tls-sse': { output: 'sse', scheme: 'https', urlPath: '/sse', client: 'sse' },
  'tls-ws': { output: 'ws', scheme: 'wss', urlPath: '/message', client: 'ws' },
};

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function accepts(port) {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    const timer = setTimeout(() => done(false), 1000);
    function done(ok) {
      clearTimeout(timer);
      sock.destroy();
      resolve(ok);
    }
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

async function runCase(name, spec) {
  const port = await freePort();
  const child = [process.execPath, EVERYTHING, 'stdio'].map(shq).join(' ');
  const args = ['--stdio', child, '--outputTransport', spec.output, '--port', String(port),
    '--tlsCert', path.join(tlsDir, 'cert.pem'), '--tlsKey', path.join(tlsDir, 'key.pem')];
  if (spec.stateful) args.push('--stateful');
  const logPath = path.join(logDir, `${name}.gateway.log`);
  fs.writeFileSync(logPath, `$ ${[gateway, ...args].map(shq).join(' ')}\n`);
  const fd = fs.openSync(logPath, 'a');
  const gw = spawn(gateway, args, { detached: true, stdio: ['pipe', fd, fd] });
  fs.closeSync(fd);
  let exited = null;
  gw.once('exit', (code, sig) => { exited = sig ?? `exit ${code}`; });
  let client;
  try {
    const end = Date.now() + LISTEN_MS;
    while (!(await accepts(port))) {
      if (exited || Date.now() > end) throw new Error(`gateway not listening (${exited ?? 'timeout'}); see ${logPath}`);
      await sleep(100);
    }
    // `localhost`: the name the test certificate is for.
    const url = new URL(`${spec.scheme}://localhost:${port}${spec.urlPath}`);
    let transport;
    if (spec.client === 'sse') transport = new (await sdk('client/sse.js')).SSEClientTransport(url);
    else if (spec.client === 'streamableHttp') {
      transport = new (await sdk('client/streamableHttp.js')).StreamableHTTPClientTransport(url);
    } else transport = new (await sdk('client/websocket.js')).WebSocketClientTransport(url);
    const { Client } = await sdk('client/index.js');
    client = new Client({ name: 'sg-interop-tls', version: '1.0.0' }, { capabilities: {} });
    const opt = { timeout: 15000 };
    await client.connect(transport, opt);
    const tools = (await client.listTools(undefined, opt)).tools.map((t) => t.name);
    if (!tools.includes('echo')) throw new Error(`tools/list has no echo (got ${tools.join(', ')})`);
    const token = `interop-tls-${randomUUID()}`;
    const res = await client.callTool({ name: 'echo', arguments: { message: token } }, undefined, opt);
    const text = (res.content ?? []).find((c) => c.type === 'text')?.text;
    if (typeof text !== 'string' || !text.includes(token)) {
      throw new Error(`echo did not return the text: ${JSON.stringify(res).slice(0, 200)}`);
    }
    if (spec.stateful && !transport.sessionId) throw new Error('no Mcp-Session-Id');
    return `${tools.length} tools, echo ok over ${url.protocol}`;
  } finally {
    await client?.close().catch(() => {});
    try { process.kill(-gw.pid, 'SIGTERM'); } catch {}
    await Promise.race([new Promise((r) => gw.once('exit', r)), sleep(3000)]);
    try { process.kill(-gw.pid, 'SIGKILL'); } catch {}
  }
}

let passed = 0;
let failed = 0;
for (const name of wanted.length ? wanted : Object.keys(CASES)) {
  const spec = CASES[name];
  const t0 = Date.now();
  try {
    if (!spec) throw new Error(`no such case (cases: ${Object.keys(CASES).join(', ')})`);
    let timer;
    const detail = await Promise.race([
      runCase(name, spec),
      new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`no result within ${CASE_MS / 1000}s`)), CASE_MS); }),
    ]).finally(() => clearTimeout(timer));
    passed++;
    console.log(`PASS ${name}: ${detail} (${((Date.now() - t0) / 1000).toFixed(1)}s)`);
  } catch (err) {
    failed++;
    console.log(`FAIL ${name}: ${String(err?.message ?? err).split('\n')[0]}`);
  }
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
