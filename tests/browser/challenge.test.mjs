// The second step at login (/challenge): each factor, "Try another way",
// and recovery codes. Users are set up through the JSON API; everything
// after that is what a person does in the browser.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { Stack, newPhone, newUser, sleep, totpCode } from './lib/harness.mjs';
import { alertText, expectHeading, mainText, otherWay } from './lib/ui.mjs';

let stack;
before(async () => {
  stack = await Stack.start({ name: 'challenge', policy: 'mandatory' });
});
after(async () => {
  if (stack) await stack.stop();
});

const masked = (email) => `${email[0]}•••@example.com`;

async function login(user, opts) {
  const page = await stack.newPage(opts);
  const { url, state } = stack.link({ sub: user.sub });
  await page.goto(url);
  await expectHeading(page, "Verify it's you");
  assert.match(await mainText(page), /Acme Shop wants to make sure it's really you\./);
  return { page, state };
}

/** On a code-by-message factor: nothing is sent by loading or reloading
 * the page; "Send code" sends one; the code from the sink signs in. */
async function sendAndVerify(page, { count, readCode, sentTo }) {
  const before = count();
  assert.equal(await page.getByLabel('Code', { exact: true }).count(), 0, 'a code field shows before any code was sent');
  await page.reload();
  await sleep(1000);
  assert.equal(count(), before, 'loading the challenge page sent a code');
  await page.getByRole('button', { name: 'Send code' }).click();
  await page.getByLabel('Code', { exact: true }).waitFor();
  assert.ok((await mainText(page)).includes(`Enter the code we sent to ${sentTo}.`), await mainText(page));
  const resend = page.getByRole('button', { name: /^Send again/ });
  assert.equal(await resend.isDisabled(), true, '"Send again" works at once (no cooldown shown)');
  assert.match(await resend.innerText(), /^Send again in \d+ s$/);
  await page.getByLabel('Code', { exact: true }).fill(await readCode(before));
  await page.getByRole('button', { name: 'Verify' }).click();
}

test('5a. log in with an e-mail code; the page sends nothing until "Send code"', async () => {
  const user = newUser('ch-mail');
  await stack.addFactor(user.sub, { email: user.email });
  const { page, state } = await login(user);
  assert.ok((await mainText(page)).includes(`We will email a code to ${masked(user.email)}.`));
  await sendAndVerify(page, {
    count: () => stack.mails(user.email).length,
    readCode: (before) => stack.mailCode(user.email, before),
    sentTo: masked(user.email),
  });
  const { claims } = await stack.backAtApp(page, { state, sub: user.sub });
  assert.deepEqual(claims.amr, ['otp', 'mail', 'mfa']);
});

test('5b. log in with an SMS code; the page sends nothing until "Send code"', async () => {
  const user = newUser('ch-sms');
  const phone = newPhone();
  await stack.addFactor(user.sub, { phone: phone.e164, e164: phone.e164 });
  const { page, state } = await login(user);
  const text = await mainText(page);
  assert.match(text, /We will text a code to \+44 [•\d ]+\./);
  assert.ok(!text.includes(phone.e164.slice(3)), 'the challenge page shows the whole number');
  await sendAndVerify(page, {
    count: () => stack.smsSent(phone.e164).length,
    readCode: (before) => stack.smsCode(phone.e164, before),
    sentTo: text.match(/We will text a code to (\+44 [•\d ]+)\./)[1],
  });
  const { claims } = await stack.backAtApp(page, { state, sub: user.sub });
  assert.deepEqual(claims.amr, ['otp', 'sms', 'mfa']);
});

test('5c. log in with an authenticator app code, keyboard only', async () => {
  const user = newUser('ch-totp');
  const f = await stack.addFactor(user.sub, { totp: true });
  const { page, state } = await login(user);
  assert.ok((await mainText(page)).includes('Open your authenticator app and enter the code it shows.'));
  const field = page.getByLabel('Code', { exact: true });
  assert.equal(await field.getAttribute('autocomplete'), 'one-time-code');
  assert.equal(await field.getAttribute('inputmode'), 'numeric');
  const cookie = (await page.context().cookies()).find((c) => c.name === 'otpgate_session');
  assert.ok(cookie && cookie.httpOnly && cookie.sameSite === 'Lax', `session cookie ${JSON.stringify(cookie)}`);
  // Keyboard only: the code field has the focus on arrival; Enter sends it.
  assert.equal(await field.evaluate((el) => el === document.activeElement), true, 'the code field has no focus');
  await page.keyboard.type(await totpCode(f.secret));
  await page.keyboard.press('Enter');
  const { claims } = await stack.backAtApp(page, { state, sub: user.sub });
  assert.deepEqual(claims.amr, ['otp', 'mfa']);
});

test('a wrong authenticator code is refused with a clear message; the right one still works', async () => {
  const user = newUser('ch-wrong');
  const f = await stack.addFactor(user.sub, { totp: true });
  const { page, state } = await login(user);
  const good = await totpCode(f.secret);
  const bad = String((Number(good) + 500000) % 1000000).padStart(6, '0');
  await page.getByLabel('Code', { exact: true }).fill(bad);
  await page.getByRole('button', { name: 'Verify' }).click();
  await page.getByRole('alert').waitFor();
  const msg = await alertText(page);
  assert.match(msg, /^That code is not right\./);
  assert.doesNotMatch(msg, /Tries left: *$/, `the message ends in an empty count: ${JSON.stringify(msg)}`);
  assert.equal(await page.getByLabel('Code', { exact: true }).getAttribute('aria-invalid'), 'true');
  await page.getByLabel('Code', { exact: true }).fill(good);
  await page.getByRole('button', { name: 'Verify' }).click();
  await stack.backAtApp(page, { state, sub: user.sub });
});

test('6. "Try another way" switches between e-mail and the authenticator app', async () => {
  const user = newUser('ch-switch');
  await stack.addFactor(user.sub, { email: user.email });
  const totp = await stack.addFactor(user.sub, { totp: true });
  const sent = stack.mails(user.email).length;

  const first = await login(user);
  let page = first.page;
  const onEmail = (await mainText(page)).includes('We will email a code to');
  // Whichever it opens on, the other one and the recovery path are offered.
  const other = onEmail ? /Authenticator app/ : new RegExp(`Email.*${masked(user.email)}`);
  await otherWay(page, /Use a recovery code/);
  await (await otherWay(page, other)).click();
  if (onEmail) {
    await page.getByText('Open your authenticator app and enter the code it shows.').waitFor();
    await page.getByLabel('Code', { exact: true }).fill(await totpCode(totp.secret));
    await page.getByRole('button', { name: 'Verify' }).click();
  } else {
    await page.getByText(`We will email a code to ${masked(user.email)}.`).waitFor();
    assert.equal(stack.mails(user.email).length, sent, 'switching to e-mail sent a code by itself');
    await page.getByRole('button', { name: 'Send code' }).click();
    await page.getByLabel('Code', { exact: true }).fill(await stack.mailCode(user.email, sent));
    await page.getByRole('button', { name: 'Verify' }).click();
  }
  await stack.backAtApp(page, { state: first.state, sub: user.sub });

  // The next login opens on the factor used last, and can switch back.
  const second = await login(user);
  page = second.page;
  const text = await mainText(page);
  if (onEmail) assert.ok(text.includes('Open your authenticator app'), `the second login opens on: ${text}`);
  else assert.ok(text.includes('We will email a code to'), `the second login opens on: ${text}`);
  await (await otherWay(page, onEmail ? new RegExp(`Email.*${masked(user.email)}`) : /Authenticator app/)).click();
  await page.getByText(onEmail ? 'We will email a code to' : 'Open your authenticator app').waitFor();
  assert.equal(stack.mails(user.email).length, onEmail ? sent : sent + 1, 'switching sent a code by itself');
});

test('7. a recovery code works once; used again it is refused with a message', async () => {
  const user = newUser('ch-recovery');
  const f = await stack.addFactor(user.sub, { totp: true });
  assert.equal(f.recovery_codes.length, 10);
  const code = f.recovery_codes[0];

  const first = await login(user);
  await (await otherWay(first.page, /Use a recovery code/)).click();
  await first.page.getByLabel('Recovery code').fill(code);
  await first.page.getByRole('button', { name: 'Verify' }).click();
  const { claims } = await stack.backAtApp(first.page, { state: first.state, sub: user.sub });
  assert.deepEqual(claims.amr, ['otp', 'mfa']);

  const second = await login(user);
  const page = second.page;
  await (await otherWay(page, /Use a recovery code/)).click();
  await page.getByLabel('Recovery code').fill(code);
  await page.getByRole('button', { name: 'Verify' }).click();
  await page.getByRole('alert').waitFor();
  assert.equal(await alertText(page), 'That recovery code is not right, or it has been used already.');
  assert.equal(await page.getByLabel('Recovery code').getAttribute('aria-invalid'), 'true');
  assert.equal(stack.callbacks.filter((c) => c.query.state === second.state).length, 0, 'a used code let the user in');

  // Another code, typed in capitals without dashes, still works (SPEC §4).
  await page.getByLabel('Recovery code').fill(f.recovery_codes[1].replace(/-/g, '').toUpperCase());
  await page.getByRole('button', { name: 'Verify' }).click();
  await stack.backAtApp(page, { state: second.state, sub: user.sub });
});
