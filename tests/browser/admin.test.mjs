// The admin console (/admin) in a real browser: an admin made with
// `otpgate admin add` (password on stdin) signs in, walks the applications,
// a user lookup (unlock and reset forms) and the delivery log, and signs
// out; axe-core on every console page at 360 px and 1280 px (and dark).
// One more browser keeps the pages' CSP on, to show the sign-in works
// under it.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, test } from 'node:test';

import { audit, formatViolations } from './lib/audit.mjs';
import { APP_NAME, Stack, newUser } from './lib/harness.mjs';
import { alertText, expectHeading, statusText } from './lib/ui.mjs';

const PASSWORD = 'a long console passphrase';

let stack;
before(async () => {
  stack = await Stack.start({ name: 'admin', policy: 'optional' });
  execFileSync(stack.bin, ['admin', 'add', 'root'], { env: stack.cliEnv, input: `${PASSWORD}\n`, encoding: 'utf8' });
});
after(async () => {
  if (stack) await stack.stop();
});

async function check(t, page, name) {
  await t.test(`axe: ${name}`, async () => {
    const violations = await audit(page, name);
    assert.equal(violations.length, 0, formatViolations(name, page.url(), violations));
  });
}

async function signIn(page, password = PASSWORD) {
  await page.getByLabel('Username').fill('root');
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

test('14. an admin signs in and uses the console', async (t) => {
  const user = newUser('admin');
  await stack.addFactor(user.sub, { email: user.email });

  const page = await stack.newPage({ bypassCSP: true });
  await page.goto(`${stack.url}/admin`);
  await expectHeading(page, 'Admin sign-in');
  assert.ok(page.url().endsWith('/admin/login'), page.url());
  await check(t, page, 'admin-login');

  await signIn(page, 'not the password');
  await expectHeading(page, 'Admin sign-in');
  assert.equal(await alertText(page), 'Wrong username or password.');
  await check(t, page, 'admin-login-error');

  await signIn(page);
  await expectHeading(page, 'Applications');
  const table = page.getByRole('region', { name: 'Applications' });
  await table.getByRole('rowheader', { name: APP_NAME }).waitFor();
  assert.match(await table.innerText(), new RegExp(stack.app.client_id));
  await check(t, page, 'admin-apps');

  await page.getByRole('link', { name: 'Users' }).click();
  await expectHeading(page, 'Users');
  await page.getByLabel('Application').selectOption(stack.app.client_id);
  await page.getByLabel('User id (sub)').fill(user.sub);
  await page.getByRole('button', { name: 'Look up' }).click();
  await page.getByRole('heading', { level: 2, name: new RegExp(user.sub) }).waitFor();
  const factors = await page.getByRole('region', { name: 'Factors' }).innerText();
  assert.match(factors, /Email/);
  assert.ok(!factors.includes(user.email), 'the address is masked');
  await check(t, page, 'admin-user');

  // Reset asks for the box; the browser itself refuses the form without it.
  await page.getByLabel(/remove every factor/).check();
  await page.getByRole('button', { name: 'Reset: remove all factors' }).click();
  await page.getByRole('status').waitFor();
  assert.match(await statusText(page), /^Reset:/);
  assert.match(await page.locator('main').innerText(), /No factors\./);
  await check(t, page, 'admin-user-reset');

  await page.getByRole('link', { name: 'Delivery log' }).click();
  await expectHeading(page, 'Delivery log');
  const log = await page.getByRole('region', { name: 'Delivery log' }).innerText();
  assert.match(log, /email/);
  assert.ok(!log.includes(user.email), 'the address is masked');
  await check(t, page, 'admin-deliveries');

  await page.getByRole('button', { name: 'Sign out' }).click();
  await expectHeading(page, 'Admin sign-in');
  assert.equal(await statusText(page), 'You have signed out.');
  await page.goto(`${stack.url}/admin/deliveries`);
  await expectHeading(page, 'Admin sign-in');
});

test('14b. the sign-in works under the pages\' Content-Security-Policy and without JavaScript', async () => {
  const page = await stack.newPage({ javaScriptEnabled: false });
  await page.goto(`${stack.url}/admin/login`);
  await expectHeading(page, 'Admin sign-in');
  await signIn(page);
  await expectHeading(page, 'Applications');
  assert.deepEqual(page.cspErrors, []);
});
