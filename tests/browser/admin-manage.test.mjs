// Running the organisation from the console (issue #13), in a real
// browser: register an application (its secret shown once), change its
// name, redirect URIs and policy, rotate its secret and remove it, each
// through the page a new administrator would use; the global policy;
// branding with a logo upload that the end users' pages show (in both
// languages); admin accounts and one's own password. axe-core on every
// page at 360 px and 1280 px (and dark). The writes run once more with
// JavaScript off and the pages' CSP on.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { after, before, test } from 'node:test';

import { PASSWORD, check, nav, rowsOf, signIn } from './lib/admin.mjs';
import { Stack, newUser } from './lib/harness.mjs';
import { alertText, expectHeading, mainText, statusText } from './lib/ui.mjs';

let stack;
before(async () => {
  stack = await Stack.start({ name: 'admin-manage', policy: 'optional' });
  execFileSync(stack.bin, ['admin', 'add', 'root'], { env: stack.cliEnv, input: `${PASSWORD}\n`, encoding: 'utf8' });
});
after(async () => {
  if (stack) await stack.stop();
});

/** A small valid PNG, w×h pixels of one colour (the accent set below). */
function png(w = 16, h = 16) {
  const chunk = (kind, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(kind), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(zlib.crc32 ? zlib.crc32(body) >>> 0 : crc32(body));
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const pixel = Buffer.from([0x0a, 0x7f, 0x5a]);
  const row = Buffer.concat([Buffer.from([0]), ...Array.from({ length: w }, () => pixel)]);
  const raw = Buffer.concat(Array.from({ length: h }, () => row));
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr),
    chunk('IDAT', zlib.deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

function crc32(buf) {
  let c = ~0;
  for (const b of buf) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}

async function signedIn(opts = {}) {
  const page = await stack.newPage(opts);
  await page.goto(`${stack.url}/admin/login`);
  await signIn(page, opts);
  await expectHeading(page, 'Overview');
  return page;
}

/** Calls the API as app {client_id, client_secret}; returns the status. */
async function apiStatus(app) {
  const res = await fetch(`${stack.url}/api/v1/users/probe/factors`, {
    headers: { Authorization: 'Basic ' + Buffer.from(`${app.client_id}:${app.client_secret}`).toString('base64') },
  });
  return res.status;
}

function policyShow(appId) {
  const out = {};
  for (const line of stack.cli(['policy', 'show', ...(appId ? ['--app', appId] : [])]).trim().split('\n')) {
    const m = /^(\w+) = (.*?)  \((\w+)\)$/.exec(line);
    out[m[1]] = [m[2], m[3]];
  }
  return out;
}

test('15a. register an application, see its secret once, change it, rotate the secret, remove it', async (t) => {
  const page = await signedIn({ bypassCSP: true });
  await nav(page, 'Applications');
  await expectHeading(page, 'Applications');
  await check(t, page, 'admin-apps', 'apps');
  await page.getByRole('link', { name: 'New application' }).click();
  await expectHeading(page, 'New application');
  await page.getByLabel('Name').fill('Intranet');
  await page.getByLabel('Redirect URIs').fill('http://intranet.example/cb');
  await page.getByLabel('Second step').selectOption('mandatory');
  await page.getByRole('button', { name: 'Register' }).click();
  assert.match(await alertText(page), /http:\/\/ is allowed only for localhost/);
  assert.equal(await page.getByLabel('Redirect URIs').inputValue(), 'http://intranet.example/cb');
  await check(t, page, 'admin-app-new-error');
  await page.getByLabel('Redirect URIs').fill('https://intranet.example/cb\nhttp://localhost:4000/cb');
  await page.getByRole('button', { name: 'Register' }).click();
  await expectHeading(page, 'Application registered');
  const app = {
    client_id: (await page.locator('#client-id').innerText()).trim(),
    client_secret: (await page.locator('#client-secret').innerText()).trim(),
  };
  assert.match(app.client_secret, /^[A-Za-z0-9_-]{43}$/);
  assert.equal(await apiStatus(app), 200);
  await check(t, page, 'admin-app-secret', 'secret');
  // Shown once: back and reload show no secret.
  await page.reload();
  await expectHeading(page, 'Client secret');
  assert.match(await mainText(page), /was shown once and cannot be shown again/);
  assert.ok(!(await page.content()).includes(app.client_secret));

  // The app's page: details, every policy key with its source.
  await page.getByRole('link', { name: 'Back to Intranet' }).click();
  await expectHeading(page, 'Intranet');
  assert.match(await page.locator('#pk-mode-hint').innerText(), /Now mandatory from app/);
  assert.match(await page.locator('#pk-code_ttl-hint').innerText(), /Now 300 from default/);
  await check(t, page, 'admin-app', 'app');
  await page.getByLabel('Name').fill('Intranet 2');
  await page.getByLabel('Redirect URIs').fill('https://intranet2.example/cb');
  await page.getByRole('button', { name: 'Save details' }).click();
  assert.equal(await statusText(page), 'The application was saved.');
  await expectHeading(page, 'Intranet 2');
  // A refused policy value names the key; nothing is written.
  await page.getByLabel('code_ttl').fill('forever');
  await page.getByRole('button', { name: 'Save policy' }).click();
  assert.match(await alertText(page), /code_ttl: 'forever' must be a whole number of seconds from 1 to 86400/);
  assert.equal(await page.getByLabel('code_ttl').getAttribute('aria-invalid'), 'true');
  await check(t, page, 'admin-app-policy-error');
  assert.deepEqual(policyShow(app.client_id).code_ttl, ['300', 'default']);
  await page.getByLabel('code_ttl').fill('600');
  await page.getByLabel('mode', { exact: true }).selectOption('inherit');
  await page.getByRole('button', { name: 'Save policy' }).click();
  assert.equal(await statusText(page), 'The policy was saved.');
  assert.deepEqual(policyShow(app.client_id).code_ttl, ['600', 'app']);
  assert.deepEqual(policyShow(app.client_id).mode, ['optional', 'global']);

  // Rotate: the confirmation says what breaks; the new secret shows once.
  await page.getByRole('link', { name: 'Rotate the client secret' }).click();
  await expectHeading(page, 'Rotate the client secret of Intranet 2?');
  await check(t, page, 'admin-app-rotate');
  await page.getByRole('button', { name: 'Rotate the secret' }).click();
  await expectHeading(page, 'Client secret');
  const rotated = { client_id: app.client_id, client_secret: (await page.locator('#client-secret').innerText()).trim() };
  assert.equal(await apiStatus(app), 401);
  assert.equal(await apiStatus(rotated), 200);
  await page.getByRole('link', { name: 'I have saved it' }).click();

  // Remove: the confirmation names what is lost.
  await stack.api('POST', '/api/v1/users/bob/factors', { type: 'totp' }, rotated);
  await page.getByRole('link', { name: 'Remove this application' }).click();
  await expectHeading(page, 'Remove Intranet 2?');
  const lost = await mainText(page);
  assert.match(lost, /1 user, 0 of them with a second factor/);
  assert.match(lost, /1 setting of the app's own policy/);
  await check(t, page, 'admin-app-remove');
  await page.getByRole('button', { name: 'Remove Intranet 2' }).click();
  assert.equal(await statusText(page), 'The application was removed with its users and policy.');
  assert.equal(await apiStatus(rotated), 401);
  await nav(page, 'Admins');
  const events = (await rowsOf(page, 'Console activity')).map((r) => r[1]);
  for (const what of ['Application registered', 'Application changed', 'Policy changed', 'Client secret rotated',
    'Application removed']) assert.ok(events.some((e) => e.startsWith(what)), `${what} in ${JSON.stringify(events)}`);
});

test('15b. the global policy', async (t) => {
  const page = await signedIn({ bypassCSP: true });
  await nav(page, 'Policy');
  await expectHeading(page, 'Global policy');
  await check(t, page, 'admin-policy', 'policy');
  await page.getByLabel('lockout_wait').fill('45');
  await page.getByLabel('recovery_codes').selectOption('off');
  await page.getByRole('button', { name: 'Save policy' }).click();
  assert.equal(await statusText(page), 'The policy was saved.');
  assert.deepEqual(policyShow().lockout_wait, ['45', 'global']);
  assert.deepEqual(policyShow().recovery_codes, ['off', 'global']);
  assert.match(await page.locator('#pk-lockout_wait-hint').innerText(), /Now 45 from global/);
  await page.getByLabel('lockout_wait').fill('');
  await page.getByLabel('recovery_codes').selectOption('default');
  await page.getByRole('button', { name: 'Save policy' }).click();
  assert.deepEqual(policyShow().lockout_wait, ['30', 'default']);
  assert.deepEqual(policyShow().recovery_codes, ['on', 'default']);
});

test('15c. branding: name, accent, support contact and an uploaded logo the users\' pages show', async (t) => {
  const page = await signedIn({ bypassCSP: true });
  await nav(page, 'Branding');
  await expectHeading(page, 'Branding');
  // The browser itself holds back a colour the server would refuse (the
  // server's own refusal, for forms sent without that check, is in
  // tests/integration/test_admin_settings.py).
  await page.getByLabel('Accent colour').fill('teal');
  await page.getByRole('button', { name: 'Save branding' }).click();
  assert.equal(await page.getByLabel('Accent colour').evaluate((el) => el.validity.patternMismatch), true);
  assert.equal(await statusText(page), '');
  await page.getByLabel('Product name').fill('Acme ID');
  await page.getByLabel('Accent colour').fill('#0a7f5a');
  await page.getByLabel('Support contact').fill('help@acme.example');
  const dir = fs.mkdtempSync(path.join(stack.tmp, 'logo-'));
  const logo = path.join(dir, 'acme.png');
  fs.writeFileSync(logo, png());
  await page.getByLabel('Upload a new logo').setInputFiles(logo);
  await page.getByRole('button', { name: 'Save branding' }).click();
  assert.equal(await statusText(page), 'The branding was saved.');
  const src = await page.locator('header .brand img').getAttribute('src');
  assert.match(src, /^\/brand\/logo\?v=[0-9a-f]{16}$/);
  assert.equal(await page.locator('header .brand img').evaluate((img) => img.naturalWidth), 16);
  await check(t, page, 'admin-brand', 'brand');

  // An SVG with a script is refused, and nothing changes.
  const evil = path.join(dir, 'evil.svg');
  fs.writeFileSync(evil, '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>');
  await page.getByLabel('Upload a new logo').setInputFiles(evil);
  await page.getByRole('button', { name: 'Save branding' }).click();
  assert.match(await alertText(page), /the SVG holds a script/);
  assert.equal(await page.locator('header .brand img').getAttribute('src'), src);

  // The end users' pages, in both languages, carry the new look.
  for (const [locale, heading] of [['en', 'Protect your account'], ['zh', '保护您的账户']]) {
    const user = newUser(`brand-${locale}`);
    const up = await stack.newPage();
    await up.goto(stack.link({ sub: user.sub, ui_locales: locale }).url);
    await expectHeading(up, heading);
    assert.equal(await up.locator('header .brand img').getAttribute('src'), src);
    assert.equal(await up.locator('header .brand img').evaluate((img) => img.naturalWidth), 16);
    assert.match(await up.locator('header .brand').innerText(), /Acme ID/);
  }
  assert.match(stack.cli(['brand', 'show']), /support = help@acme\.example/);
  // Back to the built-in logo.
  await page.getByLabel('Use the built-in logo again').check();
  await page.getByRole('button', { name: 'Save branding' }).click();
  // the built-in logo is drawn inline, in the accent colour
  await page.locator('header .brand svg.logo').waitFor();
  assert.equal(await page.locator('header .brand img').count(), 0);
});

test('15d. admin accounts: add one who signs in, remove them; change one\'s own password', async (t) => {
  const page = await signedIn({ bypassCSP: true });
  await nav(page, 'Admins');
  await expectHeading(page, 'Admins');
  const form = page.getByRole('region', { name: 'Add an admin' });
  await form.getByLabel('Username').fill('carol');
  await form.getByLabel('Password', { exact: true }).fill('carol has a long passphrase');
  await form.getByLabel('Repeat the password').fill('carol has a long passphrase, no');
  await form.getByRole('button', { name: 'Add admin' }).click();
  assert.match(await alertText(page), /The two passwords differ/);
  assert.equal(await page.getByLabel('Username').inputValue(), 'carol');
  await check(t, page, 'admin-admins-error');
  const carolPw = 'carol has a long passphrase';
  await page.getByLabel('Password', { exact: true }).fill(carolPw);
  await page.getByLabel('Repeat the password').fill(carolPw);
  await page.getByRole('button', { name: 'Add admin' }).click();
  assert.equal(await statusText(page), 'The admin was added. They can sign in now.');
  const accounts = await rowsOf(page, 'Admin accounts');
  assert.deepEqual(accounts.map((r) => r[0].split(/\s/)[0]), ['carol', 'root']);
  await check(t, page, 'admin-admins', 'admins');

  const carol = await signedIn({ username: 'carol', password: carolPw });
  await page.getByRole('link', { name: 'Remove carol' }).click();
  await expectHeading(page, 'Remove the admin carol?');
  await check(t, page, 'admin-admin-remove');
  await page.getByRole('button', { name: 'Remove carol' }).click();
  assert.equal(await statusText(page), 'The admin was removed and their sessions ended.');
  await carol.reload();
  await expectHeading(carol, 'Admin sign-in');

  // One's own password.
  await page.getByRole('link', { name: 'Your account: root' }).click();
  await expectHeading(page, 'Your account');
  await page.getByLabel('Current password').fill('not my password');
  await page.getByLabel('New password').fill('another long passphrase');
  await page.getByLabel('Repeat the password').fill('another long passphrase');
  await page.getByRole('button', { name: 'Change password' }).click();
  assert.match(await alertText(page), /The current password is wrong/);
  await check(t, page, 'admin-account-error');
  await page.getByLabel('Current password').fill(PASSWORD);
  await page.getByLabel('New password').fill('another long passphrase');
  await page.getByLabel('Repeat the password').fill('another long passphrase');
  await page.getByRole('button', { name: 'Change password' }).click();
  assert.match(await statusText(page), /^Your password was changed/);
  const again = await signedIn({ password: 'another long passphrase' });
  await again.getByRole('link', { name: 'Your account: root' }).click();
  await again.getByLabel('Current password').fill('another long passphrase');
  await again.getByLabel('New password').fill(PASSWORD);
  await again.getByLabel('Repeat the password').fill(PASSWORD);
  await again.getByRole('button', { name: 'Change password' }).click();
  assert.match(await statusText(again), /^Your password was changed/);
});

test('15e. the same writes with JavaScript off and the pages\' CSP on', async () => {
  const page = await signedIn({ javaScriptEnabled: false });
  await nav(page, 'Applications');
  await page.getByRole('link', { name: 'New application' }).click();
  await page.getByLabel('Name').fill('No-JS app');
  await page.getByLabel('Redirect URIs').fill('https://nojs.example/cb');
  await page.getByRole('button', { name: 'Register' }).click();
  await expectHeading(page, 'Application registered');
  await page.getByRole('link', { name: 'I have saved it' }).click();
  await page.getByLabel('max_attempts').fill('3');
  await page.getByRole('button', { name: 'Save policy' }).click();
  assert.equal(await statusText(page), 'The policy was saved.');
  await nav(page, 'Branding');
  const dir = fs.mkdtempSync(path.join(stack.tmp, 'nojs-'));
  fs.writeFileSync(path.join(dir, 'l.png'), png(8, 8));
  await page.getByLabel('Upload a new logo').setInputFiles(path.join(dir, 'l.png'));
  await page.getByRole('button', { name: 'Save branding' }).click();
  assert.equal(await statusText(page), 'The branding was saved.');
  await nav(page, 'Admins');
  const name = `dave${crypto.randomBytes(2).toString('hex')}`;
  await page.getByLabel('Username').fill(name);
  await page.getByLabel('Password', { exact: true }).fill('dave has a long passphrase');
  await page.getByLabel('Repeat the password').fill('dave has a long passphrase');
  await page.getByRole('button', { name: 'Add admin' }).click();
  assert.equal(await statusText(page), 'The admin was added. They can sign in now.');
  await page.getByRole('link', { name: `Remove ${name}` }).click();
  await page.getByRole('button', { name: `Remove ${name}` }).click();
  assert.equal(await statusText(page), 'The admin was removed and their sessions ended.');
  assert.deepEqual(page.cspErrors, []);
});
