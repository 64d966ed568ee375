// Simplified Chinese: from the link's ui_locales, from the browser's
// language, and from the language switch, on the challenge and account
// pages; the code e-mail follows the page's language.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { Stack, mimeParts, newUser, totpCode } from './lib/harness.mjs';
import { expectHeading, mainText } from './lib/ui.mjs';

let stack;
before(async () => {
  stack = await Stack.start({ name: 'i18n', policy: 'mandatory' });
});
after(async () => {
  if (stack) await stack.stop();
});

const htmlLang = (page) => page.evaluate(() => document.documentElement.lang);

test('10a. ui_locales=zh: the challenge page and the code e-mail are in Chinese', async () => {
  const user = newUser('zh-mail');
  await stack.addFactor(user.sub, { email: user.email });
  const page = await stack.newPage();
  const link = stack.link({ sub: user.sub, ui_locales: 'zh-CN' });
  await page.goto(link.url);
  await expectHeading(page, '验证您的身份');
  assert.equal(await htmlLang(page), 'zh-CN');
  assert.match(await mainText(page), /Acme Shop 需要确认是您本人在操作。/);
  assert.match(await mainText(page), /我们将向 .•••@example\.com 发送验证码邮件。/);
  assert.equal(await page.getByText('换一种方式', { exact: true }).count(), 1);
  const sent = stack.mails(user.email).length;
  await page.getByRole('button', { name: '发送验证码' }).click();
  await page.getByLabel('验证码', { exact: true }).waitFor();
  await stack.mailCode(user.email, sent);
  const mail = stack.mails(user.email).at(-1);
  const text = mimeParts(mail.data).find((p) => p.type === 'text/plain').text;
  assert.match(text, /验证码/, `the e-mail of a Chinese page is not in Chinese:\n${text}`);
  assert.equal(await page.getByRole('button', { name: '验证' }).count(), 1);
});

test('10b. the browser asks for Chinese (Accept-Language): the pages are in Chinese', async () => {
  const user = newUser('zh-al');
  await stack.addFactor(user.sub, { totp: true });
  const page = await stack.newPage({ locale: 'zh-CN' });
  await page.goto(stack.link({ sub: user.sub }).url);
  await expectHeading(page, '验证您的身份');
  assert.match(await mainText(page), /请打开身份验证器应用，输入其中显示的验证码。/);
});

test('10c. the language switch turns the challenge and account pages to Chinese and back', async () => {
  const user = newUser('zh-switch');
  const f = await stack.addFactor(user.sub, { totp: true });
  const page = await stack.newPage();
  const link = stack.link({ sub: user.sub, purpose: 'manage' });
  await page.goto(link.url);
  await expectHeading(page, "Verify it's you");
  const lang = page.getByRole('form', { name: 'Language' });
  assert.equal(await lang.getByRole('button', { name: 'English' }).getAttribute('aria-current'), 'true');
  await lang.getByRole('button', { name: '中文' }).click();
  await expectHeading(page, '验证您的身份');
  assert.equal(await htmlLang(page), 'zh-CN');
  await page.getByLabel('验证码', { exact: true }).fill(await totpCode(f.secret));
  await page.getByRole('button', { name: '验证' }).click();

  await expectHeading(page, '两步验证');
  const text = await mainText(page);
  for (const words of ['您的验证方式', '身份验证器应用', '恢复码', '无法删除最后一个验证方式', '返回 Acme Shop']) {
    assert.ok(text.includes(words), `the Chinese account page lacks "${words}": ${text}`);
  }
  assert.equal(await page.getByRole('button', { name: /^删除 – 身份验证器应用/ }).count(), 0);
  await page.getByRole('form', { name: '语言' }).getByRole('button', { name: 'English' }).click();
  await expectHeading(page, 'Two-step verification');
  assert.equal(await htmlLang(page), 'en');
});

test('10d. ui_locales=zh on a manage link: the account page is in Chinese', async () => {
  const user = newUser('zh-account');
  const f = await stack.addFactor(user.sub, { totp: true });
  const page = await stack.newPage();
  await page.goto(stack.link({ sub: user.sub, purpose: 'manage', ui_locales: 'zh' }).url);
  await expectHeading(page, '验证您的身份');
  await page.getByLabel('验证码', { exact: true }).fill(await totpCode(f.secret));
  await page.getByRole('button', { name: '验证' }).click();
  await expectHeading(page, '两步验证');
  assert.match(await mainText(page), /未使用的恢复码：10 个/);
});
