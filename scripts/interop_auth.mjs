// The official TypeScript SDK's clients against the gateway's bearer tokens and TLS; run by
// scripts/interop-auth.sh, which installs the SDK and makes the certificates:
//
//   node interop_auth.mjs PACKAGES-DIR LOGS-DIR GATEWAY CHILD-CMD CERTS-DIR [CASE-FILTER ...]
//
// Every case starts its own gateway (`GATEWAY --stdio CHILD-CMD --authTokenFile F ...`, with
// `--tlsCert/--tlsKey` for the tls cases) and drives it with the SDK's Client and one of its
// client transports (SSE, Streamable HTTP, WebSocket). Cases, per transport:
//   plain|tls/token      the token in the transport's headers: tools/list, then a tools/call
//                        whose exact text is checked (and a session id when --stateful)
//   plain|tls/no-token   no Authorization header: connect fails, and the SDK reports HTTP 401
//                        (SseError/StreamableHTTPError code 401, the WebSocket's "Unexpected
//                        server response: 401"); every response seen was 401 `Bearer`
//   tls/untrusted        the gateway serves a certificate from a CA the client does not trust
//                        (NODE_EXTRA_CA_CERTS names the other CA): the TLS handshake fails
// One line per case, `PASS|FAIL name (secs): detail`, then `N passed, N failed`; exit status
// 0 iff every case passed. A CASE-FILTER selects the cases whose name contains it.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';

const HOST = '127.0.0.1';
const REQUEST_MS = 8000; // one MCP request
const LISTEN_MS = 10000; // the gateway must accept TCP connections by then
const CASE_MS = 20000; // one case, cleanup not included
const RUN_MS = 150000; // no case starts after this
const STOP_MS = 3000; // SIGTERM -> SIGKILL grace

// The conformance fixture's tool and its exact answer.
const TOOL = 'test_simple_text';
const TOOL_TEXT = 'This is a simple text response for testing.';
// What a Node TLS client says when it cannot build a chain to a CA it trusts.
const UNTRUSTED_CODES = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
]);

const [pkgDir, logDir, gateway, childCmd, certDir, ...filters] = process.argv.slice(2);
if (!pkgDir || !logDir || !gateway || !childCmd || !certDir) {
  console.error('usage: node interop_auth.mjs PACKAGES-DIR LOGS-DIR GATEWAY CHILD-CMD CERTS-DIR [CASE ...]');
  process.exit(2);
}
const NM = path.join(pkgDir, 'node_modules');
const sdk = (sub) => import(pathToFileURL(path.join(NM, '@modelcontextprotocol', 'sdk', 'dist', 'esm', sub)).href);
const cert = (f) => path.join(certDir, f);
const PGID_DIR = path.join(logDir, 'pgids'); // interop-auth.sh kills what is left here if we die
fs.mkdirSync(PGID_DIR, { recursive: true });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const shq = (s) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

if (path.resolve(process.env.NODE_EXTRA_CA_CERTS ?? '') !== path.resolve(cert('ca.pem'))) {
  console.error(`interop_auth.mjs: NODE_EXTRA_CA_CERTS must be ${cert('ca.pem')} (the test CA)`);
  process.exit(2);
}

// The SDK's WebSocketClientTransport (1.32.2) takes only a URL and calls
// `new WebSocket(url, 'mcp')`: it has no option for headers. It gets the `ws` package's
// WebSocket (the same on every Node version), which sends the headers of the case running now.
const WS = createRequire(path.join(NM, 'noop.js'))('ws');
let wsHeaders = {};
globalThis.WebSocket = class extends WS {
  constructor(url, protocols) {
    super(url, protocols, { headers: wsHeaders });
  }
};

// The tokens the gateway accepts (a file it may read alone), and the one the clients send.
const TOKEN = randomBytes(32).toString('base64url');
const BAD_TOKEN = randomBytes(32).toString('base64url');
const TOKEN_FILE = path.join(logDir, 'tokens');
fs.writeFileSync(TOKEN_FILE, `# interop-auth.sh, one run\n${randomBytes(32).toString('base64url')}\n${TOKEN}\n`, {
  mode: 0o600,
});

// Whether this gateway serves TLS at all (the tls cases fail, saying so, when it does not).
const help = spawnSync(gateway, ['--help'], { encoding: 'utf8', timeout: 10000 });
const HAS_TLS = `${help.stdout}${help.stderr}`.includes('--tlsCert');

// ---- processes ------------------------------------------------------------------
const LIVE = new Set(); // process group ids
function killGroup(pid, sig) {
  try {
    process.kill(-pid, sig);
  } catch {
    /* gone already */
  }
}
function startGateway(ctx, args) {
  const logPath = path.join(logDir, `${ctx.name.replaceAll('/', '_')}.log`);
  fs.writeFileSync(logPath, `$ ${[gateway, ...args].map(shq).join(' ')}\n`);
  const fd = fs.openSync(logPath, 'a');
  const child = spawn(gateway, args, { detached: true, stdio: ['ignore', fd, fd] });
  fs.closeSync(fd);
  const proc = { pid: child.pid, logPath, exit: null };
  proc.done = new Promise((resolve) => {
    child.once('exit', (code, sig) => {
      proc.exit ??= sig ? `killed by ${sig}` : `exit code ${code}`;
      resolve();
    });
    child.once('error', (err) => {
      proc.exit ??= `could not start: ${err.message}`;
      resolve();
    });
  });
  if (child.pid) {
    LIVE.add(child.pid);
    fs.writeFileSync(path.join(PGID_DIR, String(child.pid)), '');
  }
  ctx.gateway = proc;
  return proc;
}
async function stopGateway(proc) {
  if (!proc?.pid) return;
  killGroup(proc.pid, 'SIGTERM'); // the gateway and the child it started
  await Promise.race([proc.done, sleep(STOP_MS)]);
  killGroup(proc.pid, 'SIGKILL');
  await Promise.race([proc.done, sleep(1000)]);
  LIVE.delete(proc.pid);
  fs.rmSync(path.join(PGID_DIR, String(proc.pid)), { force: true });
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, HOST, () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}
function accepts(port) {
  return new Promise((resolve) => {
    const sock = net.connect({ host: HOST, port });
    const done = (ok) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), 1000);
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}
async function waitListening(proc, port) {
  const end = Date.now() + LISTEN_MS;
  while (Date.now() < end) {
    if (proc.exit) throw new Error(`the gateway ended (${proc.exit}) before listening on ${HOST}:${port}`);
    if (await accepts(port)) {
      if (proc.exit) throw new Error(`the gateway ended (${proc.exit}); something else answers on ${HOST}:${port}`);
      return;
    }
    await sleep(50); // polling a port, not synchronising with a sleep
  }
  throw new Error(`the gateway did not listen on ${HOST}:${port} within ${LISTEN_MS / 1000}s`);
}

// ---- one case ---------------------------------------------------------------------
const TRANSPORTS = {
  sse: { output: 'sse', path: '/sse', schemes: ['http', 'https'] },
  'streamable-stateless': { output: 'streamableHttp', path: '/mcp', schemes: ['http', 'https'] },
  'streamable-stateful': { output: 'streamableHttp', path: '/mcp', stateful: true, schemes: ['http', 'https'] },
  ws: { output: 'ws', path: '/message', schemes: ['ws', 'wss'] },
};

// A fetch for the SDK's `fetch` option that notes every response's status and
// WWW-Authenticate, and every failure's cause (the TLS error of an untrusted certificate).
function recordingFetch(seen) {
  return async (url, init) => {
    try {
      const res = await fetch(url, init);
      const method = init?.method ?? 'GET';
      seen.push({ method, status: res.status, wwwAuthenticate: res.headers.get('www-authenticate') });
      return res;
    } catch (err) {
      seen.push({ error: err?.cause?.code ?? err?.code ?? String(err?.message ?? err) });
      throw err;
    }
  };
}

async function makeTransport(kind, url, headers, seen) {
  if (kind === 'sse') {
    const { SSEClientTransport } = await sdk('client/sse.js');
    return new SSEClientTransport(url, { requestInit: { headers }, fetch: recordingFetch(seen) });
  }
  if (kind.startsWith('streamable')) {
    const { StreamableHTTPClientTransport } = await sdk('client/streamableHttp.js');
    return new StreamableHTTPClientTransport(url, { requestInit: { headers }, fetch: recordingFetch(seen) });
  }
  wsHeaders = headers;
  const { WebSocketClientTransport } = await sdk('client/websocket.js');
  return new WebSocketClientTransport(url);
}

async function runOne(ctx, { kind, tls, variant }) {
  const t = TRANSPORTS[kind];
  if (tls && !HAS_TLS) throw new Error(`${gateway} has no --tlsCert flag (TLS serving is not built in)`);
  const port = await freePort();
  const args = ['--stdio', childCmd, '--outputTransport', t.output, '--port', String(port)];
  if (t.stateful) args.push('--stateful');
  args.push('--authTokenFile', TOKEN_FILE);
  if (tls) {
    const pair = variant === 'untrusted' ? 'rogue-server' : 'server';
    args.push('--tlsCert', cert(`${pair}.pem`), '--tlsKey', cert(`${pair}.key`));
  }
  ctx.stage = 'starting the gateway';
  const gw = startGateway(ctx, args);
  await waitListening(gw, port);

  const scheme = t.schemes[tls ? 1 : 0];
  const url = new URL(`${scheme}://${HOST}:${port}${t.path}`);
  const sent = { token: TOKEN, untrusted: TOKEN, 'bad-token': BAD_TOKEN }[variant];
  const headers = sent ? { Authorization: `Bearer ${sent}` } : {};
  const seen = [];
  const transport = await makeTransport(kind, url, headers, seen);
  const { Client } = await sdk('client/index.js');
  const client = new Client({ name: 'sg-interop-auth', version: '1.0.0' }, { capabilities: {} });
  ctx.closers.push(() => client.close());
  const opt = { timeout: REQUEST_MS };

  ctx.stage = `connect (${url.href})`;
  let connectError = null;
  try {
    await client.connect(transport, opt);
  } catch (err) {
    connectError = err;
  }

  if (variant === 'token') {
    if (connectError) throw connectError;
    ctx.stage = 'tools/list';
    const tools = (await client.listTools(undefined, opt)).tools.map((x) => x.name);
    if (!tools.includes(TOOL)) throw new Error(`tools/list has no ${TOOL} (got ${tools.length} tools)`);
    ctx.stage = `tools/call ${TOOL}`;
    const res = await client.callTool({ name: TOOL, arguments: {} }, undefined, opt);
    const texts = (res.content ?? []).filter((c) => c.type === 'text').map((c) => c.text);
    if (res.isError || texts.length !== 1 || texts[0] !== TOOL_TEXT) {
      throw new Error(`tools/call ${TOOL}: unexpected result ${JSON.stringify(res).slice(0, 300)}`);
    }
    // Every request got through; a GET answered 405 is a Streamable HTTP server without a
    // standalone stream (stateless), which the spec allows and the SDK expects.
    const refused = seen.filter((s) => !(s.status < 300 || (s.method === 'GET' && s.status === 405)));
    if (refused.length) throw new Error(`a request failed along the way: ${JSON.stringify(refused)}`);
    let session = '';
    if (t.stateful) {
      if (!transport.sessionId) throw new Error('the calls worked, but the transport got no Mcp-Session-Id');
      session = ', session id set';
    }
    return `${tools.length} tools, ${TOOL} ok${session}`;
  }

  ctx.stage = 'connect';
  if (!connectError) throw new Error(`connected, but the ${variant} client should have been refused`);
  const msg = String(connectError?.message ?? connectError);
  if (variant === 'no-token' || variant === 'bad-token') {
    // RFC 6750 §3.1: no token, no error attribute; an unknown one is invalid_token.
    const challenge = variant === 'no-token' ? 'Bearer' : 'Bearer error="invalid_token"';
    // The status as the SDK itself reports it.
    let reported;
    if (kind === 'ws') {
      if (!/^Unexpected server response: 401$/.test(msg)) throw new Error(`want the WebSocket's 401, got: ${msg}`);
      reported = 'WebSocket upgrade: Unexpected server response: 401';
    } else {
      const cls = kind === 'sse' ? 'SseError' : 'StreamableHTTPError';
      if (connectError?.constructor?.name !== cls || connectError.code !== 401) {
        throw new Error(`want ${cls} code 401, got ${connectError?.constructor?.name} code ${connectError?.code}: ${msg}`);
      }
      // What went over the wire: nothing but 401s with that challenge.
      const other = seen.filter((s) => s.status !== 401 || s.wwwAuthenticate !== challenge);
      if (!seen.length || other.length) throw new Error(`responses seen: ${JSON.stringify(seen)}`);
      reported = `${cls} code 401 (${seen.length} response(s): 401, WWW-Authenticate: ${challenge})`;
    }
    return `refused: ${reported}`;
  }

  // untrusted: the certificate was refused, before any HTTP response.
  const code = kind === 'ws' ? connectError?.code : seen.find((s) => s.error)?.error;
  if (!UNTRUSTED_CODES.has(code)) {
    throw new Error(`want a certificate verification error, got code ${code}: ${msg}; seen ${JSON.stringify(seen)}`);
  }
  if (seen.some((s) => s.status !== undefined)) throw new Error(`an HTTP response arrived: ${JSON.stringify(seen)}`);
  return `refused by the client: ${code}`;
}

// ---- runner ------------------------------------------------------------------------
const CASES = [];
for (const kind of Object.keys(TRANSPORTS)) {
  for (const variant of ['token', 'no-token', 'bad-token']) {
    CASES.push({ name: `${kind}/plain/${variant}`, kind, tls: false, variant });
  }
  for (const variant of ['token', 'no-token', 'untrusted']) {
    CASES.push({ name: `${kind}/tls/${variant}`, kind, tls: true, variant });
  }
}

const tail = (file, n = 6) => {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(1).slice(-n);
  } catch {
    return [];
  }
};

async function runCase(c, budget) {
  const ctx = { name: c.name, stage: 'setup', closers: [], gateway: null };
  const t0 = Date.now();
  let timer;
  let verdict;
  try {
    const limit = new Promise((_, reject) => {
      const late = () => new Error(`timed out after ${(budget / 1000).toFixed(0)}s during ${ctx.stage}`);
      timer = setTimeout(() => reject(late()), budget);
    });
    verdict = { ok: true, detail: await Promise.race([runOne(ctx, c), limit]) };
  } catch (err) {
    const msg = String(err?.message ?? err).split('\n')[0];
    verdict = { ok: false, detail: msg.startsWith('timed out') ? msg : `${ctx.stage}: ${msg}` };
  }
  clearTimeout(timer);
  const secs = ((Date.now() - t0) / 1000).toFixed(1);
  for (const close of ctx.closers) await Promise.race([close().catch(() => {}), sleep(3000)]);
  await stopGateway(ctx.gateway);
  console.log(`${verdict.ok ? 'PASS' : 'FAIL'} ${c.name} (${secs}s): ${verdict.detail}`);
  if (!verdict.ok && ctx.gateway) {
    for (const l of tail(ctx.gateway.logPath)) console.log(`       | ${l.slice(0, 200)}`);
  }
  return verdict.ok;
}

let passed = 0;
let failed = 0;
const finish = (code) => {
  for (const pid of LIVE) killGroup(pid, 'SIGKILL');
  const line = `${passed} passed, ${failed} failed`;
  fs.writeFileSync(path.join(logDir, 'summary'), `${line}\n`);
  console.log(line);
  process.exit(code);
};
let pending = CASES.filter((c) => !filters.length || filters.some((f) => c.name.includes(f)));
for (const [sig, num] of [['SIGINT', 2], ['SIGTERM', 15], ['SIGHUP', 1]]) {
  process.on(sig, () => {
    console.log(`interrupted (${sig}): stopping everything`);
    failed += pending.length;
    pending = [];
    finish(128 + num);
  });
}
// The SDK may still settle abandoned promises after a case has been given up.
const driverLog = (msg) => fs.appendFileSync(path.join(logDir, 'driver.log'), `${new Date().toISOString()} ${msg}\n`);
process.on('unhandledRejection', (err) => driverLog(`unhandled rejection: ${err?.stack ?? err}`));
process.on('uncaughtException', (err) => driverLog(`uncaught exception: ${err?.stack ?? err}`));

if (!pending.length) {
  console.log('interop_auth.mjs: no case matches');
  failed = 1;
  finish(2);
}
console.log(`gateway: ${gateway}${HAS_TLS ? '' : ' (no --tlsCert: the tls cases will fail)'}`);
console.log(`node ${process.version}; logs: ${logDir}`);
const deadline = Date.now() + RUN_MS;
try {
  while (pending.length) {
    const c = pending[0];
    const budget = Math.min(CASE_MS, deadline - Date.now());
    let ok = false;
    if (budget < 3000) console.log(`FAIL ${c.name}: not run, the ${RUN_MS / 1000}s budget for all cases is used up`);
    else ok = await runCase(c, budget);
    pending.shift();
    if (ok) passed++;
    else failed++;
  }
} catch (err) {
  console.log(`driver error (a bug in interop_auth.mjs): ${err?.stack ?? err}`);
  failed += pending.length;
  finish(3);
}
finish(failed ? 1 : 0);
