// Binding a factor inside a login that a mandatory policy asks for: e-mail,
// phone, authenticator app; the recovery codes page (copy, download,
// print); and the whole e-mail binding with JavaScript off.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, test } from 'node:test';

import { RECOVERY_RE, Stack, newPhone, newUser, totpCode, waitFor } from './lib/harness.mjs';
import { alertText, expectHeading, mainText, recoveryCodesOnPage, statusText } from './lib/ui.mjs';

let stack;
before(async () => {
  stack = await Stack.start({ name: 'enrol', policy: 'mandatory' });
});
after(async () => {
  if (stack) await stack.stop();
});

function checkCodes(codes) {
  assert.equal(codes.length, 10, `the page lists ${codes.length} recovery codes: ${codes}`);
  for (const c of codes) assert.match(c, RECOVERY_RE);
  assert.equal(new Set(codes).size, 10, 'the recovery codes are not all different');
}

/** From the link to the enrolment page; returns {page, state}. */
async function loginToEnrol(user, opts = {}) {
  const page = await stack.newPage(opts);
  const { url, state } = stack.link({ sub: user.sub });
  await page.goto(url);
  await expectHeading(page, 'Set up two-step verification');
  return { page, state };
}

/** Types the address, sends and reads the code, confirms: ends on the
 * recovery codes page. */
async function bindEmail(page, user) {
  await page.getByRole('link', { name: /^Email/ }).click();
  await expectHeading(page, 'Add email');
  const before = stack.mails(user.email).length;
  await page.getByLabel('Email address').fill(user.email);
  await page.getByRole('button', { name: 'Send code' }).click();
  await expectHeading(page, 'Confirm your email address');
  const lead = await mainText(page);
  const masked = `${user.email[0]}•••@example.com`;
  assert.ok(lead.includes(`Enter the code we sent to ${masked}.`), `step 2 says: ${lead}`);
  assert.ok(!lead.includes(user.email), 'step 2 shows the whole address');
  const code = await stack.mailCode(user.email, before);
  await page.getByLabel('Code', { exact: true }).fill(code);
  await page.getByRole('button', { name: 'Confirm' }).click();
  await expectHeading(page, 'Save your recovery codes');
}

test('1. bind an e-mail address (mandatory policy) and get back to the app', async () => {
  const user = newUser('bind-mail');
  const { page, state } = await loginToEnrol(user);
  assert.equal(await page.getByRole('button', { name: 'Skip for now' }).count(), 0,
    'a mandatory policy must not offer "Skip for now"');
  assert.match(await mainText(page), /Acme Shop requires two-step verification/);
  await bindEmail(page, user);
  checkCodes(await recoveryCodesOnPage(page));
  await page.getByRole('button', { name: 'I have saved them' }).click();
  const { claims } = await stack.backAtApp(page, { state, sub: user.sub });
  assert.ok(claims.amr.includes('mail'), `amr ${JSON.stringify(claims.amr)} lacks "mail"`);
  assert.equal(claims.mfa, true);
});

test('the "code sent" notice names where the code went', async () => {
  const user = newUser('notice');
  const { page } = await loginToEnrol(user);
  await page.getByRole('link', { name: /^Email/ }).click();
  await page.getByLabel('Email address').fill(user.email);
  await page.getByRole('button', { name: 'Send code' }).click();
  await expectHeading(page, 'Confirm your email address');
  const notice = await statusText(page);
  assert.equal(notice, `We sent a code to ${user.email[0]}•••@example.com.`,
    `the status message reads ${JSON.stringify(notice)}`);
});

test('2. bind a phone number with the country picker; the code comes by SMS', async () => {
  const user = newUser('bind-sms');
  const { page, state } = await loginToEnrol(user);
  await page.getByRole('link', { name: /^Text message/ }).click();
  await expectHeading(page, 'Add text message');
  const country = page.getByLabel('Country or region');
  assert.equal(await country.inputValue(), 'gb', 'an en-GB browser starts on the United Kingdom');
  await country.selectOption({ label: 'Germany (+49)' });
  const phone = { national: '1512 3456' + String(process.pid % 1000).padStart(3, '0') };
  phone.e164 = '+49' + phone.national.replace(/\s/g, '');
  const before = stack.smsSent(phone.e164).length;
  await page.getByLabel('Phone number').fill(phone.national);
  await page.getByRole('button', { name: 'Send code' }).click();
  await expectHeading(page, 'Confirm your phone number');
  assert.match(await mainText(page), /Enter the code we sent to \+49 [•\d ]+\./);
  const code = await stack.smsCode(phone.e164, before);
  await page.getByLabel('Code', { exact: true }).fill(code);
  await page.getByRole('button', { name: 'Confirm' }).click();
  await expectHeading(page, 'Save your recovery codes');
  checkCodes(await recoveryCodesOnPage(page));
  await page.getByRole('button', { name: 'I have saved them' }).click();
  const { claims } = await stack.backAtApp(page, { state, sub: user.sub });
  assert.ok(claims.amr.includes('sms'), `amr ${JSON.stringify(claims.amr)} lacks "sms"`);
});

test('a national number typed with its trunk 0 reaches the right phone', async () => {
  const user = newUser('trunk0');
  const phone = newPhone();
  const { page } = await loginToEnrol(user);
  await page.getByRole('link', { name: /^Text message/ }).click();
  await page.getByLabel('Phone number').fill('0' + phone.national);
  const before = stack.smsSent().length;
  await page.getByRole('button', { name: 'Send code' }).click();
  await expectHeading(page, 'Confirm your phone number');
  await waitFor(() => stack.smsSent().length > before, 'an SMS');
  const to = stack.smsSent().slice(before).map((r) => r.json.to);
  assert.deepEqual(to, [phone.e164], `"0${phone.national}" with +44 was sent to ${JSON.stringify(to)}`);
});

test('3. add an authenticator app: QR code, setup key in groups, confirm with a code', async () => {
  const user = newUser('bind-totp');
  const { page, state } = await loginToEnrol(user);
  await page.getByRole('link', { name: /^Authenticator app/ }).click();
  await expectHeading(page, 'Add authenticator app');
  const qr = page.getByRole('img', { name: 'QR code for your authenticator app' });
  await qr.waitFor();
  assert.equal(await qr.evaluate((el) => el.tagName.toLowerCase()), 'svg');
  const box = await qr.boundingBox();
  assert.ok(box && box.width >= 120 && Math.abs(box.width - box.height) < 2, `QR code box ${JSON.stringify(box)}`);
  const key = page.getByText(/^[A-Z2-7]{4}( [A-Z2-7]{4})+$/);
  const groups = (await key.innerText()).trim();
  assert.equal(groups.replace(/ /g, '').length, 32, `setup key ${groups} is not 160 bits`);
  await page.getByLabel('Code', { exact: true }).fill(await totpCode(groups));
  await page.getByRole('button', { name: 'Confirm' }).click();
  await expectHeading(page, 'Save your recovery codes');
  checkCodes(await recoveryCodesOnPage(page));
  await page.getByRole('button', { name: 'I have saved them' }).click();
  const { claims } = await stack.backAtApp(page, { state, sub: user.sub });
  assert.deepEqual(claims.amr, ['otp', 'mfa']);
});

test('a mistyped authenticator code at enrolment can be typed again', async () => {
  const user = newUser('totp-typo');
  const { page, state } = await loginToEnrol(user);
  await page.getByRole('link', { name: /^Authenticator app/ }).click();
  const groups = (await page.getByText(/^[A-Z2-7]{4}( [A-Z2-7]{4})+$/).innerText()).trim();
  const good = await totpCode(groups);
  await page.getByLabel('Code', { exact: true }).fill(String((Number(good) + 500000) % 1000000).padStart(6, '0'));
  await page.getByRole('button', { name: 'Confirm' }).click();
  await page.getByRole('alert').waitFor();
  assert.match(await alertText(page), /^That code is not right\./);
  // The app already holds the secret: the user types the next code, on
  // a page that asks for it.
  const field = page.getByLabel('Code', { exact: true });
  const h1 = await page.getByRole('heading', { level: 1 }).innerText();
  assert.equal(await field.count(), 1, `after a wrong code the user is at ${page.url()} ("${h1}") with no code field`);
  await field.fill(good);
  await page.getByRole('button', { name: 'Confirm' }).click();
  await expectHeading(page, 'Save your recovery codes');
  await page.getByRole('button', { name: 'I have saved them' }).click();
  await stack.backAtApp(page, { state, sub: user.sub });
});

test('4. recovery codes: copy, download as .txt and print', async () => {
  const user = newUser('codes');
  const { page } = await loginToEnrol(user, { permissions: ['clipboard-read', 'clipboard-write'] });
  await page.getByRole('link', { name: /^Authenticator app/ }).click();
  const groups = (await page.getByText(/^[A-Z2-7]{4}( [A-Z2-7]{4})+$/).innerText()).trim();
  await page.getByLabel('Code', { exact: true }).fill(await totpCode(groups));
  await page.getByRole('button', { name: 'Confirm' }).click();
  await expectHeading(page, 'Save your recovery codes');
  const codes = await recoveryCodesOnPage(page);
  checkCodes(codes);

  const download = page.getByRole('button', { name: 'Download .txt' });
  await download.waitFor({ state: 'visible' });
  const [file] = await Promise.all([page.waitForEvent('download'), download.click()]);
  assert.match(file.suggestedFilename(), /\.txt$/);
  const text = fs.readFileSync(await file.path(), 'utf8');
  const inFile = text.match(/[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}/gi) || [];
  assert.deepEqual(inFile, codes, `the downloaded file holds:\n${text}`);

  await page.getByRole('button', { name: 'Copy' }).click();
  await page.getByRole('status').filter({ hasText: 'Copied.' }).waitFor();
  const clip = await page.evaluate(() => navigator.clipboard.readText());
  assert.deepEqual(clip.split('\n').map((l) => l.trim()).filter(Boolean), codes);

  await page.evaluate(() => {
    window.__printed = 0;
    window.print = () => {
      window.__printed++;
    };
  });
  await page.getByRole('button', { name: 'Print' }).click();
  assert.equal(await page.evaluate(() => window.__printed), 1, '"Print" did not open printing');
});

test('11. JavaScript off: the e-mail binding still completes', async () => {
  const user = newUser('nojs');
  const { page, state } = await loginToEnrol(user, { javaScriptEnabled: false });
  await bindEmail(page, user);
  const codes = await recoveryCodesOnPage(page);
  checkCodes(codes);
  assert.equal(await page.getByRole('button', { name: 'Download .txt' }).isVisible(), false,
    'script-only buttons show without script');
  await page.getByRole('button', { name: 'I have saved them' }).click();
  const { claims } = await stack.backAtApp(page, { state, sub: user.sub });
  assert.ok(claims.amr.includes('mail'));
});
