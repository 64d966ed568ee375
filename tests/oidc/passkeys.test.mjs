// Passkeys through OpenID Connect with openid-client as the relying party
// and Chromium's virtual authenticator (one per test), the issuer at
// http://localhost:PORT: the id_token after a passkey says acr "phr" and
// amr hwk, user, mfa; acr_values=phr in the signed request object makes a
// user with only an e-mail factor add a passkey before going back; a
// weaker value beside phr leaves the code enough; discovery names phr.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { ACR_MFA, Provider, client, newUser, virtualAuthenticator } from './lib/provider.mjs';

let op;
before(async () => {
  op = await Provider.start({ policy: 'mandatory', localhost: true });
  op.cli(['policy', 'set', 'factors=email,totp,webauthn']);
});
after(async () => {
  if (op) await op.stop();
});

async function tokens(config, a, callback) {
  const t = await client.authorizationCodeGrant(config, callback, {
    pkceCodeVerifier: a.verifier, expectedNonce: a.nonce, expectedState: a.state, idTokenExpected: true,
  });
  return t.claims();
}

async function addPasskeyHere(page) {
  await page.getByRole('link', { name: /^Passkey or security key/ }).click();
  await op.expectHeading(page, 'Add a passkey or security key');
  await page.getByRole('button', { name: 'Create a passkey' }).click();
}

test('passkey: added at the first sign-in, used at the next; the id_token says phr', async () => {
  const user = newUser('oidc-pk');
  const config = await op.rp();
  const page = await op.newPage();
  const auth = await virtualAuthenticator(page);
  const a = await op.authorization(config, op.apps.demo, user);
  await page.goto(a.url.href);
  await op.expectHeading(page, 'Set up two-step verification');
  await addPasskeyHere(page);
  await op.expectHeading(page, 'Save your recovery codes');
  await page.getByRole('button', { name: 'I have saved them' }).click();
  const first = await tokens(config, a, await op.backAtApp(page, a.state));
  assert.equal(first.acr, 'phr');
  assert.deepEqual(first.amr, ['hwk', 'user', 'mfa']);
  assert.equal((await auth.credentials()).length, 1);

  const b = await op.authorization(config, op.apps.demo, user);
  await page.goto(b.url.href);
  await op.expectHeading(page, "Verify it's you");
  await page.getByRole('button', { name: 'Use your passkey' }).click();
  const second = await tokens(config, b, await op.backAtApp(page, b.state));
  assert.equal(second.acr, 'phr');
  assert.deepEqual(second.amr, ['hwk', 'user', 'mfa']);
  assert.ok(second.auth_time >= first.auth_time);
});

test('acr_values=phr: an e-mail code is not enough; the user adds a passkey and the app gets phr', async () => {
  const user = newUser('oidc-phr');
  await op.enrolEmail(user);
  const config = await op.rp();
  const page = await op.newPage();
  await virtualAuthenticator(page);
  const a = await op.authorization(config, op.apps.demo, user, { claims: { acr_values: 'phr' } });
  await page.goto(a.url.href);
  await op.expectHeading(page, 'Set up two-step verification');
  assert.match(await page.getByRole('main').innerText(), /Demo asks for a passkey for this sign-in/);
  // Adding one needs the e-mail step first; that step alone goes nowhere.
  await page.getByRole('link', { name: /^Passkey or security key/ }).click();
  await op.passEmailChallenge(page, user);
  await op.expectHeading(page, 'Set up two-step verification');
  await addPasskeyHere(page);
  const claims = await tokens(config, a, await op.backAtApp(page, a.state));
  assert.equal(claims.acr, 'phr');
  assert.deepEqual(claims.amr, ['hwk', 'user', 'mfa']);

  // A weaker value beside phr: the e-mail code is taken, and said so.
  const page2 = await op.newPage();
  const b = await op.authorization(config, op.apps.demo, user, { claims: { acr_values: `phr ${ACR_MFA}` } });
  await page2.goto(b.url.href);
  await op.expectHeading(page2, "Verify it's you");
  await page2.getByText('Try another way', { exact: true }).click();
  await page2.getByRole('link', { name: /Email/ }).click();
  await op.passEmailChallenge(page2, user);
  const weaker = await tokens(config, b, await op.backAtApp(page2, b.state));
  assert.equal(weaker.acr, ACR_MFA);
  assert.deepEqual(weaker.amr, ['otp', 'mail', 'mfa']);
});

test('discovery names phr among the acr values', async () => {
  const config = await op.rp();
  const acr = config.serverMetadata().acr_values_supported;
  assert.deepEqual(acr, ['phr', ACR_MFA, 'urn:otpgate:acr:remembered', 'urn:otpgate:acr:none']);
});
