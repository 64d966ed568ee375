// The admin console (/admin) in a real browser, as a new administrator
// uses it: an admin made with `otpgate admin add` (password on stdin) signs
// in, reads the overview, finds users (search, filters, paging), opens a
// user's page (lock banner, history), unlocks, removes one factor and
// resets through their confirmation pages, reads the delivery log and a
// message's own page, and signs out. axe-core on every page at 360 px and
// 1280 px (and dark); at 360 px the tables are stacked cards and the
// navigation stays reachable. Another browser keeps the pages' CSP on with
// JavaScript off, to show the console needs neither.
//
// OTPGATE_DOCS_SCREENSHOTS=1 also rewrites the README's console pictures
// (docs/screenshots/admin-*.png).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, test } from 'node:test';

import { PASSWORD, check, docsShot, nav, rowsOf, signIn } from './lib/admin.mjs';
import { APP_NAME, Stack, newPhone, newUser } from './lib/harness.mjs';
import { alertText, expectHeading, mainText, statusText } from './lib/ui.mjs';

let stack;
before(async () => {
  stack = await Stack.start({ name: 'admin', policy: 'optional', apps: [{ key: 'blog', name: 'Acme Blog' }] });
  execFileSync(stack.bin, ['admin', 'add', 'root'], { env: stack.cliEnv, input: `${PASSWORD}\n`, encoding: 'utf8' });
});
after(async () => {
  if (stack) await stack.stop();
});

test('14. an admin signs in, reads the overview, finds and helps a user, reads the delivery log', async (t) => {
  const alice = newUser('admin-alice');
  const phone = newPhone();
  const email = await stack.addFactor(alice.sub, { email: alice.email });
  const sms = await stack.addFactor(alice.sub, { phone: phone.e164, e164: phone.e164 });
  const locked = newUser('admin-locked');
  await stack.addFactor(locked.sub, { email: locked.email });
  stack.lockUser(locked.sub);
  for (let i = 0; i < 3; i++) await stack.addFactor(newUser(`admin-page${i}`).sub, { totp: true });

  const page = await stack.newPage({ bypassCSP: true });
  await page.goto(`${stack.url}/admin`);
  await expectHeading(page, 'Admin sign-in');
  assert.ok(page.url().endsWith('/admin/login'), page.url());
  await check(t, page, 'admin-login');

  await signIn(page, { password: 'not the password' });
  await expectHeading(page, 'Admin sign-in');
  assert.equal(await alertText(page), 'Wrong username or password.');
  await check(t, page, 'admin-login-error');

  await signIn(page);
  await expectHeading(page, 'Overview');
  const main = await mainText(page);
  assert.match(main, /\d+ of \d+ users have a second factor/);
  assert.match(main, /1 locked user/);
  const perApp = await rowsOf(page, 'Users per application');
  assert.ok(perApp.some((r) => r[0] === APP_NAME), JSON.stringify(perApp));
  assert.ok(await page.locator('svg.bar rect.bar-fill').count() >= 6, 'bars drawn');
  await check(t, page, 'admin-overview', 'overview');

  // Locked users from the overview's figure; the user's page has the banner.
  await page.getByRole('link', { name: /1 locked user/ }).click();
  await expectHeading(page, 'Users');
  assert.equal(await page.getByLabel('State').inputValue(), 'locked');
  let rows = await rowsOf(page, 'Users');
  assert.deepEqual(rows.map((r) => r[0]), [locked.sub]);
  await page.getByRole('link', { name: locked.sub }).click();
  await expectHeading(page, `User ${locked.sub}`);
  const banner = page.locator('.admin-banner');
  assert.match(await banner.innerText(), /Locked since .* after 100 wrong codes in a row/);
  await check(t, page, 'admin-user-locked');
  await banner.getByRole('button', { name: 'Unlock' }).click();
  assert.match(await statusText(page), /^Unlocked/);
  assert.equal(await page.locator('.admin-banner').count(), 0);

  // Search by prefix in one app, with a filter; then the user's page.
  await nav(page, 'Users');
  await expectHeading(page, 'Users');
  await docsShot(page, 'users');
  await page.getByLabel('Application').selectOption({ label: APP_NAME });
  await page.getByLabel('User id starts with').fill(alice.sub.slice(0, 18));
  await page.getByLabel('Factors').selectOption({ label: 'Has text message' });
  await page.getByRole('button', { name: 'Search' }).click();
  rows = await rowsOf(page, 'Users');
  assert.deepEqual(rows.map((r) => r[0]), [alice.sub]);
  assert.match(rows[0][2], /Email/);
  assert.match(rows[0][2], /Text message/);
  await check(t, page, 'admin-users');
  await page.getByRole('link', { name: alice.sub }).click();
  await expectHeading(page, `User ${alice.sub}`);
  const factors = await rowsOf(page, 'Factors');
  assert.equal(factors.length, 2);
  assert.ok(!JSON.stringify(factors).includes(alice.email), 'the address is masked');
  const history = await rowsOf(page, 'Recent activity');
  assert.ok(history.some((r) => /Factor confirmed/.test(r[1])), JSON.stringify(history));
  assert.match(await page.getByRole('region', { name: 'Recent activity' }).innerText(), /127\.0\.0\.1/);
  await page.getByRole('heading', { name: 'Remembered devices' }).waitFor();
  await check(t, page, 'admin-user', 'user');

  // Remove the phone through its confirmation page.
  await page.getByRole('link', { name: /^Remove Text message/ }).click();
  await expectHeading(page, /^Remove Text message/);
  await check(t, page, 'admin-factor-confirm');
  await page.getByRole('link', { name: 'Cancel' }).click();
  assert.equal((await rowsOf(page, 'Factors')).length, 2);
  await page.getByRole('link', { name: /^Remove Text message/ }).click();
  await page.getByRole('button', { name: 'Remove the factor' }).click();
  assert.equal(await statusText(page), 'The factor was removed.');
  assert.equal((await rowsOf(page, 'Factors')).length, 1);
  assert.equal((await stack.api('GET', `/api/v1/users/${encodeURIComponent(alice.sub)}/factors`)).factors[0].id, email.id);
  assert.notEqual(email.id, sms.id);

  // Reset through its confirmation page, which says what is lost.
  await page.getByRole('link', { name: 'Reset: remove all factors' }).click();
  await expectHeading(page, `Reset ${alice.sub}?`);
  assert.match(await mainText(page), /1 factor \(1 confirmed\)\. 10 unused recovery codes\./);
  await check(t, page, 'admin-reset-confirm');
  await page.getByRole('button', { name: 'Reset: remove all factors' }).click();
  assert.match(await statusText(page), /^Reset:/);
  assert.match(await mainText(page), /No factors\./);

  // The delivery log: filters, then a message's own page.
  await nav(page, 'Delivery log');
  await expectHeading(page, 'Delivery log');
  await page.getByLabel('Channel').selectOption('sms');
  await page.getByRole('button', { name: 'Filter' }).click();
  const log = await rowsOf(page, 'Delivery log');
  assert.ok(log.length >= 1 && log.every((r) => r[2] === 'sms'), JSON.stringify(log));
  assert.ok(!JSON.stringify(log).includes(phone.e164), 'the number is masked');
  await check(t, page, 'admin-deliveries', 'deliveries');
  await page.getByRole('region', { name: 'Delivery log' }).getByRole('link').first().click();
  await expectHeading(page, /^Message \d+$/);
  const request = await page.getByRole('region', { name: 'Request' }).innerText();
  assert.match(request, /^POST http:\/\/127\.0\.0\.1:\d+\/send/);
  assert.match(request, /\*{6}/);
  assert.ok(!request.includes(phone.e164) && !request.includes(phone.e164.slice(1)), request);
  await check(t, page, 'admin-delivery');

  await page.getByRole('button', { name: 'Sign out' }).click();
  await expectHeading(page, 'Admin sign-in');
  assert.equal(await statusText(page), 'You have signed out.');
  await page.goto(`${stack.url}/admin/deliveries`);
  await expectHeading(page, 'Admin sign-in');
});

test('14b. at 360 px the tables are stacked cards and every section is one tap away', async () => {
  const page = await stack.newPage({ viewport: { width: 360, height: 740 } });
  await page.goto(`${stack.url}/admin/login`);
  await signIn(page);
  await expectHeading(page, 'Overview');
  const sections = ['Applications', 'Users', 'Delivery log', 'Policy', 'Branding', 'Admins', 'Overview'];
  for (const name of sections) {
    const link = page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name, exact: true });
    assert.ok(await link.isVisible(), `${name} is visible at 360 px`);
    await link.click();
    await expectHeading(page, name === 'Policy' ? 'Global policy' : name);
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(width <= 360, `${name}: the page is ${width} px wide`);
  }
  await page.getByRole('link', { name: 'Your account: root' }).click();
  await expectHeading(page, 'Your account');
  await page.goto(`${stack.url}/admin/users`);
  // A stacked card: cells one above the other, each labelled.
  const cells = page.getByRole('region', { name: 'Users' }).locator('tbody tr').first().locator('td');
  const display = await cells.first().evaluate((td) => getComputedStyle(td).display);
  assert.notEqual(display, 'table-cell');
  const label = await cells.first().evaluate((td) => getComputedStyle(td, '::before').content);
  assert.equal(label, '"Application"');
  const [a, b] = await Promise.all([cells.nth(0).boundingBox(), cells.nth(1).boundingBox()]);
  assert.ok(b.y > a.y && Math.abs(b.x - a.x) < 2, `stacked: ${JSON.stringify([a, b])}`);
});

test('14c. the console works under the pages\' Content-Security-Policy and without JavaScript', async () => {
  const user = newUser('admin-nojs');
  await stack.addFactor(user.sub, { email: user.email });
  stack.lockUser(user.sub);
  const page = await stack.newPage({ javaScriptEnabled: false });
  await page.goto(`${stack.url}/admin/login`);
  await expectHeading(page, 'Admin sign-in');
  await signIn(page);
  await expectHeading(page, 'Overview');
  await page.goto(`${stack.url}/admin/users?q=${encodeURIComponent(user.sub)}`);
  await page.getByRole('link', { name: user.sub }).click();
  await page.locator('.admin-banner').getByRole('button', { name: 'Unlock' }).click();
  assert.match(await statusText(page), /^Unlocked/);
  await page.getByRole('link', { name: 'Reset: remove all factors' }).click();
  await page.getByRole('button', { name: 'Reset: remove all factors' }).click();
  assert.match(await statusText(page), /^Reset:/);
  assert.deepEqual(page.cspErrors, []);
});
