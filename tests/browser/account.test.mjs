// The account page reached through a "manage" link: the second step first,
// removing a factor through its confirmation page, the step-up a change
// needs once the last second step is more than 5 minutes old, and going
// back to the app.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { Stack, newPhone, newUser, totpCode } from './lib/harness.mjs';
import { expectHeading, mainText, statusText } from './lib/ui.mjs';

let stack;
before(async () => {
  stack = await Stack.start({ name: 'account', policy: 'mandatory' });
});
after(async () => {
  if (stack) await stack.stop();
});

const masked = (email) => `${email[0]}•••@example.com`;

async function factorsOnPage(page) {
  const list = page.getByRole('region', { name: 'Your methods' }).getByRole('listitem');
  return (await list.allInnerTexts()).map((t) => t.replace(/\s+/g, ' ').trim());
}

test('8. manage: second step, then remove a factor through its confirmation page', async () => {
  const user = newUser('manage');
  const phone = newPhone();
  await stack.addFactor(user.sub, { email: user.email });
  const totp = await stack.addFactor(user.sub, { totp: true });
  await stack.addFactor(user.sub, { phone: phone.e164, e164: phone.e164 });

  const page = await stack.newPage();
  const { url, state } = stack.link({ sub: user.sub, purpose: 'manage' });
  await page.goto(url);
  // The account page needs a passed second step first.
  await expectHeading(page, "Verify it's you");
  const onTotp = (await mainText(page)).includes('Open your authenticator app');
  if (!onTotp) {
    await page.getByText('Try another way', { exact: true }).click();
    await page.getByRole('link', { name: /Authenticator app/ }).click();
  }
  await page.getByLabel('Code', { exact: true }).fill(await totpCode(totp.secret));
  await page.getByRole('button', { name: 'Verify' }).click();
  await expectHeading(page, 'Two-step verification');

  let factors = await factorsOnPage(page);
  assert.equal(factors.length, 3, `the account page lists ${JSON.stringify(factors)}`);
  assert.ok(factors.some((f) => f.startsWith('Email') && f.includes(masked(user.email))), JSON.stringify(factors));
  assert.ok(factors.some((f) => f.startsWith('Authenticator app')), JSON.stringify(factors));
  assert.match(await mainText(page), /Unused recovery codes: 10/);

  // "Remove" names its factor for screen readers and asks first.
  const removeSms = page.getByRole('button', { name: /^Remove – Text message, \+44 [•\d ]+$/ });
  await removeSms.click();
  await expectHeading(page, 'Remove this method?');
  assert.match(await mainText(page), /Text message \+44 [•\d ]+/, 'the confirmation does not say which method');
  await page.getByRole('link', { name: 'Cancel' }).click();
  await expectHeading(page, 'Two-step verification');
  assert.equal((await factorsOnPage(page)).length, 3, 'Cancel removed the factor');

  await removeSms.click();
  await expectHeading(page, 'Remove this method?');
  await page.getByRole('button', { name: 'Remove' }).click();
  await expectHeading(page, 'Two-step verification');
  assert.equal(await statusText(page), 'Method removed.');
  factors = await factorsOnPage(page);
  assert.equal(factors.length, 2, JSON.stringify(factors));
  assert.ok(!factors.some((f) => f.startsWith('Text message')), `the phone is still listed: ${JSON.stringify(factors)}`);
  const listed = await stack.api('GET', `/api/v1/users/${user.sub}/factors`);
  assert.deepEqual(listed.factors.map((f) => f.type).sort(), ['email', 'totp']);

  // Five minutes later a change needs a fresh second step (here by e-mail).
  stack.ageSessions(user.sub, 6 * 60 * 1000);
  const removeEmail = page.getByRole('button', { name: `Remove – Email, ${masked(user.email)}` });
  await removeEmail.click();
  await expectHeading(page, "Confirm it's you");
  assert.match(await mainText(page), /You are about to change your security settings\. Confirm it's you first\./);
  if (!(await mainText(page)).includes('We will email a code to')) {
    await page.getByText('Try another way', { exact: true }).click();
    await page.getByRole('link', { name: /Email/ }).click();
  }
  const sent = stack.mails(user.email).length;
  await page.getByRole('button', { name: 'Send code' }).click();
  await page.getByLabel('Code', { exact: true }).fill(await stack.mailCode(user.email, sent));
  await page.getByRole('button', { name: 'Verify' }).click();
  await expectHeading(page, 'Two-step verification');
  await removeEmail.click();
  await expectHeading(page, 'Remove this method?');
  await page.getByRole('button', { name: 'Remove' }).click();
  await expectHeading(page, 'Two-step verification');
  assert.deepEqual((await factorsOnPage(page)).map((f) => f.split(' ')[0]), ['Authenticator']);

  // The policy is mandatory: the last method stays and nothing turns it off.
  assert.equal(await page.getByRole('button', { name: 'Turn off' }).count(), 0);
  assert.equal(await page.getByRole('button', { name: /^Remove – / }).count(), 0);
  assert.match(await mainText(page), /your last method cannot be removed\. Add another one first\./);

  await page.getByRole('button', { name: 'Back to Acme Shop' }).click();
  const { claims } = await stack.backAtApp(page, { state, sub: user.sub });
  assert.equal(claims.mfa, true);
  assert.deepEqual(claims.amr, ['otp', 'mail', 'mfa'], 'amr names the last second step (e-mail)');
});
