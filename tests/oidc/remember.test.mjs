// "Don't ask again on this device" through OpenID Connect, with
// openid-client as the relying party: the id_token of a sign-in on a
// remembered browser says so (acr remembered, amr without otp or mfa,
// auth_time of the step that made it); max_age=0 and prompt=login ask
// again; scope "app" stays with its app, scope "all" carries.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { ACR_MFA, Provider, client, newUser } from './lib/provider.mjs';

const ACR_REMEMBERED = 'urn:otpgate:acr:remembered';

let op;
before(async () => {
  op = await Provider.start({ policy: 'mandatory' });
  op.cli(['policy', 'set', 'remember_device_days=30']);
});
after(async () => {
  if (op) await op.stop();
});

/** The id_token claims of the code that came back to the app. */
async function tokens(config, a, callback) {
  const t = await client.authorizationCodeGrant(config, callback, {
    pkceCodeVerifier: a.verifier, expectedNonce: a.nonce, expectedState: a.state, idTokenExpected: true,
  });
  return t.claims();
}

/** Opens /authorize in page; "code" passes the e-mail challenge (ticking
 * the box when remember), "straight" expects to be back at once. */
async function signIn(page, config, app, user, { claims = {}, remember = false, expect = 'code' } = {}) {
  const a = await op.authorization(config, app, user, { claims });
  await page.goto(a.url.href);
  if (expect === 'code') {
    await op.expectHeading(page, "Verify it's you");
    const before = op.mails(user.email).length;
    await page.getByRole('button', { name: 'Send code' }).click();
    await page.getByLabel('Code', { exact: true }).fill(await op.mailCode(user.email, before));
    const box = page.getByRole('checkbox', { name: /Don't ask again on this device for 30 days/ });
    assert.equal(await box.count(), 1, 'the challenge does not offer to remember the device');
    if (remember) await box.check();
    await page.getByRole('button', { name: 'Verify' }).click();
  }
  const callback = await op.backAtApp(page, a.state);
  return { a, claims: await tokens(config, a, callback) };
}

test('remembered: the next sign-in comes back without a code and the id_token says how', async () => {
  const user = newUser('remember');
  await op.enrolEmail(user);
  const config = await op.rp();
  const page = await op.newPage();
  const first = await signIn(page, config, op.apps.demo, user, { remember: true });
  assert.equal(first.claims.acr, ACR_MFA);
  assert.deepEqual(first.claims.amr, ['otp', 'mail', 'mfa']);
  const cookies = await page.context().cookies();
  const device = cookies.find((c) => c.name === 'otpgate_device');
  assert.ok(device && device.httpOnly && device.sameSite === 'Lax', JSON.stringify(cookies));
  assert.ok(device.expires - Date.now() / 1000 > 29 * 86400, `the cookie lasts until ${device.expires}`);

  const sent = op.mails(user.email).length;
  const again = await signIn(page, config, op.apps.demo, user, { expect: 'straight' });
  assert.equal(again.claims.acr, ACR_REMEMBERED);
  assert.deepEqual(again.claims.amr, ['remembered']);
  assert.equal(again.claims.auth_time, first.claims.auth_time, 'auth_time is when the step was passed');
  assert.equal(op.mails(user.email).length, sent, 'a code was sent to a remembered device');

  // max_age=0 and prompt=login ask again; a looser max_age does not.
  const fresh = await signIn(page, config, op.apps.demo, user, { claims: { max_age: 0 } });
  assert.equal(fresh.claims.acr, ACR_MFA);
  assert.ok(fresh.claims.auth_time >= first.claims.auth_time);
  const forced = await signIn(page, config, op.apps.demo, user, { claims: { prompt: 'login' } });
  assert.equal(forced.claims.acr, ACR_MFA);
  const loose = await signIn(page, config, op.apps.demo, user, { claims: { max_age: 3600 }, expect: 'straight' });
  assert.equal(loose.claims.acr, ACR_REMEMBERED);

  // Another browser, or another user on this one, is asked.
  const other = await op.newPage();
  await signIn(other, config, op.apps.demo, user);
  const bob = newUser('remember-bob');
  await op.enrolEmail(bob);
  await signIn(page, config, op.apps.demo, bob);
});

test('scope: "app" stays with its app, "all" carries to every app of scope all', async () => {
  const user = newUser('scope');
  await op.enrolEmail(user, op.apps.demo);
  await op.enrolEmail(user, op.apps.other);
  const demo = await op.rp(op.apps.demo);
  const other = await op.rp(op.apps.other);
  const page = await op.newPage();
  await signIn(page, demo, op.apps.demo, user, { remember: true });
  await signIn(page, other, op.apps.other, user);

  op.cli(['policy', 'set', 'remember_device_scope=all']);
  const user2 = newUser('scope-all');
  await op.enrolEmail(user2, op.apps.demo);
  await op.enrolEmail(user2, op.apps.other);
  const page2 = await op.newPage();
  await signIn(page2, demo, op.apps.demo, user2, { remember: true });
  const carried = await signIn(page2, other, op.apps.other, user2, { expect: 'straight' });
  assert.equal(carried.claims.acr, ACR_REMEMBERED);
  op.cli(['policy', 'set', 'remember_device_scope=app']);
});
