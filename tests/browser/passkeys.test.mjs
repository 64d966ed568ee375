// Passkeys in Chromium through DevTools virtual authenticators (one fresh
// authenticator per test), with otpgate's public URL http://localhost:PORT
// (a secure context; RP ID "localhost"): a passkey added at a mandatory
// sign-in and used on the next visit (amr and acr in the result), the same
// authenticator refused a second time, a u2f security key beside it
// (non-discoverable), renaming and removing, acr_values=phr for a user
// without a passkey and for one with, the remember checkbox never offered
// then, and the pages without JavaScript.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { Stack, newUser, totpCode, virtualAuthenticator } from './lib/harness.mjs';
import { alertText, expectHeading, mainText, otherWay, recoveryCodesOnPage, statusText } from './lib/ui.mjs';

let stack;
before(async () => {
  stack = await Stack.start({ name: 'passkeys', policy: 'mandatory', localhost: true });
  stack.cli(['policy', 'set', 'factors=sms,email,totp,webauthn', 'remember_device_days=30']);
});
after(async () => {
  if (stack) await stack.stop();
});

const ADD = 'Add a passkey or security key';
const LINK = /^Passkey or security key/; // the method's name, as in every list
const HWK_UV = ['hwk', 'user', 'mfa'];

/** A page with a fresh virtual authenticator (a platform passkey unless
 * opts say otherwise). */
async function pageWithAuthenticator(opts) {
  const page = await stack.newPage();
  const auth = await virtualAuthenticator(page, opts);
  return { page, auth };
}

/** On the add-a-passkey page: name it (or not) and create it. */
async function createPasskey(page, name) {
  await expectHeading(page, ADD);
  if (name !== undefined) await page.getByLabel('Name (optional)').fill(name);
  await page.getByRole('button', { name: 'Create a passkey' }).click();
}

/** A user who added a passkey at the mandatory enrolment of a sign-in;
 * returns {user, page, auth, claims}. */
async function enrolledWithPasskey(tag) {
  const user = newUser(tag);
  const { page, auth } = await pageWithAuthenticator();
  const link = stack.link({ sub: user.sub });
  await page.goto(link.url);
  await expectHeading(page, 'Set up two-step verification');
  // The strongest way first.
  const choices = await page.getByRole('list').first().getByRole('link').allInnerTexts();
  assert.match(choices[0], LINK, JSON.stringify(choices));
  await page.getByRole('link', { name: LINK }).click();
  await createPasskey(page);
  await expectHeading(page, 'Save your recovery codes');
  assert.equal((await recoveryCodesOnPage(page)).length, 10);
  await page.getByRole('button', { name: 'I have saved them' }).click();
  const { claims } = await stack.backAtApp(page, { state: link.state, sub: user.sub });
  assert.equal((await auth.credentials()).length, 1, 'the authenticator holds no passkey');
  return { user, page, auth, claims };
}

/** Signs in with the passkey from a link; returns the result's claims. */
async function signInWithPasskey(page, user, extra = {}) {
  const link = stack.link({ sub: user.sub, extra });
  await page.goto(link.url);
  await expectHeading(page, "Verify it's you");
  await page.getByRole('button', { name: 'Use your passkey' }).click();
  const { claims } = await stack.backAtApp(page, { state: link.state, sub: user.sub });
  return claims;
}

test('passkeys 1. added at a mandatory sign-in, used on the next visit: acr phr, amr hwk user mfa', async () => {
  const { user, page, auth, claims } = await enrolledWithPasskey('pk-enrol');
  // Adding it was the second step of that sign-in.
  assert.equal(claims.mfa, true);
  assert.equal(claims.acr, 'phr');
  assert.deepEqual(claims.amr, HWK_UV);
  const [cred] = await auth.credentials();
  assert.equal(cred.isResidentCredential, true, 'residentKey "preferred" made no discoverable passkey');

  // The second visit opens on the passkey (the last used factor).
  const link = stack.link({ sub: user.sub });
  await page.goto(link.url);
  await expectHeading(page, "Verify it's you");
  assert.match(await mainText(page), /Passkey or security key/);
  assert.equal(await page.getByLabel('Code', { exact: true }).count(), 0, 'a passkey asks for a code');
  await page.getByRole('button', { name: 'Use your passkey' }).click();
  const again = await stack.backAtApp(page, { state: link.state, sub: user.sub });
  assert.equal(again.claims.acr, 'phr');
  assert.deepEqual(again.claims.amr, HWK_UV);
  assert.equal(again.claims.mfa, true);
  assert.equal((await auth.credentials())[0].signCount, 2, 'the passkey was not used');

  // The CLI lists it.
  const shown = JSON.parse(stack.cli(['user', 'show', user.sub, '--app', stack.app.client_id]));
  const pk = shown.apps[0].passkeys;
  assert.equal(pk.length, 1, JSON.stringify(shown));
  assert.equal(pk[0].sign_count, 2);
  assert.equal(pk[0].aaguid.length, 36);
  assert.match(pk[0].name, /on Linux/);
});

test('passkeys 2. the same authenticator is not added twice; a u2f security key is, and signs in', async () => {
  const { user, page, auth } = await enrolledWithPasskey('pk-u2f');
  // Manage: right after the sign-in no second step is asked.
  await page.goto(stack.link({ sub: user.sub, purpose: 'manage' }).url);
  await expectHeading(page, 'Two-step verification');
  await page.getByRole('link', { name: LINK }).click();
  await createPasskey(page, 'Again');
  // excludeCredentials: the browser refuses, the page says why.
  await page.getByText('This passkey or security key is added already.').waitFor();
  assert.equal((await auth.credentials()).length, 1);

  // A u2f security key (no resident keys, no user verification).
  await auth.remove();
  const key = await virtualAuthenticator(page, {
    protocol: 'u2f', transport: 'usb', hasResidentKey: false, hasUserVerification: false, isUserVerified: false,
  });
  await page.goto(`${stack.url}/account/add/webauthn`);
  await createPasskey(page, 'Blue key');
  await expectHeading(page, 'Two-step verification');
  assert.equal(await statusText(page), 'Passkey added.');
  const [cred] = await key.credentials();
  assert.equal(cred.isResidentCredential, false);
  const list = page.getByRole('region', { name: 'Your methods' });
  assert.match(await list.innerText(), /Blue key/);

  // It signs in (allowCredentials names it): device-bound, no UV.
  const claims = await signInWithPasskey(page, user);
  assert.deepEqual(claims.amr, ['hwk', 'mfa']);
  assert.equal(claims.acr, 'phr');
});

test('passkeys 3. rename and remove on the account page; a removed passkey no longer signs in', async () => {
  const { user, page, auth } = await enrolledWithPasskey('pk-remove');
  await stack.addFactor(user.sub, { email: user.email });
  await page.goto(stack.link({ sub: user.sub, purpose: 'manage' }).url);
  await expectHeading(page, 'Two-step verification');
  const item = page.getByRole('region', { name: 'Your methods' }).getByRole('listitem')
    .filter({ hasText: 'Passkey or security key' });
  assert.match(await item.innerText(), /Added just now/);
  await item.getByText(/^Rename/).click();
  await item.getByLabel('Name', { exact: true }).fill('Work laptop');
  await item.getByRole('button', { name: 'Save' }).click();
  assert.equal(await statusText(page), 'Passkey renamed.');
  await page.getByRole('button', { name: /^Remove – Passkey or security key, Work laptop$/ }).click();
  await expectHeading(page, 'Remove this method?');
  await page.getByRole('button', { name: 'Remove' }).click();
  assert.equal(await statusText(page), 'Method removed.');
  assert.doesNotMatch(await mainText(page), /Work laptop/);
  const rows = stack.cli(['user', 'show', user.sub, '--app', stack.app.client_id]);
  assert.equal(JSON.parse(rows).apps[0].passkeys.length, 0);

  // The authenticator still holds it, but otpgate no longer offers it.
  assert.equal((await auth.credentials()).length, 1);
  await page.goto(stack.link({ sub: user.sub }).url);
  await expectHeading(page, "Verify it's you");
  assert.equal(await page.getByRole('button', { name: 'Use your passkey' }).count(), 0);
  assert.match(await mainText(page), /Email/);
});

test('passkeys 4. acr_values=phr: a user without a passkey proves it is them, adds one, returns with phr', async () => {
  const user = newUser('pk-phr');
  const totp = await stack.addFactor(user.sub, { totp: true });
  const { page, auth } = await pageWithAuthenticator();
  const link = stack.link({ sub: user.sub, extra: { acr_values: 'phr' } });
  await page.goto(link.url);
  await expectHeading(page, 'Set up two-step verification');
  assert.match(await mainText(page), /Acme Shop asks for a passkey for this sign-in/);
  assert.equal(await page.getByRole('button', { name: 'Skip for now' }).count(), 0);
  assert.deepEqual(await page.getByRole('list').first().getByRole('link').count(), 1);
  await page.getByRole('link', { name: LINK }).click();
  // Adding a factor needs a second step with the one the user has.
  await expectHeading(page, "Verify it's you");
  assert.equal(await page.getByRole('checkbox').count(), 0, 'phr offers to remember the device');
  await page.getByLabel('Code', { exact: true }).fill(await totpCode(totp.secret));
  await page.getByRole('button', { name: 'Verify' }).click();
  // An authenticator-app code does not satisfy phr: back to adding one.
  await expectHeading(page, 'Set up two-step verification');
  await page.getByRole('link', { name: LINK }).click();
  await createPasskey(page);
  const { claims } = await stack.backAtApp(page, { state: link.state, sub: user.sub });
  assert.equal(claims.acr, 'phr');
  assert.deepEqual(claims.amr, HWK_UV);
  assert.equal((await auth.credentials()).length, 1);

  // With a passkey now, phr shows only the passkey: no code, no other way,
  // no remember box; a plain sign-in shows the rest and the box.
  const phr = stack.link({ sub: user.sub, extra: { acr_values: 'phr' } });
  await page.goto(phr.url);
  await expectHeading(page, "Verify it's you");
  assert.match(await mainText(page), /Acme Shop asks for a passkey for this sign-in/);
  assert.equal(await page.getByText('Try another way', { exact: true }).count(), 0);
  assert.equal(await page.getByRole('checkbox').count(), 0);
  await page.getByRole('button', { name: 'Use your passkey' }).click();
  assert.equal((await stack.backAtApp(page, { state: phr.state, sub: user.sub })).claims.acr, 'phr');
  await page.goto(stack.link({ sub: user.sub }).url);
  await expectHeading(page, "Verify it's you");
  assert.equal(await page.getByRole('checkbox', { name: /Don't ask again/ }).count(), 1);
  await otherWay(page, /Authenticator app/);
});

test('passkeys 5. a passkey that fails to answer says so and leaves the other ways', async () => {
  const { user, page, auth } = await enrolledWithPasskey('pk-cancel');
  await stack.addFactor(user.sub, { email: user.email });
  // Gone from the authenticator: the browser's ceremony ends with an error.
  await auth.remove();
  await virtualAuthenticator(page);
  await page.goto(stack.link({ sub: user.sub }).url);
  await expectHeading(page, "Verify it's you");
  // The passkey, used last to sign in, comes first (confirming the e-mail
  // was not a use of it).
  await page.getByRole('button', { name: 'Use your passkey' }).click();
  await page.getByText('The passkey was not used. Try again, or choose another way.').waitFor({ timeout: 15000 });
  await otherWay(page, /Email/);
  // Nothing was posted, so nothing counted.
  const shown = JSON.parse(stack.cli(['user', 'show', user.sub, '--app', stack.app.client_id]));
  assert.equal(shown.apps[0].failures, 0);
});

test('passkeys 6. without JavaScript the pages say passkeys need it and offer the other ways', async () => {
  const { user } = await enrolledWithPasskey('pk-nojs');
  await stack.addFactor(user.sub, { email: user.email });
  const page = await stack.newPage({ javaScriptEnabled: false });
  await page.goto(stack.link({ sub: user.sub }).url);
  await expectHeading(page, "Verify it's you");
  // The passkey, used last to sign in, comes first.
  assert.match(await mainText(page), /Passkeys need JavaScript/);
  assert.equal(await page.getByRole('button', { name: 'Use your passkey' }).isVisible(), false);
  await page.getByText('Try another way', { exact: true }).click();
  await page.getByRole('link', { name: /Email/ }).click();
  await expectHeading(page, "Verify it's you");
  assert.match(await mainText(page), /We will email a code/);
  assert.equal(await alertText(page), '');
});
