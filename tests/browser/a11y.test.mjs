// axe-core on every end-user page, at 360 px and 1280 px (and 1280 px dark),
// with a full-page screenshot of each under tests/out/screenshots/. One
// subtest per page, so a report names the page. The browser ignores the
// pages' CSP here (axe is injected as a script); the other test files keep it.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { audit, formatViolations } from './lib/audit.mjs';
import { Stack, newPhone, newUser, totpCode, virtualAuthenticator } from './lib/harness.mjs';
import { expectHeading, mainText, otherWay } from './lib/ui.mjs';

let stack;
let pkStack; // passkeys need the public URL http://localhost:PORT
before(async () => {
  stack = await Stack.start({
    name: 'a11y',
    policy: 'mandatory',
    apps: [{ key: 'optional', name: 'Acme Blog', policy: 'optional' }],
  });
});
after(async () => {
  if (stack) await stack.stop();
  if (pkStack) await pkStack.stop();
});

const newPage = (opts = {}) => stack.newPage({ bypassCSP: true, ...opts });

async function check(t, page, name) {
  await t.test(`axe: ${name}`, async () => {
    const violations = await audit(page, name);
    assert.equal(violations.length, 0, formatViolations(name, page.url(), violations));
  });
}

test('12a. enrolment, binding, authenticator app and recovery codes pages', async (t) => {
  const user = newUser('a11y-bind');
  const phone = newPhone();
  let page = await newPage();
  await page.goto(stack.link({ sub: user.sub }).url);
  await expectHeading(page, 'Set up two-step verification');
  await check(t, page, 'enrol-required');

  await page.getByRole('link', { name: /^Email/ }).click();
  await expectHeading(page, 'Add email');
  await check(t, page, 'bind-email');
  await page.getByLabel('Email address').fill('someone@invalid');
  await page.getByRole('button', { name: 'Send code' }).click();
  // the error stands beside the field, which keeps what was typed
  await page.getByText('Enter a valid email address.').waitFor();
  await check(t, page, 'bind-email-error');
  await page.getByLabel('Email address').fill(user.email);
  await page.getByRole('button', { name: 'Send code' }).click();
  await expectHeading(page, 'Confirm your email address');
  await check(t, page, 'bind-email-code');
  await page.getByLabel('Code', { exact: true }).fill('000000');
  await page.getByRole('button', { name: 'Confirm' }).click();
  await page.getByRole('alert').waitFor();
  await check(t, page, 'bind-email-wrong-code');

  // Cancel leads to the (still empty) account page, which offers a phone.
  await page.getByRole('link', { name: 'Cancel' }).click();
  await expectHeading(page, 'Two-step verification');
  await check(t, page, 'account-empty');
  await page.getByRole('link', { name: /^Text message/ }).click();
  await expectHeading(page, 'Add text message');
  await check(t, page, 'bind-sms');
  const before = stack.smsSent(phone.e164).length;
  await page.getByLabel('Phone number').fill(phone.national);
  await page.getByRole('button', { name: 'Send code' }).click();
  await expectHeading(page, 'Confirm your phone number');
  await check(t, page, 'bind-sms-code');
  await page.getByLabel('Code', { exact: true }).fill(await stack.smsCode(phone.e164, before));
  await page.getByRole('button', { name: 'Confirm' }).click();
  await expectHeading(page, 'Save your recovery codes');
  await check(t, page, 'recovery-codes');

  const totpUser = newUser('a11y-totp');
  page = await newPage();
  await page.goto(stack.link({ sub: totpUser.sub }).url);
  await page.getByRole('link', { name: /^Authenticator app/ }).click();
  await expectHeading(page, 'Add authenticator app');
  await check(t, page, 'totp');

  page = await newPage();
  await page.goto(stack.link({ sub: newUser('a11y-opt').sub, app: stack.apps.optional }).url);
  await expectHeading(page, 'Protect your account');
  await check(t, page, 'enrol-optional');
});

test('12b. challenge pages', async (t) => {
  const user = newUser('a11y-challenge');
  const phone = newPhone();
  const email = await stack.addFactor(user.sub, { email: user.email });
  await stack.addFactor(user.sub, { phone: phone.e164, e164: phone.e164 });
  await stack.addFactor(user.sub, { totp: true });
  const page = await newPage();
  await page.goto(stack.link({ sub: user.sub }).url);
  await expectHeading(page, "Verify it's you");

  await page.goto(`${stack.url}/challenge?factor=${email.id}`);
  await check(t, page, 'challenge-email');
  await page.getByRole('button', { name: 'Send code' }).click();
  await page.getByLabel('Code', { exact: true }).waitFor();
  await check(t, page, 'challenge-email-sent');
  await page.getByLabel('Code', { exact: true }).fill('000000');
  await page.getByRole('button', { name: 'Verify' }).click();
  await page.getByRole('alert').waitFor();
  await check(t, page, 'challenge-email-wrong-code');

  await (await otherWay(page, /Text message/)).click();
  await page.getByText(/We will text a code to/).waitFor();
  await check(t, page, 'challenge-sms');
  await (await otherWay(page, /Authenticator app/)).click();
  await page.getByText('Open your authenticator app and enter the code it shows.').waitFor();
  await check(t, page, 'challenge-totp');
  await otherWay(page, /Use a recovery code/);
  await check(t, page, 'challenge-other-ways');
  await page.getByRole('link', { name: /Use a recovery code/ }).click();
  await page.getByLabel('Recovery code').waitFor();
  await check(t, page, 'challenge-recovery');
  await page.getByLabel('Recovery code').fill('aaaa-bbbb-cccc-dddd');
  await page.getByRole('button', { name: 'Verify' }).click();
  await page.getByRole('alert').waitFor();
  await check(t, page, 'challenge-recovery-wrong');

  const zh = await newPage();
  await zh.goto(stack.link({ sub: user.sub, ui_locales: 'zh' }).url);
  await expectHeading(zh, '验证您的身份');
  await check(t, zh, 'challenge-zh');
});

test('12c. account, confirmation and step-up pages', async (t) => {
  const user = newUser('a11y-account');
  await stack.addFactor(user.sub, { email: user.email });
  const totp = await stack.addFactor(user.sub, { totp: true });
  const page = await newPage();
  await page.goto(stack.link({ sub: user.sub, purpose: 'manage' }).url);
  await expectHeading(page, "Verify it's you");
  if (!(await mainText(page)).includes('Open your authenticator app')) await (await otherWay(page, /Authenticator app/)).click();
  await page.getByLabel('Code', { exact: true }).fill(await totpCode(totp.secret));
  await page.getByRole('button', { name: 'Verify' }).click();
  await expectHeading(page, 'Two-step verification');
  await check(t, page, 'account');

  await page.getByRole('button', { name: /^Remove – Email/ }).click();
  await expectHeading(page, 'Remove this method?');
  await check(t, page, 'confirm-remove');
  await page.getByRole('link', { name: 'Cancel' }).click();
  // Mandatory: no "Turn off" here (the optional app's page below has it).
  assert.equal(await page.getByRole('button', { name: 'Turn off' }).count(), 0);
  await page.getByRole('button', { name: 'Make a new set' }).click();
  await expectHeading(page, 'Make a new set of recovery codes?');
  await check(t, page, 'confirm-recovery');
  await page.getByRole('button', { name: 'Make a new set' }).click();
  await expectHeading(page, 'Save your recovery codes');
  await check(t, page, 'recovery-codes-new');
  await page.getByRole('button', { name: 'I have saved them' }).click();
  await expectHeading(page, 'Two-step verification');

  stack.ageSessions(user.sub, 6 * 60 * 1000);
  await page.getByRole('button', { name: /^Remove – Email/ }).click();
  await expectHeading(page, "Confirm it's you");
  await check(t, page, 'challenge-stepup');

  // Another user: a third code from the same authenticator would wait for
  // the next time step.
  const zhUser = newUser('a11y-account-zh');
  await stack.addFactor(zhUser.sub, { email: zhUser.email });
  const zhTotp = await stack.addFactor(zhUser.sub, { totp: true });
  const zh = await newPage();
  await zh.goto(stack.link({ sub: zhUser.sub, purpose: 'manage', ui_locales: 'zh' }).url);
  await expectHeading(zh, '验证您的身份');
  if (!(await mainText(zh)).includes('请打开身份验证器应用')) await (await otherWay(zh, /身份验证器应用/, '换一种方式')).click();
  await zh.getByLabel('验证码', { exact: true }).fill(await totpCode(zhTotp.secret));
  await zh.getByRole('button', { name: '验证' }).click();
  await expectHeading(zh, '两步验证');
  await check(t, zh, 'account-zh');
});

test('12e. turning off where the policy is optional, and the locked challenge', async (t) => {
  const user = newUser('a11y-optional');
  const totp = await stack.addFactor(user.sub, { totp: true }, stack.apps.optional);
  const page = await newPage();
  await page.goto(stack.link({ sub: user.sub, purpose: 'manage', app: stack.apps.optional }).url);
  await expectHeading(page, "Verify it's you");
  await page.getByLabel('Code', { exact: true }).fill(await totpCode(totp.secret));
  await page.getByRole('button', { name: 'Verify' }).click();
  await expectHeading(page, 'Two-step verification');
  await page.getByRole('button', { name: 'Turn off' }).click();
  await expectHeading(page, 'Turn off two-step verification?');
  await check(t, page, 'confirm-disable');

  // Locked after too many wrong codes: only the recovery-code form.
  const locked = newUser('a11y-locked');
  await stack.addFactor(locked.sub, { email: locked.email });
  stack.lockUser(locked.sub);
  const lp = await newPage();
  await lp.goto(stack.link({ sub: locked.sub }).url);
  await expectHeading(lp, "Verify it's you");
  assert.match(await mainText(lp), /Your account is locked after too many wrong codes/);
  assert.equal(await lp.getByRole('button', { name: 'Send code' }).count(), 0);
  await check(t, lp, 'challenge-locked');
});

test('12f. the "Do not ask again" checkbox and the remembered devices list', async (t) => {
  stack.cli(['policy', 'set', '--app', stack.apps.optional.client_id, 'remember_device_days=30']);
  const user = newUser('a11y-devices');
  const totp = await stack.addFactor(user.sub, { totp: true }, stack.apps.optional);
  const page = await newPage();
  const link = stack.link({ sub: user.sub, app: stack.apps.optional });
  await page.goto(link.url);
  await expectHeading(page, "Verify it's you");
  await check(t, page, 'challenge-remember');
  await page.getByLabel('Code', { exact: true }).fill(await totpCode(totp.secret));
  await page.getByRole('checkbox', { name: /Don't ask again on this device/ }).check();
  await page.getByRole('button', { name: 'Verify' }).click();
  await stack.backAtApp(page, { state: link.state, sub: user.sub, app: stack.apps.optional });
  await page.goto(stack.link({ sub: user.sub, purpose: 'manage', app: stack.apps.optional }).url);
  await expectHeading(page, 'Two-step verification');
  assert.match(await mainText(page), /Devices that skip the second step/);
  await check(t, page, 'account-devices');
  stack.cli(['policy', 'set', '--app', stack.apps.optional.client_id, 'remember_device_days=inherit']);
});

test('12d. message pages and the landing page', async (t) => {
  const page = await newPage();
  const res = await page.goto(`${stack.url}/start?token=not-a-token`);
  assert.equal(res.status(), 400);
  await expectHeading(page, 'This link does not work');
  await check(t, page, 'message-link-invalid');

  const fresh = await newPage();
  const r2 = await fresh.goto(`${stack.url}/account`);
  assert.equal(r2.status(), 401);
  await expectHeading(fresh, 'Your session has expired');
  await check(t, fresh, 'message-session-expired');

  await fresh.goto(`${stack.url}/`);
  await check(t, fresh, 'home');

  // Unknown paths: the site's layout, in the browser's language.
  const r3 = await fresh.goto(`${stack.url}/no/such/page`);
  assert.equal(r3.status(), 404);
  await expectHeading(fresh, 'Page not found');
  await check(t, fresh, 'not-found-prod');
});

test('12g. passkey pages: adding one, the challenge, phr, the account list', async (t) => {
  pkStack = await Stack.start({ name: 'a11y-passkeys', policy: 'mandatory', localhost: true });
  pkStack.cli(['policy', 'set', 'factors=sms,email,totp,webauthn']);
  const pkPage = async (opts = {}) => {
    const p = await pkStack.newPage({ bypassCSP: true, ...opts });
    if (opts.javaScriptEnabled !== false) await virtualAuthenticator(p);
    return p;
  };
  const user = newUser('a11y-pk');
  const page = await pkPage();
  const link = pkStack.link({ sub: user.sub });
  await page.goto(link.url);
  await expectHeading(page, 'Set up two-step verification');
  await check(t, page, 'enrol-passkey');
  await page.getByRole('link', { name: /^Passkey or security key/ }).click();
  await expectHeading(page, 'Add a passkey or security key');
  await check(t, page, 'passkey-add');
  await page.getByRole('button', { name: 'Create a passkey' }).click();
  await expectHeading(page, 'Save your recovery codes');
  await page.getByRole('button', { name: 'I have saved them' }).click();
  await pkStack.backAtApp(page, { state: link.state, sub: user.sub });
  await pkStack.addFactor(user.sub, { email: user.email });

  // The account page with the passkey, its rename form open.
  await page.goto(pkStack.link({ sub: user.sub, purpose: 'manage' }).url);
  await expectHeading(page, 'Two-step verification');
  await page.getByText(/^Rename/).click();
  await check(t, page, 'account-passkey');
  // The same authenticator again: the page says it is there already.
  await page.getByRole('link', { name: /^Passkey or security key/ }).click();
  await page.getByRole('button', { name: 'Create a passkey' }).click();
  await page.getByText('This passkey or security key is added already.').waitFor();
  await check(t, page, 'passkey-add-exists');

  const signIn = await pkPage();
  await signIn.goto(pkStack.link({ sub: user.sub }).url);
  await expectHeading(signIn, "Verify it's you");
  if (!(await signIn.getByRole('button', { name: 'Use your passkey' }).isVisible()))
    await (await otherWay(signIn, /Passkey or security key/)).click();
  await signIn.getByRole('button', { name: 'Use your passkey' }).waitFor();
  await check(t, signIn, 'challenge-passkey');
  await signIn.goto(pkStack.link({ sub: user.sub, extra: { acr_values: 'phr' } }).url);
  await signIn.getByText('Acme Shop asks for a passkey for this sign-in.').waitFor();
  await check(t, signIn, 'challenge-phr');

  const phrUser = newUser('a11y-pk-phr');
  await pkStack.addFactor(phrUser.sub, { email: phrUser.email });
  const phr = await pkPage();
  await phr.goto(pkStack.link({ sub: phrUser.sub, extra: { acr_values: 'phr' } }).url);
  await expectHeading(phr, 'Set up two-step verification');
  await check(t, phr, 'enrol-phr');
});
