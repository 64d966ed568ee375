// What the browser tests (tests/browser) and the OpenID Connect tests
// (tests/oidc) both need, with Node's own modules only (each suite has its
// own node_modules): the binary, waiting, ports, child processes, the
// server's start, e-mail parsing and unique users.
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import readline from 'node:readline';

/** The otpgate binary under test (ctest sets OTPGATE_BIN). */
export function otpgateBin() {
  const bin = process.env.OTPGATE_BIN;
  if (!bin) throw new Error('OTPGATE_BIN is not set: point it at the otpgate binary (ctest sets it)');
  fs.accessSync(bin, fs.constants.X_OK);
  return bin;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Calls fn until it returns something truthy; returns that or throws. */
export async function waitFor(fn, what, timeoutMs = 10000, intervalMs = 50) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

/** A loopback port nobody listens on right now. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Sends signal, then SIGKILL after waitMs; resolves once the child is gone. */
export function killChild(child, signal = 'SIGTERM', waitMs = 5000) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      try {
        child.kill('SIGKILL');
      } catch {}
      resolve();
    }, waitMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    try {
      child.kill(signal);
    } catch {
      clearTimeout(timer);
      resolve();
    }
  });
}

/** Starts `otpgate serve` with env in cwd, keeping up to maxLines of its log
 * in logLines; resolves {child, ready} once it logs "listening" (ready true)
 * or exits or stays silent for 10 s (ready false). */
export function spawnOtpgate(bin, env, cwd, logLines, maxLines) {
  const child = spawn(bin, ['serve'], { env, cwd, stdio: ['ignore', 'ignore', 'pipe'] });
  const rl = readline.createInterface({ input: child.stderr });
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve({ child, ready: false }), 10000);
    rl.on('line', (line) => {
      logLines.push(line);
      if (logLines.length > maxLines) logLines.shift();
      try {
        if (JSON.parse(line).msg === 'listening') {
          clearTimeout(timer);
          resolve({ child, ready: true });
        }
      } catch {}
    });
    child.once('exit', () => {
      clearTimeout(timer);
      resolve({ child, ready: false });
    });
  });
}

// ---- e-mail -------------------------------------------------------------------

function parseHeaders(text) {
  const headers = {};
  const unfolded = text.replace(/\r?\n[ \t]+/g, ' ');
  for (const line of unfolded.split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  return headers;
}

function decodeBody(body, cte) {
  cte = (cte || '').toLowerCase();
  if (cte === 'base64') return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
  if (cte === 'quoted-printable') {
    const bytes = body
      .replace(/=\r?\n/g, '')
      .replace(/=([0-9A-Fa-f]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16)));
    return Buffer.from(bytes, 'latin1').toString('utf8');
  }
  return body;
}

/** The leaf parts of a raw MIME message: [{type, text}]. */
export function mimeParts(raw) {
  const split = raw.search(/\r?\n\r?\n/);
  const headers = parseHeaders(raw.slice(0, split));
  const body = raw.slice(split).replace(/^\r?\n\r?\n/, '');
  const ctype = headers['content-type'] || 'text/plain';
  const m = /boundary="?([^";]+)"?/i.exec(ctype);
  if (/^multipart\//i.test(ctype) && m) {
    const out = [];
    for (const chunk of body.split(`--${m[1]}`).slice(1)) {
      if (chunk.startsWith('--')) break;
      out.push(...mimeParts(chunk.replace(/^\r?\n/, '')));
    }
    return out;
  }
  return [{ type: ctype.split(';')[0].trim().toLowerCase(), text: decodeBody(body, headers['content-transfer-encoding']) }];
}

/** The one 6-digit code in a received message's text/plain part. */
export function mailCode(record) {
  const part = mimeParts(record.data).find((p) => p.type === 'text/plain');
  if (!part) throw new Error('the message has no text/plain part');
  const codes = [...new Set(part.text.match(/(?<!\d)\d{6}(?!\d)/g) || [])];
  if (codes.length !== 1) throw new Error(`expected one code in the e-mail, found ${JSON.stringify(codes)}: ${part.text}`);
  return codes[0];
}

/** A unique user id and e-mail address for one flow. */
let userSeq = 0;
export function newUser(prefix) {
  userSeq++;
  const tag = `${prefix}-${process.pid}-${userSeq}-${crypto.randomBytes(3).toString('hex')}`;
  return { sub: `user-${tag}`, email: `${tag}@example.com` };
}

// ---- passkeys ---------------------------------------------------------------

/** A fresh DevTools virtual authenticator in page's browser context (one
 * per test: a ctap2 one holds 3 discoverable credentials). opts go to
 * WebAuthn.addVirtualAuthenticator (default: a platform passkey, ctap2 over
 * "internal" with resident keys and user verification, the user verified
 * and present). Returns {cdp, id, credentials(), remove(),
 * setUserVerified(bool)}. The page must be at a secure origin
 * (http://localhost) for the pages to use it. */
export async function virtualAuthenticator(page, opts = {}) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable', { enableUI: false });
  const options = {
    protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true,
    isUserVerified: true, automaticPresenceSimulation: true, ...opts,
  };
  const { authenticatorId: id } = await cdp.send('WebAuthn.addVirtualAuthenticator', { options });
  return {
    cdp,
    id,
    options,
    async credentials() {
      return (await cdp.send('WebAuthn.getCredentials', { authenticatorId: id })).credentials;
    },
    async remove() {
      await cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId: id });
    },
    async setUserVerified(isUserVerified) {
      await cdp.send('WebAuthn.setUserVerified', { authenticatorId: id, isUserVerified });
    },
  };
}
