// Remembered devices ("Don't ask again on this device") in Chromium through
// signed links: the checkbox only where the policy allows it, the account
// page's list with "Forget" and "Forget all", and every way a device ends
// (the API, the CLI, removing a factor, a reset, a lock, a recovery-code
// sign-in, the policy turned off or shortened): each then asks again.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { Stack, newUser, sqlText, totpCode } from './lib/harness.mjs';
import { expectHeading, mainText, statusText } from './lib/ui.mjs';

let stack;
before(async () => {
  stack = await Stack.start({
    name: 'devices',
    policy: 'mandatory',
    apps: [{ key: 'plain', name: 'Plain Shop', policy: 'mandatory' }],
  });
  stack.cli(['policy', 'set', '--app', stack.app.client_id, 'remember_device_days=30']);
});
after(async () => {
  if (stack) await stack.stop();
});

const REMEMBER = /Don't ask again on this device for 30 days/;

/** Signs user in with the authenticator app; ticks the box when remember. */
async function signIn(page, user, totp, { remember = false, app = stack.app, purpose = 'login' } = {}) {
  const link = stack.link({ sub: user.sub, app, purpose });
  await page.goto(link.url);
  await expectHeading(page, "Verify it's you");
  await page.getByLabel('Code', { exact: true }).fill(await totpCode(totp.secret));
  if (remember) await page.getByRole('checkbox', { name: REMEMBER }).check();
  await page.getByRole('button', { name: 'Verify' }).click();
  if (purpose === 'login') return stack.backAtApp(page, { state: link.state, sub: user.sub, app });
  return null;
}

/** Opens the account page through a manage link, passing the challenge if
 * it asks (right after a sign-in in this browser it does not). */
async function openAccount(page, user, totp) {
  await page.goto(stack.link({ sub: user.sub, purpose: 'manage' }).url);
  await page.getByRole('heading', { level: 1 }).waitFor();
  if ((await page.getByRole('heading', { level: 1 }).innerText()) === "Verify it's you") {
    await page.getByLabel('Code', { exact: true }).fill(await totpCode(totp.secret));
    await page.getByRole('button', { name: 'Verify' }).click();
  }
  await expectHeading(page, 'Two-step verification');
}

/** Opens a sign-in link and says whether it went straight back to the app. */
async function straightBack(page, user) {
  const link = stack.link({ sub: user.sub });
  await page.goto(link.url);
  await page.waitForLoadState();
  if (!page.url().startsWith(stack.redirectUri)) {
    await expectHeading(page, "Verify it's you");
    return false;
  }
  const { claims } = await stack.backAtApp(page, { state: link.state, sub: user.sub });
  assert.equal(claims.acr, 'urn:otpgate:acr:remembered');
  assert.equal(claims.mfa, false);
  assert.deepEqual(claims.amr, ['remembered']);
  return true;
}

async function rememberedUser(tag) {
  const user = newUser(tag);
  const totp = await stack.addFactor(user.sub, { totp: true });
  const page = await stack.newPage();
  const { claims } = await signIn(page, user, totp, { remember: true });
  assert.equal(claims.mfa, true);
  assert.ok(await straightBack(page, user), 'the remembered device was asked again');
  return { user, totp, page, stepAt: claims.auth_time };
}

test('devices 1. the checkbox only where the policy allows it', async () => {
  const user = newUser('dev-plain');
  const totp = await stack.addFactor(user.sub, { totp: true }, stack.apps.plain);
  const page = await stack.newPage();
  await page.goto(stack.link({ sub: user.sub, app: stack.apps.plain }).url);
  await expectHeading(page, "Verify it's you");
  assert.equal(await page.getByRole('checkbox').count(), 0, 'a policy that is off offers to remember');
  await page.getByLabel('Code', { exact: true }).fill(await totpCode(totp.secret));
  await page.getByRole('button', { name: 'Verify' }).click();
  await page.waitForURL((u) => u.href.startsWith(stack.redirectUri));
  // Not on the step-up before a change either.
  const r = await rememberedUser('dev-stepup');
  stack.ageSessions(r.user.sub, 0);
  await r.page.goto(stack.link({ sub: r.user.sub, purpose: 'manage' }).url);
  await expectHeading(r.page, "Verify it's you");
  assert.equal(await r.page.getByRole('checkbox').count(), 0);
});

test('devices 2. the account page lists them; Forget and Forget all end them', async () => {
  const r = await rememberedUser('dev-forget');
  // A second browser remembered too.
  const other = await stack.newPage();
  await signIn(other, r.user, r.totp, { remember: true });
  await openAccount(r.page, r.user, r.totp);
  const section = r.page.getByRole('region', { name: 'Devices that skip the second step' });
  const items = await section.getByRole('listitem').allInnerTexts();
  assert.equal(items.length, 2, JSON.stringify(items));
  assert.ok(items.some((t) => /This device/.test(t)), JSON.stringify(items));
  assert.ok(items.every((t) => /Chrome on Linux|Chromium on Linux/.test(t)), JSON.stringify(items));
  // Forget the other one: this browser still skips, the other is asked.
  const forgetOther = section.getByRole('listitem').filter({ hasNotText: 'This device' })
    .getByRole('button', { name: /^Forget/ });
  await forgetOther.click();
  await expectHeading(r.page, 'Two-step verification');
  assert.equal(await statusText(r.page), 'The device will ask for the second step again.');
  assert.equal(await straightBack(other, r.user), false, 'a forgotten device skipped the step');
  await r.page.getByRole('button', { name: 'Forget all devices' }).click();
  assert.equal(await statusText(r.page), 'Every device will ask for the second step again.');
  assert.equal(await straightBack(r.page, r.user), false);
});

test('devices 3. the API and the CLI forget them', async () => {
  const a = await rememberedUser('dev-api');
  const listed = await stack.api('GET', `/api/v1/users/${a.user.sub}/devices`);
  assert.equal(listed.devices.length, 1);
  assert.equal(listed.devices[0].scope, 'app');
  assert.equal(listed.devices[0].auth_time, new Date(a.stepAt * 1000).toISOString().replace(/\.\d+Z$/, 'Z'));
  await stack.api('DELETE', `/api/v1/users/${a.user.sub}/devices`);
  assert.equal(await straightBack(a.page, a.user), false);

  const c = await rememberedUser('dev-cli');
  const out = stack.cli(['user', 'forget-devices', c.user.sub, '--app', stack.app.client_id]);
  assert.match(out, /forgot 1 remembered devices/);
  assert.equal(await straightBack(c.page, c.user), false);
});

test('devices 4. removing a factor, a reset and a lock end them', async () => {
  const f = await rememberedUser('dev-factor');
  await stack.addFactor(f.user.sub, { email: f.user.email });
  const listed = await stack.api('GET', `/api/v1/users/${f.user.sub}/factors`);
  const email = listed.factors.find((x) => x.type === 'email');
  await stack.api('DELETE', `/api/v1/users/${f.user.sub}/factors/${email.id}`);
  assert.equal(await straightBack(f.page, f.user), false);

  const r = await rememberedUser('dev-reset');
  stack.cli(['user', 'reset', r.user.sub, '--app', stack.app.client_id]);
  await r.page.goto(stack.link({ sub: r.user.sub }).url);
  await expectHeading(r.page, 'Set up two-step verification');

  const l = await rememberedUser('dev-lock');
  stack.cli(['policy', 'set', '--app', stack.app.client_id, 'lockout_hard=3', 'lockout_wait=0']);
  try {
    for (let i = 0; i < 3; i++) {
      await fetch(`${stack.url}/api/v1/users/${l.user.sub}/verify`, {
        method: 'POST',
        headers: {
          Authorization: 'Basic ' + Buffer.from(`${stack.app.client_id}:${stack.app.client_secret}`).toString('base64'),
          'Content-Type': 'application/json',
        },
        body: JSON.stringify({ code: '000000' }),
      });
    }
  } finally {
    stack.cli(['policy', 'set', '--app', stack.app.client_id, 'lockout_hard=inherit', 'lockout_wait=inherit']);
  }
  await l.page.goto(stack.link({ sub: l.user.sub }).url);
  await expectHeading(l.page, "Verify it's you");
  assert.match(await mainText(l.page), /Your account is locked/);
});

test('devices 5. a recovery-code sign-in, and the policy turned off or shortened, end them', async () => {
  const user = newUser('dev-recovery');
  const totp = await stack.addFactor(user.sub, { totp: true });
  const page = await stack.newPage();
  await signIn(page, user, totp, { remember: true });
  const other = await stack.newPage();
  await signIn(other, user, totp, { remember: true });
  // The recovery code is typed in the second browser: both are forgotten.
  const link = stack.link({ sub: user.sub });
  const fresh = await stack.newPage();
  await fresh.goto(link.url);
  await fresh.goto(`${stack.url}/challenge?method=recovery`);
  await fresh.getByLabel('Recovery code').fill(totp.recovery_codes[0]);
  await fresh.getByRole('button', { name: 'Verify' }).click();
  await stack.backAtApp(fresh, { state: link.state, sub: user.sub });
  assert.equal(await straightBack(page, user), false);
  assert.equal(await straightBack(other, user), false);

  const p = await rememberedUser('dev-policy');
  stack.cli(['policy', 'set', '--app', stack.app.client_id, 'remember_device_days=0']);
  try {
    assert.equal(await straightBack(p.page, p.user), false, 'the policy is off, yet the device skipped');
  } finally {
    stack.cli(['policy', 'set', '--app', stack.app.client_id, 'remember_device_days=30']);
  }
  // Remembered 3 days ago under 30 days; the policy now says 2.
  const s = await rememberedUser('dev-shorter');
  stack.sql(`UPDATE devices SET created_at = created_at - ${3 * 86400000} WHERE sub = ${sqlText(s.user.sub)};`);
  assert.ok(await straightBack(s.page, s.user));
  stack.cli(['policy', 'set', '--app', stack.app.client_id, 'remember_device_days=2']);
  try {
    assert.equal(await straightBack(s.page, s.user), false, 'a shortened policy did not end an older device');
  } finally {
    stack.cli(['policy', 'set', '--app', stack.app.client_id, 'remember_device_days=30']);
  }
});
