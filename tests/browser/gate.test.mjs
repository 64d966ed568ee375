// The gate (SPEC §5) as a person meets it in Chromium: a forged "Skip for
// now" from a user with a factor lands on the challenge; under mandatory,
// cancelling the enrolment and pressing "Back to …" asks to enrol again;
// recovery codes are shown once and replaced only after a confirmation;
// waits are said in human time; "Manage" right after a sign-in does not
// ask again. Everything after the API set-up is clicks and typing.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { Stack, newUser, totpCode } from './lib/harness.mjs';
import { alertText, expectHeading, mainText, recoveryCodesOnPage } from './lib/ui.mjs';

let stack;
before(async () => {
  stack = await Stack.start({
    name: 'gate',
    policy: 'mandatory',
    apps: [{ key: 'optional', name: 'Acme Blog', policy: 'optional' }],
  });
});
after(async () => {
  if (stack) await stack.stop();
});

/** Posts a form the page does not offer, with the page's CSRF token, as an
 * attacker at the keyboard would from the developer tools. */
async function forgePost(page, action, fields = {}) {
  await page.evaluate(({ action, fields }) => {
    const f = document.createElement('form');
    f.method = 'post';
    f.action = action;
    const all = { csrf: document.querySelector('input[name=csrf]').value, ...fields };
    for (const [k, v] of Object.entries(all)) {
      const i = document.createElement('input');
      i.type = 'hidden';
      i.name = k;
      i.value = v;
      f.appendChild(i);
    }
    document.body.appendChild(f);
    f.submit();
  }, { action, fields });
  await page.waitForLoadState();
}

test('gate 1. a user with an authenticator app cannot skip the second step', async () => {
  for (const app of [stack.app, stack.apps.optional]) {
    const user = newUser('gate-skip');
    await stack.addFactor(user.sub, { totp: true }, app);
    const page = await stack.newPage();
    const { url, state } = stack.link({ sub: user.sub, app });
    await page.goto(url);
    await expectHeading(page, "Verify it's you");
    await forgePost(page, '/enrol/skip');
    await expectHeading(page, "Verify it's you");
    assert.equal(stack.callbacks.filter((c) => c.query.state === state).length, 0,
      'the app heard back without a second step');
  }
});

test('gate 2. mandatory: cancel the enrolment, "Back to Acme Shop" asks to enrol again', async () => {
  const user = newUser('gate-cancel');
  const page = await stack.newPage();
  const { url, state } = stack.link({ sub: user.sub });
  await page.goto(url);
  await expectHeading(page, 'Set up two-step verification');
  await page.getByRole('link', { name: /^Email/ }).click();
  await page.getByRole('link', { name: 'Cancel' }).click();
  await expectHeading(page, 'Two-step verification');
  await page.getByRole('button', { name: 'Back to Acme Shop' }).click();
  await expectHeading(page, 'Set up two-step verification');
  assert.equal(stack.callbacks.filter((c) => c.query.state === state).length, 0);
});

test('gate 3. recovery codes: shown once, a new set only after confirming', async () => {
  const user = newUser('gate-codes');
  const page = await stack.newPage();
  await page.goto(stack.link({ sub: user.sub }).url);
  await page.getByRole('link', { name: /^Authenticator app/ }).click();
  const secret = (await page.locator('.secret').innerText()).replace(/\s+/g, '');
  await page.getByLabel('Code', { exact: true }).fill(await totpCode(secret));
  await page.getByRole('button', { name: 'Confirm' }).click();
  await expectHeading(page, 'Save your recovery codes');
  const first = await recoveryCodesOnPage(page);
  assert.equal(first.length, 10);
  await page.reload();
  await expectHeading(page, 'Two-step verification');
  assert.match(await alertText(page), /Recovery codes are shown only once/);
  const left = await stack.api('GET', `/api/v1/users/${user.sub}/factors`);
  assert.equal(left.recovery_codes_left, 10, 'the reload made a new set');
  await page.getByRole('button', { name: 'Make a new set' }).click();
  await expectHeading(page, 'Make a new set of recovery codes?');
  assert.match(await mainText(page), /You have 10 unused recovery codes\./);
  await page.getByRole('button', { name: 'Make a new set' }).click();
  await expectHeading(page, 'Save your recovery codes');
  const second = await recoveryCodesOnPage(page);
  assert.equal(second.filter((c) => first.includes(c)).length, 0);
});

test('gate 4. waits are said in human time', async () => {
  const user = newUser('gate-wait');
  stack.cli(['policy', 'set', '--app', stack.apps.optional.client_id, 'lockout_free=0',
    'lockout_wait=3000', 'lockout_max_wait=3600']);
  const f = await stack.addFactor(user.sub, { totp: true }, stack.apps.optional);
  const page = await stack.newPage();
  await page.goto(stack.link({ sub: user.sub, app: stack.apps.optional }).url);
  await expectHeading(page, "Verify it's you");
  const wrong = (await totpCode(f.secret)) === '000000' ? '111111' : '000000';
  await page.getByLabel('Code', { exact: true }).fill(wrong);
  await page.getByRole('button', { name: 'Verify' }).click();
  await page.getByRole('alert').waitFor();
  assert.equal(await alertText(page), 'That code is not right. Try again in about 50 minutes.');
});

test('gate 5. "Manage" right after a sign-in opens the account page without asking again', async () => {
  const user = newUser('gate-manage');
  const f = await stack.addFactor(user.sub, { totp: true });
  const page = await stack.newPage();
  const login = stack.link({ sub: user.sub });
  await page.goto(login.url);
  await page.getByLabel('Code', { exact: true }).fill(await totpCode(f.secret));
  await page.getByRole('button', { name: 'Verify' }).click();
  await stack.backAtApp(page, { state: login.state, sub: user.sub });
  const manage = stack.link({ sub: user.sub, purpose: 'manage' });
  await page.goto(manage.url);
  await expectHeading(page, 'Two-step verification');
  await page.getByRole('button', { name: 'Back to Acme Shop' }).click();
  const { claims } = await stack.backAtApp(page, { state: manage.state, sub: user.sub });
  assert.equal(claims.mfa, true);
  assert.equal(claims.acr, 'urn:otpgate:acr:mfa');
});
