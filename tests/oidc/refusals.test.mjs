// What otpgate refuses, seen by a relying party: /authorize without a valid
// signed request object (only its values count, never the query's), with an
// unregistered redirect URI or without PKCE;
// /token with a wrong verifier, a reused code, another client's code or a
// wrong client secret.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { Provider, client, jose, newUser, rejection } from './lib/provider.mjs';

let op;
let config;
before(async () => {
  op = await Provider.start({ policy: 'mandatory' });
  config = await op.rp(op.apps.demo);
});
after(async () => {
  if (op) await op.stop();
});

/** /authorize answered with a redirect back to the app carrying `error`
 * (one of `errors`) and the state; openid-client sees the same error. */
async function expectErrorRedirect(a, errors, why) {
  const res = await op.get(a.url);
  assert.equal(res.status, 303, `/authorize answered ${res.status}: ${res.text}`);
  assert.ok(res.location, 'no Location');
  const loc = res.location;
  assert.equal(loc.origin + loc.pathname, op.redirectUri, `redirected to ${loc}`);
  const error = loc.searchParams.get('error');
  assert.ok(errors.includes(error), `error=${error} (${loc.searchParams.get('error_description')}), expected ${errors.join(' or ')}`);
  if (why) assert.match(loc.searchParams.get('error_description') || '', why);
  assert.equal(loc.searchParams.get('state'), a.state);
  assert.equal(loc.searchParams.get('iss'), op.issuer, 'RFC 9207 iss in the error response');
  assert.equal(loc.searchParams.get('code'), null);
  const e = await rejection(() => client.authorizationCodeGrant(config, loc, {
    pkceCodeVerifier: a.verifier, expectedNonce: a.nonce, expectedState: a.state,
  }), 'an error response');
  assert.ok(e instanceof client.AuthorizationResponseError, `openid-client: ${e}`);
  assert.equal(e.error, error);
  return loc;
}

const OBJECT_ERRORS = ['invalid_request_object', 'invalid_request'];

test('no request object: error=invalid_request', async () => {
  const a = await op.authorization(config, op.apps.demo, newUser('noreq'), { request: null });
  await expectErrorRedirect(a, ['invalid_request'], /request object/);
});

test('an unsigned request object (alg none) is refused', async () => {
  const user = newUser('none');
  const a0 = await op.authorization(config, op.apps.demo, user);
  const now = Math.floor(Date.now() / 1000);
  const unsigned = new jose.UnsecuredJWT({
    ...a0.claims, iss: op.apps.demo.client_id, aud: op.issuer, iat: now, exp: now + 300, jti: crypto.randomUUID(),
    client_id: op.apps.demo.client_id, response_type: 'code', redirect_uri: op.redirectUri, scope: 'openid',
  }).encode();
  assert.match(unsigned, /\.$/, 'an unsecured JWS has an empty signature');
  const a = await op.authorization(config, op.apps.demo, user, { request: unsigned });
  await expectErrorRedirect(a, OBJECT_ERRORS, /not signed/);
});

test('a request object signed with another key is refused', async () => {
  const user = newUser('badsig');
  let a = await op.authorization(config, op.apps.demo, user, { key: 'not-the-client-secret-at-all-0123456789' });
  await expectErrorRedirect(a, OBJECT_ERRORS, /not signed/);
  // Signed with another app's secret (and claiming the other's client_id
  // only inside): still not this app's.
  a = await op.authorization(config, op.apps.demo, user, { key: op.apps.other.client_secret });
  await expectErrorRedirect(a, OBJECT_ERRORS, /not signed/);
});

test('an expired request object is refused', async () => {
  const now = Math.floor(Date.now() / 1000);
  const a = await op.authorization(config, op.apps.demo, newUser('expired'), { claims: { iat: now - 900, exp: now - 600 } });
  await expectErrorRedirect(a, OBJECT_ERRORS, /expired/);
});

test('a request object whose iss or aud is not this client and issuer is refused', async () => {
  let a = await op.authorization(config, op.apps.demo, newUser('iss'), { claims: { iss: op.apps.other.client_id } });
  await expectErrorRedirect(a, OBJECT_ERRORS, /iss/);
  a = await op.authorization(config, op.apps.demo, newUser('aud'), { claims: { aud: 'http://127.0.0.1:1' } });
  await expectErrorRedirect(a, OBJECT_ERRORS, /aud/);
});

test('a replayed request object (same jti) is refused the second time', async () => {
  const a = await op.authorization(config, op.apps.demo, newUser('replay'));
  const first = await op.get(a.url);
  assert.equal(first.status, 303, `first use answered ${first.status}: ${first.text}`);
  assert.equal(first.location.origin, op.issuer, `the first use should open the pages, went to ${first.location}`);
  assert.equal(first.location.searchParams.get('error'), null);
  await expectErrorRedirect(a, OBJECT_ERRORS, /used before/);
});

test('an unregistered redirect_uri gets a 400 page, never a redirect', async () => {
  const elsewhere = `http://127.0.0.1:${op.cbPort}/elsewhere`;
  const a = await op.authorization(config, op.apps.demo, newUser('redir'), {
    claims: { redirect_uri: elsewhere }, query: { redirect_uri: elsewhere },
  });
  const res = await op.get(a.url);
  assert.equal(res.status, 400);
  assert.equal(res.location, null, `redirected to ${res.location}`);
  assert.match(res.headers.get('content-type') || '', /^text\/html/);
  assert.match(res.text, /redirect URI is not registered/);
  // No redirect URI at all: the same.
  const b = await op.authorization(config, op.apps.demo, newUser('redir'), { query: { redirect_uri: undefined } });
  const res2 = await op.get(b.url);
  assert.equal(res2.status, 400);
  assert.equal(res2.location, null);
});

test('no PKCE in the request object: invalid_request_object, even with PKCE in the query', async () => {
  const verifier = client.randomPKCECodeVerifier();
  const challenge = await client.calculatePKCECodeChallenge(verifier);
  let a = await op.authorization(config, op.apps.demo, newUser('nopkce'), {
    claims: { code_challenge: undefined, code_challenge_method: undefined },
    query: { code_challenge: challenge, code_challenge_method: 'S256' },
  });
  await expectErrorRedirect(a, ['invalid_request_object'], /must carry code_challenge/);
  a = await op.authorization(config, op.apps.demo, newUser('nomethod'), {
    claims: { code_challenge_method: undefined }, query: { code_challenge_method: 'S256' },
  });
  await expectErrorRedirect(a, ['invalid_request_object'], /must carry code_challenge_method/);
  // "plain" is not S256.
  a = await op.authorization(config, op.apps.demo, newUser('plain'), {
    claims: { code_challenge: 'x'.repeat(43), code_challenge_method: 'plain' },
  });
  await expectErrorRedirect(a, ['invalid_request'], /PKCE/);
});

// RFC 9101 §6.3: only the signed values count; the query's copies are
// never read (before, a value missing from the object was taken from the
// unsigned query).
test('a request object without client_id, response_type, redirect_uri or scope is refused', async () => {
  for (const name of ['client_id', 'response_type', 'redirect_uri', 'scope']) {
    const a = await op.authorization(config, op.apps.demo, newUser('missing'), { claims: { [name]: undefined } });
    await expectErrorRedirect(a, ['invalid_request_object'], new RegExp(`must carry ${name}`));
  }
});

test("the query's prompt does not count: prompt=none outside the object is ignored", async () => {
  // Inside the object it is refused...
  let a = await op.authorization(config, op.apps.demo, newUser('prompt'), { claims: { prompt: 'none' } });
  await expectErrorRedirect(a, ['interaction_required']);
  // ...outside it the pages open as if it were not there.
  a = await op.authorization(config, op.apps.demo, newUser('prompt'), { query: { prompt: 'none' } });
  const res = await op.get(a.url);
  assert.equal(res.status, 303, `/authorize answered ${res.status}: ${res.text}`);
  assert.equal(res.location.origin, op.issuer, `went to ${res.location}`);
  assert.equal(res.location.searchParams.get('error'), null);
});

test("the query's state does not count: errors after the object verified carry the signed state", async () => {
  // The object leaves state out (and asks for a scope without openid); the
  // query's state is not the app's word and is not echoed.
  let a = await op.authorization(config, op.apps.demo, newUser('state'), {
    claims: { state: undefined, scope: 'profile' }, query: { scope: 'openid' },
  });
  let res = await op.get(a.url);
  assert.equal(res.status, 303, res.text);
  assert.equal(res.location.origin + res.location.pathname, op.redirectUri);
  assert.equal(res.location.searchParams.get('error'), 'invalid_scope');
  assert.equal(res.location.searchParams.get('state'), null, `state echoed: ${res.location}`);
  // A signed state other than the query's: the signed one comes back.
  a = await op.authorization(config, op.apps.demo, newUser('state'), { claims: { state: 'signed-state', scope: 'profile' } });
  res = await op.get(a.url);
  assert.equal(res.location.searchParams.get('error'), 'invalid_scope');
  assert.equal(res.location.searchParams.get('state'), 'signed-state');
  // Before the object verifies, the query's state is all there is (RFC 6749).
  a = await op.authorization(config, op.apps.demo, newUser('state'), { key: 'not-the-client-secret-at-all-0123456789' });
  await expectErrorRedirect(a, OBJECT_ERRORS, /not signed/);
});

test('a request object living longer than 5 minutes, or without iat, is refused', async () => {
  const now = Math.floor(Date.now() / 1000);
  let a = await op.authorization(config, op.apps.demo, newUser('long'), { claims: { iat: now, exp: now + 3600 } });
  await expectErrorRedirect(a, ['invalid_request_object'], /exp is more than 5 minutes after its iat/);
  a = await op.authorization(config, op.apps.demo, newUser('long'), { claims: { iat: now - 10, exp: now + 301 } });
  await expectErrorRedirect(a, ['invalid_request_object'], /exp is more than 5 minutes/);
  a = await op.authorization(config, op.apps.demo, newUser('noiat'), { claims: { iat: undefined } });
  await expectErrorRedirect(a, ['invalid_request_object'], /iat/);
  // Exactly 5 minutes is fine.
  a = await op.authorization(config, op.apps.demo, newUser('five'), { claims: { iat: now, exp: now + 300 } });
  const res = await op.get(a.url);
  assert.equal(res.status, 303, res.text);
  assert.equal(res.location.origin, op.issuer, `went to ${res.location}`);
});

/** A code for the Demo app, from a real login in the browser. */
async function demoCode(prefix) {
  const user = newUser(prefix);
  await op.enrolEmail(user);
  const a = await op.login(config, op.apps.demo, user);
  assert.ok(a.callback.searchParams.get('code'), `no code in ${a.callback}`);
  return { ...a, user };
}

function checks(a, overrides = {}) {
  return { pkceCodeVerifier: a.verifier, expectedNonce: a.nonce, expectedState: a.state, idTokenExpected: true, ...overrides };
}

function expectTokenError(e, status, error) {
  assert.ok(e instanceof client.ResponseBodyError, `expected a token endpoint error, got ${e && e.stack}`);
  assert.equal(e.status, status);
  assert.equal(e.error, error, `error ${e.error}: ${e.error_description}`);
  return e.error_description || '';
}

test('a wrong code_verifier: invalid_grant', async () => {
  const a = await demoCode('verifier');
  const e = await rejection(() => client.authorizationCodeGrant(config, a.callback,
    checks(a, { pkceCodeVerifier: client.randomPKCECodeVerifier() })), 'a wrong verifier');
  assert.match(expectTokenError(e, 400, 'invalid_grant'), /PKCE|verifier/);
});

test('a code works once: the second use is invalid_grant', async () => {
  const a = await demoCode('reuse');
  const tokens = await client.authorizationCodeGrant(config, a.callback, checks(a));
  assert.equal(tokens.claims().sub, a.user.sub);
  const e = await rejection(() => client.authorizationCodeGrant(config, a.callback, checks(a)), 'a reused code');
  assert.match(expectTokenError(e, 400, 'invalid_grant'), /already used/);
});

test('a code issued to another client: invalid_grant', async () => {
  const a = await demoCode('other');
  const otherConfig = await op.rp(op.apps.other);
  const e = await rejection(() => client.authorizationCodeGrant(otherConfig, a.callback, checks(a)), 'another client\'s code');
  assert.match(expectTokenError(e, 400, 'invalid_grant'), /another client/);
});

test('a wrong client secret at /token: 401 invalid_client', async () => {
  const a = await demoCode('secret');
  for (const auth of ['basic', 'post']) {
    const wrong = await op.rp(op.apps.demo, { auth, secret: 'wrong-' + op.apps.demo.client_secret });
    const e = await rejection(() => client.authorizationCodeGrant(wrong, a.callback, checks(a)), `a wrong secret (${auth})`);
    // A 401 with WWW-Authenticate is a challenge error in openid-client;
    // either way the status and the body's error are what count.
    const status = e.status ?? e.response?.status;
    assert.equal(status, 401, `${auth}: ${e}`);
    const body = e instanceof client.ResponseBodyError ? e.cause : await e.response.json();
    assert.equal(body.error, 'invalid_client', `${auth}: ${JSON.stringify(body)}`);
  }
  // The right client still gets its tokens with that code.
  const tokens = await client.authorizationCodeGrant(config, a.callback, checks(a));
  assert.equal(tokens.claims().sub, a.user.sub);
});
