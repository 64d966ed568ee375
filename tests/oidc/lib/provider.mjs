// otpgate as an OpenID Connect provider, seen from a real relying party.
//
// One Provider per test file: the real otpgate binary on a port of its own
// with its own data directory, the integration tests' SMTP sink for the
// e-mailed codes, two registered apps ("Demo" and "Other", both with the
// redirect URI http://127.0.0.1:Q/callback of a tiny callback server), the
// global policy mandatory, and Debian's chromium (started on first use)
// for the pages between /authorize and the redirect back.
//
// The relying party is openid-client v6 (discovery, PKCE helpers,
// authorizationCodeGrant, fetchUserInfo); the request object (RFC 9101) is
// signed here with jose, HS256 with the app's client secret.
//
// Environment:
//   OTPGATE_BIN         the otpgate binary (required; ctest sets it)
//   OTPGATE_SOURCE_DIR  the repository root (default: two levels up)
//   CHROMIUM            the browser (default /usr/bin/chromium)
//   OTPGATE_KEEP_TMP=1  keep the temporary directory
//   OTPGATE_TEST_DATABASE_URL  a PostgreSQL database URL (ctest's oidc-pg
//                       entry, tests/pg/pgcluster.sh): each Provider then
//                       keeps everything in a new database of that cluster
//                       (issue 14) instead of a SQLite file
//   OTPGATE_TEST_INSTANCES  with OTPGATE_TEST_DATABASE_URL, how many otpgate
//                       processes the provider is (default 1): N instances on
//                       one data directory and database behind a round-robin
//                       HTTP proxy (rrproxy.mjs, per request) on the
//                       issuer's port
import './webcrypto.mjs';

import { execFileSync, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

import * as jose from 'jose';
import * as client from 'openid-client';
import { chromium } from 'playwright-core';

import { RRProxy } from './rrproxy.mjs';

import {
  freePort, killChild, mailCode as codeInMail, newUser, otpgateBin, sleep, spawnOtpgate, virtualAuthenticator,
  waitFor,
} from '../../lib/common.mjs';

export { newUser, sleep, virtualAuthenticator, waitFor };

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const SOURCE_DIR = process.env.OTPGATE_SOURCE_DIR || path.resolve(HERE, '..', '..', '..');
const PYTHON = '/usr/bin/python3';
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const BROWSER_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'];

export const ACR_MFA = 'urn:otpgate:acr:mfa';
export const RECOVERY_RE = /^[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}$/i;

export { client, jose };

// ---- the provider ----------------------------------------------------------------

export class Provider {
  constructor() {
    this.callbacks = [];
    this.logLines = [];
    this.contexts = [];
    this.servers = [];
  }

  /** localhost: the issuer is http://localhost:PORT (a secure context
   * whose host can be a WebAuthn RP ID, so passkeys work). */
  static async start({ policy = 'mandatory', localhost = false } = {}) {
    const p = new Provider();
    p.host = localhost ? 'localhost' : '127.0.0.1';
    try {
      await p._start(policy);
    } catch (e) {
      await p.stop();
      throw e;
    }
    return p;
  }

  async _start(policy) {
    this.bin = otpgateBin();
    this.tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'otpgate-oidc-'));
    this.dataDir = path.join(this.tmp, 'data');

    // The relying party's redirect URI: records every arrival.
    this.cbServer = http.createServer((req, res) => {
      const url = new URL(req.url, `http://127.0.0.1:${this.cbPort}`);
      if (url.pathname === '/callback') {
        this.callbacks.push(url);
        res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
        res.end('<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Demo</title></head>' +
          '<body><main><h1>Back at Demo</h1></main></body></html>');
        return;
      }
      res.writeHead(404);
      res.end();
    });
    await new Promise((r) => this.cbServer.listen(0, '127.0.0.1', r));
    this.cbPort = this.cbServer.address().port;
    this.redirectUri = `http://127.0.0.1:${this.cbPort}/callback`;

    this.mailFile = path.join(this.tmp, 'mail.jsonl');
    this.smtp = spawn(PYTHON, [path.join(SOURCE_DIR, 'tests/integration/smtp_sink.py'), '--port', '0',
      '--out', this.mailFile, '--exit-on-stdin-eof'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let smtpErr = '';
    this.smtp.stderr.on('data', (d) => (smtpErr += d));
    const smtpPort = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`smtp_sink.py did not print its port: ${smtpErr}`)), 10000);
      readline.createInterface({ input: this.smtp.stdout }).once('line', (line) => {
        clearTimeout(timer);
        resolve(parseInt(line, 10));
      });
      this.smtp.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`smtp_sink.py exited with ${code}: ${smtpErr}`));
      });
    });

    const baseEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('OTPGATE_')));
    const pgUrl = process.env.OTPGATE_TEST_DATABASE_URL;
    if (pgUrl) {
      const name = `oidc_${crypto.randomBytes(6).toString('hex')}`;
      execFileSync('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', pgUrl, '-c', `CREATE DATABASE ${name}`],
        { encoding: 'utf8' });
      const u = new URL(pgUrl);
      u.pathname = `/${name}`;
      baseEnv.OTPGATE_DATABASE_URL = u.toString();
    }
    this.cliEnv = { ...baseEnv, OTPGATE_DATA_DIR: this.dataDir, OTPGATE_LOG: 'warn' };
    const addApp = (name) => JSON.parse(this.cli(['app', 'add', '--name', name, '--redirect-uri', this.redirectUri]));
    this.apps = { demo: { name: 'Demo', ...addApp('Demo') }, other: { name: 'Other', ...addApp('Other') } };
    // Every request comes from 127.0.0.1: lift the per-IP send cap.
    this.cli(['policy', 'set', `mode=${policy}`, 'sends_per_ip_hour=1000']);

    const instances = pgUrl ? Math.max(1, parseInt(process.env.OTPGATE_TEST_INSTANCES || '1', 10)) : 1;
    for (let attempt = 0; ; attempt++) {
      this.port = await freePort();
      this.issuer = `http://${this.host}:${this.port}`;
      const env = {
        ...baseEnv,
        OTPGATE_LISTEN: `127.0.0.1:${this.port}`,
        OTPGATE_PUBLIC_URL: this.issuer,
        OTPGATE_DATA_DIR: this.dataDir,
        OTPGATE_STATIC_DIR: path.join(SOURCE_DIR, 'static'),
        OTPGATE_DEV: '0',
        OTPGATE_SMTP_URL: `smtp://127.0.0.1:${smtpPort}?starttls=off`,
        OTPGATE_SMTP_FROM: 'otpgate@example.org',
        OTPGATE_DELIVERY_TIMEOUT: '3',
        OTPGATE_DELIVERY_BACKOFF: '0.2',
        OTPGATE_LOG: 'info',
      };
      if (await (instances > 1 ? this._spawnGroup(env, instances) : this._spawnServer(env))) break;
      await Promise.all(this.servers.map((c) => killChild(c, 'SIGKILL')));
      this.servers = [];
      if (attempt >= 2) throw new Error(`otpgate did not start:\n${this.log()}`);
    }
  }

  async _spawnServer(env) {
    const { child, ready } = await spawnOtpgate(this.bin, env, this.tmp, this.logLines, 2000);
    this.servers.push(child);
    return ready;
  }

  /** N instances on ports of their own, the first alone (it makes the
   * master key, the schema and the first signing key), then the others,
   * behind the proxy on the issuer's port. */
  async _spawnGroup(env, n) {
    const ports = [];
    for (let i = 0; i < n; i++) {
      ports.push(await freePort());
      const ok = await this._spawnServer({ ...env, OTPGATE_LISTEN: `127.0.0.1:${ports[i]}` });
      if (!ok) return false;
    }
    this.proxy = new RRProxy(ports);
    try {
      await this.proxy.listen(this.port);
    } catch {
      this.proxy = null;
      return false;
    }
    return true;
  }

  /** Runs an otpgate command on this provider's data directory (while it runs). */
  cli(args) {
    return execFileSync(this.bin, args, { env: this.cliEnv, encoding: 'utf8' });
  }

  log() {
    return this.logLines.join('\n');
  }

  async stop() {
    for (const c of this.contexts) await c.close().catch(() => {});
    if (this.browser) await this.browser.close().catch(() => {});
    if (this.proxy) await this.proxy.close();
    await Promise.all(this.servers.map((c) => killChild(c, 'SIGTERM', 8000)));
    if (this.smtp) {
      this.smtp.stdin.end();
      await killChild(this.smtp);
    }
    if (this.cbServer) await new Promise((r) => this.cbServer.close(r));
    if (this.tmp && !process.env.OTPGATE_KEEP_TMP) fs.rmSync(this.tmp, { recursive: true, force: true });
    // Round robin: once there were as many requests as instances, each has
    // had one, so the file did talk to all of them.
    const got = this.proxy ? this.proxy.requests : [];
    if (got.reduce((a, b) => a + b, 0) >= got.length && got.includes(0)) {
      throw new Error(`the proxy gave no request to an instance: ${JSON.stringify(got)}`);
    }
  }

  // ---- the relying party ----

  /** openid-client's Configuration for an app, from discovery.
   * auth: 'basic' (client_secret_basic) or 'post' (client_secret_post). */
  async rp(app = this.apps.demo, { auth = 'basic', secret = app.client_secret } = {}) {
    const method = auth === 'post' ? client.ClientSecretPost(secret) : client.ClientSecretBasic(secret);
    return client.discovery(new URL(this.issuer), app.client_id, { client_secret: secret }, method,
      { execute: [client.allowInsecureRequests] });
  }

  /** A request object (RFC 9101): HS256 with the client secret. `claims`
   * adds or overrides (undefined removes); `key` signs with another key. */
  async requestObject(app, claims, { key = app.client_secret, header = {} } = {}) {
    const now = Math.floor(Date.now() / 1000);
    const all = {
      iss: app.client_id, aud: this.issuer, iat: now, exp: now + 300, jti: crypto.randomUUID(),
      client_id: app.client_id, response_type: 'code', redirect_uri: this.redirectUri, scope: 'openid',
      ...claims,
    };
    for (const k of Object.keys(all)) if (all[k] === undefined) delete all[k];
    return new jose.SignJWT(all).setProtectedHeader({ alg: 'HS256', typ: 'oauth-authz-req+jwt', ...header })
      .sign(new TextEncoder().encode(key));
  }

  /** Everything an app does before sending the user to /authorize: PKCE
   * verifier and S256 challenge, state, nonce, the signed request object,
   * and the URL (openid-client's buildAuthorizationUrl). Returns
   * {url, verifier, state, nonce, request, claims}. `claims` adds to or
   * overrides the request object (undefined removes); `query` to the URL;
   * `request` replaces the request object (null: none). */
  async authorization(config, app, user, { claims = {}, query = {}, request, key } = {}) {
    const verifier = client.randomPKCECodeVerifier();
    const challenge = await client.calculatePKCECodeChallenge(verifier);
    const state = client.randomState();
    const nonce = client.randomNonce();
    const all = {
      login_hint: user.sub, nonce, state, code_challenge: challenge, code_challenge_method: 'S256',
      ...claims,
    };
    if (request === undefined) request = await this.requestObject(app, all, { key });
    const params = { response_type: 'code', redirect_uri: this.redirectUri, scope: 'openid', state, ...query };
    if (request !== null) params.request = request;
    for (const k of Object.keys(params)) if (params[k] === undefined) delete params[k];
    const url = client.buildAuthorizationUrl(config, params);
    return { url, verifier, state, nonce, request, claims: all };
  }

  /** GET without following redirects: {status, location (URL|null), text}. */
  async get(url, headers = {}) {
    const res = await fetch(url, { redirect: 'manual', headers });
    const loc = res.headers.get('location');
    return { status: res.status, location: loc ? new URL(loc, this.issuer) : null, text: await res.text(), headers: res.headers };
  }

  /** The callback URL that arrived with this state. */
  callback(state) {
    return waitFor(() => this.callbacks.find((u) => u.searchParams.get('state') === state),
      `the callback with state ${state}`);
  }

  // ---- the JSON API and mail ----

  async api(method, pathname, body, app = this.apps.demo) {
    const res = await fetch(this.issuer + pathname, {
      method,
      headers: {
        Authorization: 'Basic ' + Buffer.from(`${app.client_id}:${app.client_secret}`).toString('base64'),
        ...(body ? { 'Content-Type': 'application/json' } : {}),
      },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    if (res.status >= 400) throw new Error(`${method} ${pathname} -> ${res.status} ${text}`);
    return text ? JSON.parse(text) : null;
  }

  mails(to) {
    let text = '';
    try {
      text = fs.readFileSync(this.mailFile, 'utf8');
    } catch {
      return [];
    }
    // Whole lines only: the sink (another process) may be appending a
    // record right now, and a read can catch its last line half written.
    // Code e-mails only (Message-ID <m_...>), not the security
    // notifications (<msg_...>) that follow an enrolment.
    return text.split('\n').slice(0, -1).filter((l) => l.trim()).map((l) => JSON.parse(l))
      .filter((m) => (!to || m.rcpt_tos.includes(to)) && /^Message-ID: <m_/im.test(m.data));
  }

  /** The code in the newest e-mail to addr once more than `before` arrived. */
  async mailCode(addr, before = 0) {
    const list = await waitFor(() => {
      const l = this.mails(addr);
      return l.length > before ? l : null;
    }, `an e-mail to ${addr}`);
    return codeInMail(list[list.length - 1]);
  }

  /** Binds an e-mail factor for user through the API (a user who enrolled
   * earlier). */
  async enrolEmail(user, app = this.apps.demo) {
    const p = `/api/v1/users/${encodeURIComponent(user.sub)}/factors`;
    const before = this.mails(user.email).length;
    const r = await this.api('POST', p, { type: 'email', email: user.email }, app);
    await this.api('POST', `${p}/${r.id}/verify`, { code: await this.mailCode(user.email, before) }, app);
  }

  // ---- the browser ----

  /** A new browser context and page. `csp: false` makes chromium ignore
   * the pages' Content-Security-Policy: the flows use that so they can
   * check the OpenID Connect side while the form-action bug (a form POST
   * answered with a redirect to the app is blocked by "form-action 'self'")
   * stands; the test "the way back to the app is not blocked..." keeps the
   * policy on and shows that bug. */
  async newPage({ csp = false } = {}) {
    if (!this.browser) this.browser = await chromium.launch({ executablePath: CHROMIUM, args: BROWSER_ARGS });
    const ctx = await this.browser.newContext({ locale: 'en-GB', viewport: { width: 1280, height: 800 }, bypassCSP: !csp });
    this.contexts.push(ctx);
    const page = await ctx.newPage();
    page.cspErrors = [];
    page.on('console', (m) => {
      if (m.type() === 'error' && /Content Security Policy/i.test(m.text())) page.cspErrors.push(m.text());
    });
    page.setDefaultTimeout(10000);
    page.setDefaultNavigationTimeout(15000);
    return page;
  }

  /** Waits for the page's h1 to read `name`; fails with what it shows. */
  async expectHeading(page, name) {
    try {
      await page.getByRole('heading', { level: 1, name, exact: true }).waitFor();
    } catch {
      const h1 = await page.getByRole('heading', { level: 1 }).allInnerTexts().catch(() => []);
      const alerts = await page.getByRole('alert').allInnerTexts().catch(() => []);
      throw new Error(`expected the heading "${name}" at ${page.url()}; the page shows ${JSON.stringify(h1)}` +
        (alerts.length ? ` with the alert ${JSON.stringify(alerts)}` : ''));
    }
  }

  /** Waits until the browser is at the redirect URI; returns the URL the
   * app received. */
  async backAtApp(page, state) {
    try {
      // A refusal by the browser's CSP ends the wait early: nothing follows it.
      const arrived = await waitFor(() => page.url().startsWith(this.redirectUri) ? 'yes' : page.cspErrors.length ? 'no' : null,
        `the browser at ${this.redirectUri}`);
      if (arrived !== 'yes') throw new Error('refused');
    } catch {
      const h1 = await page.getByRole('heading', { level: 1 }).allInnerTexts().catch(() => []);
      throw new Error(`expected to be back at ${this.redirectUri}; the browser is at ${page.url()} showing ${JSON.stringify(h1)}` +
        (page.cspErrors.length ? `; the browser refused: ${page.cspErrors.join(' | ')}` : ''));
    }
    return this.callback(state);
  }

  /** On the challenge page for an e-mail factor: sends the code, reads it
   * from the sink and verifies it. */
  async passEmailChallenge(page, user) {
    await this.expectHeading(page, "Verify it's you");
    const before = this.mails(user.email).length;
    await page.getByRole('button', { name: 'Send code' }).click();
    const code = await this.mailCode(user.email, before);
    await page.getByLabel('Code', { exact: true }).fill(code);
    await page.getByRole('button', { name: 'Verify' }).click();
  }

  /** A whole login for a user who already has an e-mail factor: returns
   * {callback (URL), verifier, state, nonce, page}. */
  async login(config, app, user, opts = {}) {
    const a = await this.authorization(config, app, user, opts);
    const page = await this.newPage();
    await page.goto(a.url.href);
    await this.passEmailChallenge(page, user);
    const callback = await this.backAtApp(page, a.state);
    return { ...a, callback, page };
  }
}

/** Runs fn and returns the error it throws (fails when it does not). */
export async function rejection(fn, what) {
  try {
    await fn();
  } catch (e) {
    return e;
  }
  throw new Error(`${what}: expected an error, got success`);
}
