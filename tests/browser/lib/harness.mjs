// The browser tests' stack: one otpgate process with its own data directory,
// the real SMTP and SMS stand-ins of the integration tests, a tiny "app" that
// receives the user back at its redirect URI, and Debian's chromium driven by
// playwright-core. Each test file builds one stack in before() and tears it
// down in after().
//
// Environment:
//   OTPGATE_BIN         the otpgate binary (required; ctest sets it)
//   OTPGATE_SOURCE_DIR  the repository root (default: two levels up)
//   CHROMIUM            the browser (default /usr/bin/chromium)
//   OTPGATE_KEEP_TMP=1  keep each stack's temporary directory
//   OTPGATE_BROWSER_BYPASS_CSP=1  the browser ignores the pages' CSP (only
//                       to see what else fails behind a CSP bug; never in CI)
//   OTPGATE_TEST_DATABASE_URL  a PostgreSQL database URL (tests/pg/pgcluster.sh
//                       run): each stack then keeps everything in a new
//                       database of that cluster instead of a SQLite file
//   OTPGATE_TEST_INSTANCES  with OTPGATE_TEST_DATABASE_URL, how many otpgate
//                       processes a stack is (default 1): N instances on one
//                       data directory and database (the first started
//                       alone) behind a round-robin HTTP proxy (per request,
//                       tests/oidc/lib/rrproxy.mjs) on the port the tests see
// The server's log ends up in tests/out/logs/NAME.otpgate.log (with several
// instances, NAME.otpgate.1.log, NAME.otpgate.2.log, ...).
import { spawn, execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';
import * as OTPAuth from 'otpauth';

import { RRProxy } from '../../oidc/lib/rrproxy.mjs';

import {
  freePort, killChild, mailCode, mimeParts, newUser, otpgateBin, sleep, spawnOtpgate, virtualAuthenticator,
  waitFor,
} from '../../lib/common.mjs';

export { freePort, mailCode, mimeParts, newUser, otpgateBin, sleep, virtualAuthenticator, waitFor };

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const BROWSER_DIR = path.resolve(HERE, '..');
export const SOURCE_DIR = process.env.OTPGATE_SOURCE_DIR || path.resolve(BROWSER_DIR, '..', '..');
export const OUT_DIR = path.join(SOURCE_DIR, 'tests', 'out');
export const SCREENSHOT_DIR = path.join(OUT_DIR, 'screenshots');
const PYTHON = '/usr/bin/python3';
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const BROWSER_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'];

/** The stacks' database: PostgreSQL when OTPGATE_TEST_DATABASE_URL names a
 * cluster, else each data directory's SQLite file. */
const PG_URL = process.env.OTPGATE_TEST_DATABASE_URL || '';
export const ENGINE = PG_URL ? 'postgresql' : 'sqlite';
/** How many otpgate processes each stack is (more than one only on PostgreSQL). */
export const INSTANCES = PG_URL ? Math.max(1, parseInt(process.env.OTPGATE_TEST_INSTANCES || '1', 10) || 1) : 1;

export const APP_NAME = 'Acme Shop';
export const RECOVERY_RE = /^[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}$/i;

function b64url(buf) {
  return Buffer.from(buf).toString('base64').replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
}

/** A compact JWS, HS256 with key. */
export function signHs256(claims, key) {
  const head = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const body = b64url(JSON.stringify(claims));
  const mac = crypto.createHmac('sha256', key).update(`${head}.${body}`).digest();
  return `${head}.${body}.${b64url(mac)}`;
}

/** Checks an HS256 JWT's signature with key (constant time) and returns
 * {header, claims}; throws when anything is off. */
export function verifyHs256(token, key) {
  const parts = String(token).split('.');
  if (parts.length !== 3) throw new Error(`not a compact JWS: ${token}`);
  const header = JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8'));
  if (header.alg !== 'HS256') throw new Error(`alg is ${header.alg}, not HS256`);
  const want = crypto.createHmac('sha256', key).update(`${parts[0]}.${parts[1]}`).digest();
  const got = Buffer.from(parts[2], 'base64url');
  if (got.length !== want.length || !crypto.timingSafeEqual(got, want)) {
    throw new Error('otpgate_result signature does not verify with the client secret');
  }
  return { header, claims: JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8')) };
}

// ---- TOTP ------------------------------------------------------------------

const lastStep = new Map();

/** The TOTP code a person would type now: each time step verifies once at
 * otpgate, so a second code for the same secret waits for (or, within the
 * ±1 window, uses) the next step. */
export async function totpCode(secretText) {
  const secret = secretText.replace(/\s+/g, '').toUpperCase();
  const totp = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret), digits: 6, period: 30, algorithm: 'SHA1' });
  const now = Math.floor(Date.now() / 1000);
  let step = Math.floor(now / 30);
  const last = lastStep.get(secret);
  if (last !== undefined && step <= last) {
    step = last + 1;
    // The server accepts one step ahead; two ahead means waiting.
    while (step > Math.floor(Date.now() / 1000 / 30) + 1) await sleep(250);
  }
  lastStep.set(secret, step);
  return totp.generate({ timestamp: step * 30 * 1000 + 1000 });
}

// ---- e-mail -------------------------------------------------------------------

function readJsonLines(file) {
  let text = '';
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  // Whole lines only: the sink (another process) may be appending a record
  // right now, and a read can catch its last line half written.
  return text.split('\n').slice(0, -1).filter((l) => l.trim()).map((l) => JSON.parse(l));
}

// ---- child processes -------------------------------------------------------------

// Every process a stack started, so none outlives a test process that ends
// early (an uncaught error, ctest's timeout sending SIGTERM).
const live = new Set();
function track(child) {
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}
process.once('exit', () => {
  for (const c of live) {
    try {
      c.kill('SIGKILL');
    } catch {}
  }
});
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.once(sig, () => process.exit(128 + (sig === 'SIGTERM' ? 15 : 2)));
}

/** Spawns a sink that prints its port on the first stdout line. */
async function startSink(args, name) {
  const child = track(spawn(PYTHON, args, { stdio: ['pipe', 'pipe', 'pipe'] }));
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const rl = readline.createInterface({ input: child.stdout });
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not print its port: ${stderr}`)), 10000);
    rl.once('line', (line) => {
      clearTimeout(timer);
      resolve(parseInt(line, 10));
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code}: ${stderr}`));
    });
  });
  return { child, port };
}

// ---- the stack -------------------------------------------------------------------

export class Stack {
  constructor() {
    this.callbacks = [];
    this.contexts = [];
    this.children = [];
    this.servers = []; // [{child, port, logLines}], one per instance
  }

  /** policy: the global mode; apps: extra apps [{key, name, policy}] beside
   * the default one (key 'main', "Acme Shop", policy inherit). localhost:
   * the public URL is http://localhost:PORT (a secure context whose host can
   * be a WebAuthn RP ID, so passkeys work), not http://127.0.0.1:PORT. */
  static async start({ name = 'stack', policy = 'mandatory', apps = [], env = {}, localhost = false } = {}) {
    const s = new Stack();
    s.name = name;
    s.host = localhost ? 'localhost' : '127.0.0.1';
    try {
      await s._start(policy, apps, env);
    } catch (e) {
      await s.stop();
      throw e;
    }
    return s;
  }

  async _start(policy, apps, extraEnv) {
    this.bin = otpgateBin();
    this.tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'otpgate-browser-'));
    this.dataDir = path.join(this.tmp, 'data');

    // The app: records where the user comes back.
    this.appServer = http.createServer((req, res) => {
      const url = new URL(req.url, 'http://127.0.0.1');
      if (url.pathname === '/cb') {
        this.callbacks.push({ at: Date.now(), query: Object.fromEntries(url.searchParams) });
        res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
        res.end(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${APP_NAME}</title></head>` +
          `<body><main><h1>Back at ${APP_NAME}</h1><p>Signed in.</p></main></body></html>`);
        return;
      }
      res.writeHead(404);
      res.end();
    });
    await new Promise((r) => this.appServer.listen(0, '127.0.0.1', r));
    this.appPort = this.appServer.address().port;
    this.redirectUri = `http://127.0.0.1:${this.appPort}/cb`;

    this.mailFile = path.join(this.tmp, 'mail.jsonl');
    this.smsFile = path.join(this.tmp, 'sms.jsonl');
    const smtp = await startSink([path.join(SOURCE_DIR, 'tests/integration/smtp_sink.py'), '--port', '0',
      '--out', this.mailFile, '--exit-on-stdin-eof'], 'smtp_sink.py');
    this.children.push(smtp.child);
    const sms = await startSink([path.join(SOURCE_DIR, 'tests/integration/sms_sink.py'), '--port', '0',
      '--log', this.smsFile], 'sms_sink.py');
    this.children.push(sms.child);

    const baseEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('OTPGATE_')));
    if (PG_URL) {
      // A database of this stack's own in the cluster.
      const db = `browser_${crypto.randomBytes(6).toString('hex')}`;
      execFileSync('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', PG_URL, '-c', `CREATE DATABASE ${db}`], { encoding: 'utf8' });
      const u = new URL(PG_URL);
      u.pathname = `/${db}`;
      this.databaseUrl = u.toString();
      baseEnv.OTPGATE_DATABASE_URL = this.databaseUrl;
    }
    const cliEnv = { ...baseEnv, OTPGATE_DATA_DIR: this.dataDir, OTPGATE_LOG: 'warn' };
    this.cliEnv = cliEnv;
    const addApp = (name, pol) => {
      const args = ['app', 'add', '--name', name, '--redirect-uri', this.redirectUri];
      if (pol) args.push('--policy', pol);
      return JSON.parse(execFileSync(this.bin, args, { env: cliEnv, encoding: 'utf8' }));
    };
    this.apps = { main: { name: APP_NAME, ...addApp(APP_NAME) } };
    for (const a of apps) this.apps[a.key] = { name: a.name, ...addApp(a.name, a.policy) };
    this.app = this.apps.main;
    // Every request comes from 127.0.0.1: lift the per-IP send cap so one
    // file's flows do not run into it (the per-destination caps stay).
    this.cli(['policy', 'set', `mode=${policy}`, 'sends_per_ip_hour=1000']);

    for (let attempt = 0; ; attempt++) {
      this.port = await freePort();
      this.url = `http://${this.host}:${this.port}`;
      const env = {
        ...baseEnv,
        OTPGATE_LISTEN: `127.0.0.1:${this.port}`,
        OTPGATE_PUBLIC_URL: this.url,
        OTPGATE_DATA_DIR: this.dataDir,
        OTPGATE_STATIC_DIR: path.join(SOURCE_DIR, 'static'),
        OTPGATE_DEV: '0',
        OTPGATE_SMTP_URL: `smtp://127.0.0.1:${smtp.port}?starttls=off`,
        OTPGATE_SMTP_FROM: 'otpgate@example.org',
        OTPGATE_SMS_PROVIDER: 'webhook',
        OTPGATE_SMS_URL: `http://127.0.0.1:${sms.port}/send`,
        OTPGATE_DELIVERY_TIMEOUT: '3',
        OTPGATE_DELIVERY_BACKOFF: '0.2',
        OTPGATE_LOG: 'info',
        ...extraEnv,
      };
      if (await (INSTANCES > 1 ? this._spawnGroup(env, INSTANCES) : this._spawnServer(env, this.port))) break;
      const failed = this.log();
      if (this.proxy) await this.proxy.close();
      this.proxy = null;
      await Promise.all(this.servers.map((s) => killChild(s.child, 'SIGKILL')));
      this.servers = [];
      if (attempt >= 2) throw new Error(`otpgate did not start:\n${failed}`);
    }
    this.browser = await chromium.launch({ executablePath: CHROMIUM, args: BROWSER_ARGS });
  }

  async _spawnServer(env, port) {
    const logLines = [];
    const { child, ready } = await spawnOtpgate(this.bin, { ...env, OTPGATE_LISTEN: `127.0.0.1:${port}` }, this.tmp,
      logLines, 5000);
    this.servers.push({ child: track(child), port, logLines });
    return ready;
  }

  /** N instances on ports of their own, the first alone (it makes the
   * master key and the schema), then the others, behind the round-robin
   * proxy on the stack's port (as tests/oidc/lib/provider.mjs does). */
  async _spawnGroup(env, n) {
    for (let i = 0; i < n; i++) {
      if (!(await this._spawnServer(env, await freePort()))) return false;
    }
    this.proxy = new RRProxy(this.servers.map((s) => s.port));
    try {
      await this.proxy.listen(this.port);
    } catch {
      return false;
    }
    return true;
  }

  /** Each instance's own URL, not through the proxy (one with one instance). */
  get instanceUrls() {
    return this.servers.map((s) => `http://127.0.0.1:${s.port}`);
  }

  /** Runs an otpgate command on this stack's data directory. */
  cli(args) {
    return execFileSync(this.bin, args, { env: this.cliEnv, encoding: 'utf8' });
  }

  async stop() {
    for (const c of this.contexts) await c.close().catch(() => {});
    if (this.browser) await this.browser.close().catch(() => {});
    if (this.proxy) await this.proxy.close();
    if (this.servers.length) {
      await Promise.all(this.servers.map((s) => killChild(s.child, 'SIGTERM', 8000)));
      // Every instance's log, for a failure's post-mortem.
      fs.mkdirSync(path.join(OUT_DIR, 'logs'), { recursive: true });
      this.servers.forEach((s, i) => {
        const file = this.servers.length > 1 ? `${this.name}.otpgate.${i + 1}.log` : `${this.name}.otpgate.log`;
        fs.writeFileSync(path.join(OUT_DIR, 'logs', file), s.logLines.join('\n') + '\n');
      });
    }
    for (const c of this.children) {
      if (c.stdin) c.stdin.end();
      await killChild(c);
    }
    if (this.appServer) {
      if (this.appServer.closeAllConnections) this.appServer.closeAllConnections();
      await new Promise((r) => this.appServer.close(r));
    }
    if (this.tmp && !process.env.OTPGATE_KEEP_TMP) fs.rmSync(this.tmp, { recursive: true, force: true });
    // Round robin: once there were as many requests as instances, each has
    // had one, so the file did talk to all of them.
    const got = this.proxy ? this.proxy.requests : [];
    if (got.reduce((a, b) => a + b, 0) >= got.length && got.includes(0)) {
      throw new Error(`the proxy gave no request to an instance: ${JSON.stringify(got)}`);
    }
  }

  // ---- the way in ----

  /** The signed link an app makes: GET /start?token=JWT. */
  link({ sub, purpose = 'login', state = crypto.randomBytes(8).toString('hex'), ui_locales, app = this.app,
    returnTo = this.redirectUri, extra = {} } = {}) {
    const now = Math.floor(Date.now() / 1000);
    const claims = {
      iss: app.client_id, sub, aud: this.url, iat: now, exp: now + 300,
      jti: crypto.randomUUID(), return_to: returnTo, state, purpose, ...extra,
    };
    if (ui_locales) claims.ui_locales = ui_locales;
    return { url: `${this.url}/start?token=${signHs256(claims, app.client_secret)}`, state };
  }

  /** A new browser context and page. */
  async newPage({ javaScriptEnabled = true, viewport = { width: 1280, height: 800 }, bypassCSP = false,
    permissions, locale = 'en-GB', acceptDownloads = true } = {}) {
    // OTPGATE_BROWSER_BYPASS_CSP=1 turns the pages' Content-Security-Policy
    // off in the browser: only to see what else fails behind a CSP bug.
    if (process.env.OTPGATE_BROWSER_BYPASS_CSP === '1') bypassCSP = true;
    const ctx = await this.browser.newContext({ javaScriptEnabled, viewport, bypassCSP, locale, acceptDownloads });
    if (permissions) await ctx.grantPermissions(permissions, { origin: this.url });
    this.contexts.push(ctx);
    const page = await ctx.newPage();
    // What the browser refused (CSP) shows in failure messages.
    page.cspErrors = [];
    page.on('console', (m) => {
      if (/Content Security Policy directive: "form-action/.test(m.text())) page.cspErrors.push(m.text());
    });
    page.setDefaultTimeout(10000);
    page.setDefaultNavigationTimeout(15000);
    return page;
  }

  /** Waits until the page is back at the app with this state, checks the
   * otpgate_result JWT (signature with the client secret, iss, aud, sub,
   * state, expiry) and returns {query, claims}. */
  async backAtApp(page, { state, sub, app = this.app }) {
    // A navigation the browser refuses (CSP) never comes: stop waiting then.
    const there = await waitFor(() => page.url().startsWith(this.redirectUri) ? 'yes' :
      page.cspErrors && page.cspErrors.length ? 'refused' : null, 'the way back to the app', 10000).catch(() => 'no');
    if (there === 'yes') await page.waitForLoadState();
    else {
      const h1 = await page.getByRole('heading', { level: 1 }).allInnerTexts().catch(() => []);
      const alerts = await page.getByRole('alert').allInnerTexts().catch(() => []);
      throw new Error(`expected to be back at the app (${this.redirectUri}); the browser is at ${page.url()} ` +
        `showing ${JSON.stringify(h1)}${alerts.length ? ' with the alert ' + JSON.stringify(alerts) : ''}` +
        (page.cspErrors && page.cspErrors.length ? `; the browser refused: ${page.cspErrors.join(' | ')}` : ''));
    }
    const cb = await waitFor(() => this.callbacks.find((c) => c.query.state === state), `the app's callback with state ${state}`);
    if (cb.query.error) return { query: cb.query, claims: null };
    if (!cb.query.otpgate_result) throw new Error(`callback without otpgate_result: ${JSON.stringify(cb.query)}`);
    const { claims } = verifyHs256(cb.query.otpgate_result, app.client_secret);
    const now = Math.floor(Date.now() / 1000);
    const problems = [];
    if (claims.iss !== this.url) problems.push(`iss ${claims.iss} != ${this.url}`);
    if (claims.aud !== app.client_id) problems.push(`aud ${claims.aud} != ${app.client_id}`);
    if (sub !== undefined && claims.sub !== sub) problems.push(`sub ${claims.sub} != ${sub}`);
    if (claims.state !== state) problems.push(`state ${claims.state} != ${state}`);
    if (!(claims.exp > now)) problems.push(`exp ${claims.exp} is not in the future`);
    if (!Array.isArray(claims.amr)) problems.push(`amr is not an array: ${JSON.stringify(claims.amr)}`);
    if (problems.length) throw new Error(`otpgate_result claims: ${problems.join('; ')} in ${JSON.stringify(claims)}`);
    return { query: cb.query, claims };
  }

  // ---- delivery ----

  /** The development outbox's messages (OTPGATE_DEV=1) as JSON, newest
   * first. Each instance keeps its own in memory and any of them may have
   * sent a code, so this is every instance's, merged. */
  async devOutbox() {
    const lists = await Promise.all(this.instanceUrls.map(async (u) => {
      const res = await fetch(`${u}/dev/outbox`, { headers: { Accept: 'application/json' } });
      if (res.status !== 200) throw new Error(`GET ${u}/dev/outbox -> ${res.status} ${await res.text()}`);
      return (await res.json()).messages;
    }));
    return lists.flat().sort((a, b) => b.at_ms - a.at_ms);
  }

  /** Code e-mails to `to` (Message-ID <m_...>); the security
   * notifications (<msg_...>) only with notices = true. */
  mails(to, notices = false) {
    return readJsonLines(this.mailFile).filter((m) => (!to || m.rcpt_tos.includes(to)) &&
      (notices || /^Message-ID: <m_/im.test(m.data)));
  }

  smsSent(to) {
    return readJsonLines(this.smsFile).filter((r) => !to || (r.json && r.json.to === to));
  }

  /** The code in the newest e-mail to addr once more than `before` arrived. */
  async mailCode(addr, before = 0) {
    const list = await waitFor(() => {
      const l = this.mails(addr);
      return l.length > before ? l : null;
    }, `an e-mail to ${addr}`);
    return mailCode(list[list.length - 1]);
  }

  /** The code in the newest SMS to number (E.164) once more than `before` arrived. */
  async smsCode(number, before = 0) {
    const list = await waitFor(() => {
      const l = this.smsSent(number);
      return l.length > before ? l : null;
    }, `an SMS to ${number}`);
    const text = list[list.length - 1].json.message;
    const m = /#(\d{6})\s*$/.exec(text) || /(?<!\d)(\d{6})(?!\d)/.exec(text);
    if (!m) throw new Error(`no code in the SMS: ${text}`);
    return m[1];
  }

  // ---- the JSON API (to set users up quickly) ----

  async api(method, pathname, body, app = this.app) {
    const res = await fetch(this.url + pathname, {
      method,
      headers: {
        Authorization: 'Basic ' + Buffer.from(`${app.client_id}:${app.client_secret}`).toString('base64'),
        ...(body ? { 'Content-Type': 'application/json' } : {}),
      },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    let json = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {}
    if (res.status >= 400) throw new Error(`${method} ${pathname} -> ${res.status} ${text}`);
    return json;
  }

  /** Binds a factor through the API: {email}, {phone} or {totp: true}.
   * Returns {id, secret (totp), recovery_codes (first factor)}. */
  async addFactor(sub, f, app = this.app) {
    const p = `/api/v1/users/${encodeURIComponent(sub)}/factors`;
    if (f.totp) {
      const r = await this.api('POST', p, { type: 'totp', client_ip: CLIENT_IP }, app);
      const v = await this.api('POST', `${p}/${r.id}/verify`, { code: await totpCode(r.secret), client_ip: CLIENT_IP }, app);
      return { id: r.id, secret: r.secret, recovery_codes: v.recovery_codes };
    }
    if (f.email) {
      const before = this.mails(f.email).length;
      const r = await this.api('POST', p, { type: 'email', email: f.email, client_ip: CLIENT_IP }, app);
      const v = await this.api('POST', `${p}/${r.id}/verify`, { code: await this.mailCode(f.email, before), client_ip: CLIENT_IP }, app);
      return { id: r.id, recovery_codes: v.recovery_codes };
    }
    const before = this.smsSent(f.e164).length;
    const r = await this.api('POST', p, { type: 'sms', phone: f.phone, client_ip: CLIENT_IP }, app);
    const v = await this.api('POST', `${p}/${r.id}/verify`, { code: await this.smsCode(f.e164, before), client_ip: CLIENT_IP }, app);
    return { id: r.id, recovery_codes: v.recovery_codes };
  }

  /** Runs one SQL statement (the same text on both engines) on this
   * stack's database, beside the running server: sqlite3 on the data
   * directory's file, or psql on the stack's PostgreSQL database. */
  sql(statement) {
    if (this.databaseUrl) {
      execFileSync('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', this.databaseUrl, '-c', statement], { encoding: 'utf8' });
    } else {
      execFileSync('sqlite3', [path.join(this.dataDir, 'otpgate.db'), `PRAGMA busy_timeout=5000; ${statement}`]);
    }
  }

  /** Makes every session of sub look as if its second step was passed
   * `ageMs` ago (the step-up rule needs a fresh one for changes). */
  ageSessions(sub, ageMs) {
    this.sql(`UPDATE sessions SET stepup_at = stepup_at - ${ageMs}, passed_at = passed_at - ${ageMs} WHERE sub = ${sqlText(sub)} AND passed_at > 0;`);
  }

  /** Locks sub (of the main app) as a hundred wrong codes in a row would. */
  lockUser(sub) {
    this.sql(`UPDATE users SET failures = 100, locked_at = ${Date.now()} WHERE app_id = ${sqlText(this.app.client_id)} AND sub = ${sqlText(sub)};`);
  }

  /** The server's log so far (for failure messages): every instance's. */
  log() {
    if (this.servers.length <= 1) return (this.servers[0] ? this.servers[0].logLines : []).join('\n');
    return this.servers.map((s, i) => `== instance ${i + 1} (127.0.0.1:${s.port}) ==\n${s.logLines.join('\n')}`).join('\n');
  }
}

/** A string as an SQL literal (both engines). */
export function sqlText(v) {
  return `'${String(v).replace(/'/g, "''")}'`;
}

/** The end user's address as the app passes it to the API (the browser
 * here runs on this machine too). */
const CLIENT_IP = '127.0.0.1';

/** A UK mobile number (Ofcom's drama range) unique within a run. */
let phoneSeq = 0;
export function newPhone() {
  phoneSeq++;
  const n = String((process.pid * 7 + phoneSeq * 13) % 1000).padStart(3, '0');
  return { national: `7700 900${n}`, e164: `+447700900${n}` };
}
