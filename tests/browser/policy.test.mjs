// Policies (SPEC §5) as a user meets them: the global policy is optional;
// "Strict Shop" is mandatory and "Open Shop" is off, each with its own
// --policy.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { Stack, newUser } from './lib/harness.mjs';
import { expectHeading, mainText } from './lib/ui.mjs';

let stack;
before(async () => {
  stack = await Stack.start({
    name: 'policy',
    policy: 'optional',
    apps: [
      { key: 'strict', name: 'Strict Shop', policy: 'mandatory' },
      { key: 'open', name: 'Open Shop', policy: 'off' },
    ],
  });
});
after(async () => {
  if (stack) await stack.stop();
});

test('9a. optional: "Skip for now" is offered once; the next login goes straight back', async () => {
  const user = newUser('optional');
  const page = await stack.newPage();
  let link = stack.link({ sub: user.sub });
  await page.goto(link.url);
  await expectHeading(page, 'Protect your account');
  assert.match(await mainText(page), /Add a second step, so your password alone is not enough to sign in\./);
  for (const name of [/^Authenticator app/, /^Text message/, /^Email/]) {
    assert.equal(await page.getByRole('link', { name }).count(), 1, `the offer lacks ${name}`);
  }
  await page.getByRole('button', { name: 'Skip for now' }).click();
  let { claims } = await stack.backAtApp(page, { state: link.state, sub: user.sub });
  assert.equal(claims.mfa, false, 'a skipped second step is reported as mfa');
  assert.deepEqual(claims.amr, []);

  link = stack.link({ sub: user.sub });
  await page.goto(link.url);
  ({ claims } = await stack.backAtApp(page, { state: link.state, sub: user.sub }));
  assert.equal(claims.mfa, false);
  const seen = await page.getByRole('heading', { level: 1 }).allInnerTexts();
  assert.deepEqual(seen, ['Back at Acme Shop'], 'the second login stopped on an otpgate page');
});

test('9b. mandatory: the enrolment page has no way to skip', async () => {
  const user = newUser('mandatory');
  const page = await stack.newPage();
  const link = stack.link({ sub: user.sub, app: stack.apps.strict });
  await page.goto(link.url);
  await expectHeading(page, 'Set up two-step verification');
  assert.match(await mainText(page), /Strict Shop requires two-step verification\. Choose a method to continue\./);
  assert.equal(await page.getByRole('button', { name: 'Skip for now' }).count(), 0);
  // Coming back later does not get around it either.
  const again = stack.link({ sub: user.sub, app: stack.apps.strict });
  await page.goto(again.url);
  await expectHeading(page, 'Set up two-step verification');
  assert.equal(stack.callbacks.filter((c) => [link.state, again.state].includes(c.query.state)).length, 0);
});

test('9c. off: no second step, the app gets its answer at once', async () => {
  const user = newUser('off');
  const page = await stack.newPage();
  const link = stack.link({ sub: user.sub, app: stack.apps.open });
  await page.goto(link.url);
  const { claims } = await stack.backAtApp(page, { state: link.state, sub: user.sub, app: stack.apps.open });
  assert.equal(claims.mfa, false);
});

test('cancel on the challenge page goes back with access_denied', async () => {
  const user = newUser('cancel');
  await stack.addFactor(user.sub, { email: user.email });
  const page = await stack.newPage();
  const link = stack.link({ sub: user.sub });
  await page.goto(link.url);
  await expectHeading(page, "Verify it's you");
  await page.getByRole('button', { name: 'Cancel' }).click();
  const { query } = await stack.backAtApp(page, { state: link.state });
  assert.equal(query.error, 'access_denied');
  assert.equal(query.otpgate_result, undefined);
});

test('a link that was already used shows "This link does not work"', async () => {
  const user = newUser('replay');
  const page = await stack.newPage();
  const link = stack.link({ sub: user.sub });
  await page.goto(link.url);
  await expectHeading(page, 'Protect your account');
  const other = await stack.newPage();
  const res = await other.goto(link.url);
  assert.equal(res.status(), 400);
  await expectHeading(other, 'This link does not work');
});
