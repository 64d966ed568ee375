// A small web app that keeps its own password login and asks otpgate for
// the second step through OpenID Connect (openid-client as the relying
// party, the request object signed with jose).
//
//   OTPGATE_ISSUER  otpgate's public URL (default http://127.0.0.1:8080)
//   CLIENT_ID       the app's client id      (`otpgate app add` prints both)
//   CLIENT_SECRET   the app's client secret
//   PORT            where this app listens (default 3000, on 127.0.0.1)
//   APP_URL         this app's own base URL (default http://127.0.0.1:PORT);
//                   APP_URL/callback must be a registered redirect URI
//
// The flow: the user types the demo password here; the app then sends the
// browser to otpgate's /authorize with a request object (RFC 9101) that
// names the user in login_hint, signed HS256 with the client secret, and
// PKCE S256. otpgate runs the second step (or the enrolment) and sends the
// browser back to /callback with a code; openid-client exchanges it and
// validates the id_token (signature against otpgate's JWKS, iss, aud,
// nonce, state). "Manage two-step verification" is the same flow with
// prompt=manage, which opens otpgate's account page.
import { webcrypto } from 'node:crypto';
import crypto from 'node:crypto';

// Node 18 keeps Web Crypto off the global object; openid-client needs it.
if (!globalThis.crypto || !globalThis.crypto.subtle) {
  Object.defineProperty(globalThis, 'crypto', { value: webcrypto, configurable: true, writable: true });
}
if (typeof globalThis.CryptoKey === 'undefined') {
  const k = await webcrypto.subtle.generateKey({ name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  globalThis.CryptoKey = webcrypto.CryptoKey || k.constructor;
}

const { default: express } = await import('express');
const jose = await import('jose');
const client = await import('openid-client');

const ISSUER = (process.env.OTPGATE_ISSUER || 'http://127.0.0.1:8080').replace(/\/+$/, '');
const CLIENT_ID = process.env.CLIENT_ID;
const CLIENT_SECRET = process.env.CLIENT_SECRET;
const PORT = parseInt(process.env.PORT || '3000', 10);
const HOST = process.env.HOST || '127.0.0.1';
const APP_URL = (process.env.APP_URL || `http://127.0.0.1:${PORT}`).replace(/\/+$/, '');
const REDIRECT_URI = `${APP_URL}/callback`;

// The one demo user; the password is shown on the login page.
const DEMO_USER = 'alice';
const DEMO_PASSWORD = 'correct horse battery staple';

if (!CLIENT_ID || !CLIENT_SECRET) {
  console.error('demo-app: set CLIENT_ID and CLIENT_SECRET (from `otpgate app add`)');
  process.exit(2);
}

// ---- otpgate through openid-client -----------------------------------------

let discovered = null;

/** openid-client's configuration from otpgate's discovery document (fetched
 * once; retried on the next request when otpgate was not up yet). */
function oidc() {
  if (!discovered) {
    const options = ISSUER.startsWith('http://') ? { execute: [client.allowInsecureRequests] } : undefined;
    discovered = client.discovery(new URL(ISSUER), CLIENT_ID, { client_secret: CLIENT_SECRET },
      client.ClientSecretBasic(CLIENT_SECRET), options).catch((e) => {
      discovered = null;
      throw e;
    });
  }
  return discovered;
}

/** The URL of otpgate's /authorize for this user, with a signed request
 * object and PKCE; what the callback must check goes into the session. */
async function authorizationUrl(session, purpose) {
  const config = await oidc();
  const verifier = client.randomPKCECodeVerifier();
  const challenge = await client.calculatePKCECodeChallenge(verifier);
  const state = client.randomState();
  const nonce = client.randomNonce();
  const claims = {
    iss: CLIENT_ID,
    aud: config.serverMetadata().issuer,
    client_id: CLIENT_ID,
    response_type: 'code',
    redirect_uri: REDIRECT_URI,
    scope: 'openid',
    login_hint: session.user,
    nonce,
    state,
    code_challenge: challenge,
    code_challenge_method: 'S256',
  };
  if (purpose === 'manage') claims.prompt = 'manage';
  const request = await new jose.SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256', typ: 'oauth-authz-req+jwt' })
    .setIssuedAt()
    .setExpirationTime('5m')
    .setJti(crypto.randomUUID())
    .sign(new TextEncoder().encode(CLIENT_SECRET));
  session.pending = { verifier, state, nonce, purpose };
  return client.buildAuthorizationUrl(config, {
    response_type: 'code', redirect_uri: REDIRECT_URI, scope: 'openid', state, request,
  });
}

// ---- sessions (in memory; a demo) -------------------------------------------

const sessions = new Map();
const COOKIE = 'demo_session';

function session(req, res) {
  const m = /(?:^|;\s*)demo_session=([A-Za-z0-9_-]{20,})/.exec(req.headers.cookie || '');
  let s = m && sessions.get(m[1]);
  if (!s) {
    const id = crypto.randomBytes(24).toString('base64url');
    s = { id, csrf: crypto.randomBytes(24).toString('base64url') };
    sessions.set(id, s);
    res.append('Set-Cookie', `${COOKIE}=${id}; Path=/; HttpOnly; SameSite=Lax`);
  }
  return s;
}

function csrfOk(s, req) {
  const t = req.body && req.body.csrf;
  return typeof t === 'string' && t.length === s.csrf.length &&
    crypto.timingSafeEqual(Buffer.from(t), Buffer.from(s.csrf));
}

// ---- pages -------------------------------------------------------------------

const esc = (v) => String(v).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);

function page(title, body) {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)} · Demo app</title>
<style>
  body { font: 16px/1.5 system-ui, sans-serif; margin: 0; background: #f4f5f7; color: #1f2328; }
  main { max-width: 34rem; margin: 3rem auto; background: #fff; padding: 2rem; border-radius: 12px; box-shadow: 0 1px 3px #0002; }
  h1 { margin-top: 0; font-size: 1.5rem; }
  label { display: block; margin: 1rem 0 .25rem; font-weight: 600; }
  input { width: 100%; box-sizing: border-box; padding: .6rem; font: inherit; border: 1px solid #8c959f; border-radius: 6px; }
  button { margin-top: 1.25rem; padding: .6rem 1.1rem; font: inherit; border: 0; border-radius: 6px; background: #1d4ed8; color: #fff; cursor: pointer; }
  button.secondary { background: #fff; color: #1d4ed8; border: 1px solid #1d4ed8; }
  .hint { background: #fff8c5; padding: .75rem 1rem; border-radius: 6px; }
  .error { background: #ffebe9; padding: .75rem 1rem; border-radius: 6px; }
  .notice { background: #dafbe1; padding: .75rem 1rem; border-radius: 6px; }
  dl { display: grid; grid-template-columns: max-content 1fr; gap: .35rem 1rem; }
  dt { font-weight: 600; } dd { margin: 0; word-break: break-all; }
  form.inline { display: inline-block; margin-right: .5rem; }
  code { background: #f0f1f3; padding: 0 .25rem; border-radius: 4px; }
</style>
</head>
<body><main>
${body}
</main></body>
</html>
`;
}

function flash(s) {
  const f = s.flash;
  s.flash = null;
  if (!f) return '';
  return `<p class="${f.kind}" role="${f.kind === 'error' ? 'alert' : 'status'}">${esc(f.text)}</p>`;
}

function loginPage(s) {
  return page('Sign in', `<h1>Sign in to the demo app</h1>
${flash(s)}
<p class="hint">Demo account: user <code>${esc(DEMO_USER)}</code>, password <code>${esc(DEMO_PASSWORD)}</code>.
After the password, otpgate asks for the second step.</p>
<form method="post" action="/login">
<input type="hidden" name="csrf" value="${esc(s.csrf)}">
<label for="username">User name</label>
<input id="username" name="username" autocomplete="username" value="${esc(DEMO_USER)}" required>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required autofocus>
<button type="submit">Sign in</button>
</form>`);
}

function homePage(s) {
  const r = s.result;
  const when = (t) => (t ? `${new Date(t * 1000).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC')}` : '—');
  return page('Signed in', `<h1>Signed in</h1>
${flash(s)}
<p>You passed the password check here; otpgate says what it vouches for in
<code>acr</code>. The app validated this id_token with openid-client:</p>
<dl>
<dt>sub</dt><dd>${esc(r.sub)}</dd>
<dt>amr</dt><dd>${esc((r.amr || []).join(', ') || '—')}</dd>
<dt>acr</dt><dd>${esc(r.acr || '—')}</dd>
<dt>auth_time</dt><dd>${esc(when(r.auth_time))}</dd>
<dt>iss</dt><dd>${esc(r.iss)}</dd>
<dt>/userinfo sub</dt><dd>${esc(r.userinfo_sub)}</dd>
</dl>
<form class="inline" method="post" action="/manage">
<input type="hidden" name="csrf" value="${esc(s.csrf)}">
<button type="submit">Manage two-step verification</button>
</form>
<form class="inline" method="post" action="/logout">
<input type="hidden" name="csrf" value="${esc(s.csrf)}">
<button type="submit" class="secondary">Sign out</button>
</form>`);
}

// ---- routes ------------------------------------------------------------------

const app = express();
app.disable('x-powered-by');
app.use(express.urlencoded({ extended: false, limit: '8kb' }));
app.use((req, res, next) => {
  res.set('Cache-Control', 'no-store');
  res.set('X-Frame-Options', 'DENY');
  res.set('Referrer-Policy', 'no-referrer');
  next();
});

app.get('/favicon.ico', (req, res) => res.status(204).end());

app.get('/', (req, res) => {
  const s = session(req, res);
  res.type('html').send(s.result ? homePage(s) : loginPage(s));
});

async function sendToOtpgate(s, res, purpose) {
  try {
    res.redirect(303, (await authorizationUrl(s, purpose)).href);
  } catch (e) {
    console.error('demo-app: cannot reach otpgate:', e.message);
    s.flash = { kind: 'error', text: `otpgate at ${ISSUER} does not answer (${e.message}). Is it running?` };
    res.redirect(303, '/');
  }
}

app.post('/login', async (req, res) => {
  const s = session(req, res);
  if (!csrfOk(s, req)) return res.status(403).type('html').send(page('Refused', '<h1>Refused</h1><p>The form expired; <a href="/">start again</a>.</p>'));
  const { username, password } = req.body;
  const okUser = username === DEMO_USER;
  const okPass = typeof password === 'string' && password.length === DEMO_PASSWORD.length &&
    crypto.timingSafeEqual(Buffer.from(password), Buffer.from(DEMO_PASSWORD));
  if (!okUser || !okPass) {
    s.flash = { kind: 'error', text: 'Wrong user name or password.' };
    return res.redirect(303, '/');
  }
  // The password is right: the first step is done here. otpgate does the second.
  s.user = DEMO_USER;
  s.result = null;
  await sendToOtpgate(s, res, 'login');
});

app.post('/manage', async (req, res) => {
  const s = session(req, res);
  if (!csrfOk(s, req) || !s.result) return res.redirect(303, '/');
  await sendToOtpgate(s, res, 'manage');
});

app.post('/logout', (req, res) => {
  const s = session(req, res);
  if (csrfOk(s, req)) sessions.delete(s.id);
  res.append('Set-Cookie', `${COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0`);
  res.redirect(303, '/');
});

app.get('/callback', async (req, res) => {
  const s = session(req, res);
  const pending = s.pending;
  s.pending = null;
  if (!pending || !s.user) {
    s.flash = { kind: 'error', text: 'That sign-in is not in progress here; please sign in again.' };
    return res.redirect(303, '/');
  }
  try {
    const config = await oidc();
    const tokens = await client.authorizationCodeGrant(config, new URL(req.originalUrl, APP_URL), {
      pkceCodeVerifier: pending.verifier,
      expectedNonce: pending.nonce,
      expectedState: pending.state,
      idTokenExpected: true,
    });
    const claims = tokens.claims();
    if (claims.sub !== s.user) throw new Error(`the id_token names ${claims.sub}, not ${s.user}`);
    const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
    s.result = { sub: claims.sub, amr: claims.amr, acr: claims.acr, auth_time: claims.auth_time, iss: claims.iss, userinfo_sub: info.sub };
    // acr says what otpgate vouches for: a second step just now (mfa), a
    // remembered device, or none (the policy let the user through).
    const kind = claims.acr === 'urn:otpgate:acr:mfa' ? 'passed'
      : claims.acr === 'urn:otpgate:acr:remembered' ? 'remembered' : 'none';
    s.flash = pending.purpose === 'manage'
      ? { kind: 'notice', text: 'Back from managing two-step verification.' }
      : kind === 'passed' ? { kind: 'notice', text: 'Two-step verification passed.' }
        : kind === 'remembered' ? { kind: 'notice', text: 'Signed in on a remembered device (no second step this time).' }
          : { kind: 'notice', text: 'Signed in without a second step: your organisation\'s policy did not ask for one.' };
  } catch (e) {
    if (e instanceof client.AuthorizationResponseError && e.error === 'access_denied') {
      s.flash = { kind: 'error', text: 'The second step was cancelled.' };
    } else {
      console.error('demo-app: callback:', e);
      s.flash = { kind: 'error', text: `Sign-in failed: ${e.error || ''} ${e.error_description || e.message}`.trim() };
    }
    if (pending.purpose === 'login') {
      s.user = null;
      s.result = null;
    }
  }
  res.redirect(303, '/');
});

app.listen(PORT, HOST, () => {
  console.log(`demo-app: listening on ${APP_URL} (otpgate at ${ISSUER}, client ${CLIENT_ID})`);
});
