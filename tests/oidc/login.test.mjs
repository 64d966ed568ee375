// The authorization code flow end to end with openid-client as the relying
// party: discovery, a signed request object with PKCE, the pages in
// chromium (enrolment of an e-mail factor under a mandatory policy,
// recovery codes), the token exchange with id_token validation, /userinfo;
// cancelling; prompt=manage; client_secret_post.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { ACR_MFA, Provider, RECOVERY_RE, client, newUser, rejection } from './lib/provider.mjs';

let op;
before(async () => {
  op = await Provider.start({ policy: 'mandatory' });
});
after(async () => {
  if (op) await op.stop();
});

/** The id_token checks every test repeats after openid-client's own. */
function checkClaims(claims, { user, app, nonce, startedAt }) {
  const now = Math.floor(Date.now() / 1000);
  assert.equal(claims.iss, op.issuer);
  assert.equal(claims.aud, app.client_id);
  assert.equal(claims.sub, user.sub);
  assert.equal(claims.nonce, nonce);
  assert.ok(Array.isArray(claims.amr), `amr is ${JSON.stringify(claims.amr)}`);
  assert.ok(claims.amr.includes('mail') && claims.amr.includes('mfa'), `amr ${JSON.stringify(claims.amr)} lacks "mail" or "mfa"`);
  assert.equal(claims.acr, ACR_MFA);
  assert.equal(typeof claims.auth_time, 'number', `auth_time is ${claims.auth_time}`);
  assert.ok(claims.auth_time >= startedAt - 2 && claims.auth_time <= now + 2,
    `auth_time ${claims.auth_time} is not between the start of the login (${startedAt}) and now (${now})`);
  assert.ok(claims.iat <= now + 2 && claims.exp > now, `iat ${claims.iat} / exp ${claims.exp} vs now ${now}`);
}

test('discovery: openid-client reads the provider metadata', async () => {
  const config = await op.rp();
  const m = config.serverMetadata();
  assert.equal(m.issuer, op.issuer);
  assert.equal(m.authorization_endpoint, `${op.issuer}/authorize`);
  assert.equal(m.token_endpoint, `${op.issuer}/token`);
  assert.equal(m.jwks_uri, `${op.issuer}/jwks.json`);
  assert.equal(m.userinfo_endpoint, `${op.issuer}/userinfo`);
  assert.deepEqual(m.code_challenge_methods_supported, ['S256']);
  assert.deepEqual(m.id_token_signing_alg_values_supported, ['ES256']);
  assert.deepEqual(m.request_object_signing_alg_values_supported, ['HS256']);
  assert.ok(m.token_endpoint_auth_methods_supported.includes('client_secret_basic'));
  assert.ok(m.token_endpoint_auth_methods_supported.includes('client_secret_post'));
  assert.equal(config.serverMetadata().supportsPKCE(), true);
});

test('login with enrolment: e-mail factor, recovery codes, id_token and /userinfo', async () => {
  const user = newUser('enrol');
  const app = op.apps.demo;
  const config = await op.rp(app);
  const startedAt = Math.floor(Date.now() / 1000);
  const a = await op.authorization(config, app, user);
  assert.equal(a.url.origin + a.url.pathname, `${op.issuer}/authorize`);
  assert.equal(a.url.searchParams.get('client_id'), app.client_id);

  const page = await op.newPage();
  await page.goto(a.url.href);
  await op.expectHeading(page, 'Set up two-step verification');
  assert.equal(await page.getByRole('button', { name: 'Skip for now' }).count(), 0,
    'a mandatory policy must not offer "Skip for now"');
  await page.getByRole('link', { name: /^Email/ }).click();
  await op.expectHeading(page, 'Add email');
  const before = op.mails(user.email).length;
  await page.getByLabel('Email address').fill(user.email);
  await page.getByRole('button', { name: 'Send code' }).click();
  await op.expectHeading(page, 'Confirm your email address');
  await page.getByLabel('Code', { exact: true }).fill(await op.mailCode(user.email, before));
  await page.getByRole('button', { name: 'Confirm' }).click();
  await op.expectHeading(page, 'Save your recovery codes');
  const list = page.getByRole('list', { name: 'Your recovery codes' });
  const codes = (await list.getByRole('listitem').allInnerTexts()).map((t) => t.trim());
  assert.equal(codes.length, 10, `recovery codes: ${codes}`);
  for (const c of codes) assert.match(c, RECOVERY_RE);
  await page.getByRole('button', { name: 'I have saved them' }).click();

  const cb = await op.backAtApp(page, a.state);
  assert.ok(cb.searchParams.get('code'), `no code in ${cb}`);
  assert.equal(cb.searchParams.get('iss'), op.issuer, 'RFC 9207 iss in the authorization response');

  const tokens = await client.authorizationCodeGrant(config, cb, {
    pkceCodeVerifier: a.verifier, expectedNonce: a.nonce, expectedState: a.state, idTokenExpected: true,
  });
  assert.equal(tokens.token_type.toLowerCase(), 'bearer');
  assert.ok(tokens.access_token);
  const header = JSON.parse(Buffer.from(tokens.id_token.split('.')[0], 'base64url').toString());
  assert.equal(header.alg, 'ES256');
  assert.ok(header.kid, 'the id_token header names its key');
  checkClaims(tokens.claims(), { user, app, nonce: a.nonce, startedAt });

  const info = await client.fetchUserInfo(config, tokens.access_token, user.sub);
  assert.equal(info.sub, user.sub);
});

test('the request object\'s email claim prefills the enrolment (SPEC §6)', async () => {
  const user = newUser('prefill');
  const app = op.apps.demo;
  const config = await op.rp(app);
  const a = await op.authorization(config, app, user, { claims: { email: user.email } });
  const page = await op.newPage();
  await page.goto(a.url.href);
  await op.expectHeading(page, 'Set up two-step verification');
  await page.getByRole('link', { name: /^Email/ }).click();
  await op.expectHeading(page, 'Add email');
  assert.equal(await page.getByLabel('Email address').inputValue(), user.email,
    'the request object named the e-mail address, the field does not show it');
});

test('cancel on the challenge page: error=access_denied with state', async () => {
  const user = newUser('cancel');
  const app = op.apps.demo;
  await op.enrolEmail(user, app);
  const config = await op.rp(app);
  const a = await op.authorization(config, app, user);
  const page = await op.newPage();
  await page.goto(a.url.href);
  await op.expectHeading(page, "Verify it's you");
  await page.getByRole('button', { name: 'Cancel' }).click();
  const cb = await op.backAtApp(page, a.state);
  assert.equal(cb.searchParams.get('error'), 'access_denied');
  assert.equal(cb.searchParams.get('state'), a.state);
  assert.equal(cb.searchParams.get('code'), null);
  // openid-client sees the error response for what it is.
  const e = await rejection(() => client.authorizationCodeGrant(config, cb, {
    pkceCodeVerifier: a.verifier, expectedNonce: a.nonce, expectedState: a.state,
  }), 'a cancelled login');
  assert.ok(e instanceof client.AuthorizationResponseError, `got ${e}`);
  assert.equal(e.error, 'access_denied');
});

test('prompt=manage: the account page after the second step, "Back to app" returns with a code', async () => {
  const user = newUser('manage');
  const app = op.apps.demo;
  await op.enrolEmail(user, app);
  const config = await op.rp(app);
  const startedAt = Math.floor(Date.now() / 1000);
  const a = await op.authorization(config, app, user, { claims: { prompt: 'manage' } });
  const page = await op.newPage();
  await page.goto(a.url.href);
  await op.passEmailChallenge(page, user);
  await op.expectHeading(page, 'Two-step verification');
  assert.match(page.url(), /\/account(\?|$)/);
  await page.getByRole('button', { name: 'Back to Demo' }).click();
  const cb = await op.backAtApp(page, a.state);
  const tokens = await client.authorizationCodeGrant(config, cb, {
    pkceCodeVerifier: a.verifier, expectedNonce: a.nonce, expectedState: a.state, idTokenExpected: true,
  });
  checkClaims(tokens.claims(), { user, app, nonce: a.nonce, startedAt });
});

test('client_secret_post works as well as client_secret_basic', async () => {
  const user = newUser('post');
  const app = op.apps.demo;
  await op.enrolEmail(user, app);
  const config = await op.rp(app, { auth: 'post' });
  const startedAt = Math.floor(Date.now() / 1000);
  const a = await op.login(config, app, user);
  const tokens = await client.authorizationCodeGrant(config, a.callback, {
    pkceCodeVerifier: a.verifier, expectedNonce: a.nonce, expectedState: a.state, idTokenExpected: true,
  });
  checkClaims(tokens.claims(), { user, app, nonce: a.nonce, startedAt });
  const info = await client.fetchUserInfo(config, tokens.access_token, user.sub);
  assert.equal(info.sub, user.sub);
});

// The pages send "form-action 'self'". The last form of a login (Verify,
// "I have saved them", Cancel, "Back to app") is answered with a 303 to the
// app's redirect URI, another origin; chromium applies form-action to the
// redirects of a form submission too, so it blocks the way back and the
// user stays on otpgate's page. The other tests in this folder turn the
// policy off in the browser to check the OpenID Connect side; this one
// keeps it on.
test('the way back to the app is not blocked by the pages\' Content-Security-Policy (form-action)', async () => {
  const user = newUser('csp');
  const app = op.apps.demo;
  await op.enrolEmail(user, app);
  const config = await op.rp(app);
  const a = await op.authorization(config, app, user);
  const page = await op.newPage({ csp: true });
  await page.goto(a.url.href);
  await op.passEmailChallenge(page, user);
  const cb = await op.backAtApp(page, a.state);
  assert.ok(cb.searchParams.get('code'), `no code in ${cb}`);
  assert.deepEqual(page.cspErrors, []);
});
