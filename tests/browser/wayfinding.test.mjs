// Pages that never leave a user stuck (issue #13), in Chromium, found by
// role and label, at 360 and 1280 px, axe-clean, in both languages, with
// and without JavaScript where it matters: the home page and "not found";
// the development outbox (codes, the sandboxed HTML e-mail, refreshing by
// itself) and the pages that point at it; the authenticator's "Open in
// authenticator app" link, setup key groups and phone numbers that never
// wrap inside; a dead code and an early "Send again" said plainly; a typed
// address or number kept with its error beside the field; the country
// picker's default and search; one name and order per method; the
// recovery-codes file; the brand's colours in icons, badges, logo and dark
// mode. This stack runs with development delivery (no SMTP, no SMS
// provider), as `make run` does.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, test } from 'node:test';

import { audit, formatViolations } from './lib/audit.mjs';
import { INSTANCES, Stack, newUser, sleep, waitFor } from './lib/harness.mjs';
import { alertText, expectHeading, mainText, statusText } from './lib/ui.mjs';

let stack;
before(async () => {
  stack = await Stack.start({
    name: 'wayfinding',
    policy: 'mandatory',
    env: { OTPGATE_DEV: '1', OTPGATE_SMTP_URL: '', OTPGATE_SMS_PROVIDER: '', OTPGATE_SMS_URL: '' },
  });
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

/** axe needs script: a page seen without it is checked as the same URL in
 * a page with script and the same cookies. */
async function checkNoScript(t, page, name) {
  const twin = await stack.newPage({ bypassCSP: true });
  await twin.context().addCookies(await page.context().cookies());
  await twin.goto(page.url());
  await check(t, twin, name);
}

/** The development outbox as JSON, newest first (every instance's). */
function outbox() {
  return stack.devOutbox();
}

async function newestCode(to, before = 0) {
  const list = await waitFor(async () => {
    const l = (await outbox()).filter((m) => m.to === to);
    return l.length > before ? l : null;
  }, `a code for ${to} in the development outbox`);
  return list[0].code;
}

async function toEnrol(user, opts = {}) {
  const page = await stack.newPage(opts);
  const link = stack.link({ sub: user.sub, ui_locales: opts.ui_locales });
  page.flowState = link.state; // to find this flow's way back to the app
  await page.goto(link.url);
  return page;
}

/** The height of an element's text in lines (its client rects). */
async function lines(locator) {
  return locator.evaluate((el) => {
    const r = document.createRange();
    r.selectNodeContents(el);
    const tops = new Set([...r.getClientRects()].map((x) => Math.round(x.top)));
    return tops.size;
  });
}

test('the home page says what to do next; unknown paths get the layout in both languages', async (t) => {
  const page = await stack.newPage({ bypassCSP: true });
  await page.goto(`${stack.url}/`);
  await expectHeading(page, 'otpgate is running');
  const next = page.getByRole('region', { name: 'What to do next' });
  assert.match(await next.innerText(), /otpgate app add --name/);
  assert.match(await next.innerText(), /make demo/);
  await next.getByRole('link', { name: 'Admin console' }).waitFor();
  await page.getByRole('link', { name: 'Open the development outbox' }).waitFor();
  await check(t, page, 'home');

  const res = await page.goto(`${stack.url}/no/such/page`);
  assert.equal(res.status(), 404);
  await expectHeading(page, 'Page not found');
  assert.match(await mainText(page), /Check the address/);
  await check(t, page, 'not-found');

  const zh = await stack.newPage({ bypassCSP: true, locale: 'zh-CN' });
  assert.equal((await zh.goto(`${stack.url}/account/typo`)).status(), 404);
  await expectHeading(zh, '找不到该页面');
  assert.equal(await zh.locator('html').getAttribute('lang'), 'zh-CN');
  await check(t, zh, 'not-found-zh');
  await zh.goto(`${stack.url}/`);
  await expectHeading(zh, 'otpgate 正在运行');
  await zh.getByRole('region', { name: '接下来' }).waitFor();
  await check(t, zh, 'home-zh');
});

// The outbox page is one process's memory: behind the round-robin proxy
// each load or refresh shows whichever instance answered, and the code may
// be in another's (docs/several-instances.md).
test('the outbox shows each code and the HTML e-mail, and refreshes itself', {
  skip: INSTANCES > 1 && `the outbox page shows one instance's memory; ${INSTANCES} instances take turns here`,
}, async (t) => {
  const box = await stack.newPage({ bypassCSP: true });
  await box.goto(`${stack.url}/dev/outbox`);
  await expectHeading(box, 'Development outbox');
  const shown = (await outbox()).length;

  // Meanwhile a user binds an e-mail address: the code page points at the outbox.
  const user = newUser('outbox');
  const page = await toEnrol(user);
  await page.getByRole('link', { name: /^Email/ }).click();
  await page.getByLabel('Email address').fill(user.email);
  await page.getByRole('button', { name: 'Send code' }).click();
  await expectHeading(page, 'Confirm your email address');
  const link = page.getByRole('link', { name: 'Open the development outbox' });
  assert.equal(await link.getAttribute('href'), '/dev/outbox');
  const code = await newestCode(user.email);

  // The open outbox shows it without a reload, newest first, and says so.
  await box.getByText(code, { exact: true }).first().waitFor({ timeout: 8000 });
  assert.equal(await statusText(box), 'A new message arrived.');
  assert.ok((await outbox()).length > shown);
  const first = box.getByRole('listitem').first();
  assert.match(await first.innerText(), new RegExp(`To ${user.email}`));
  assert.equal((await first.locator('mark.code').innerText()).trim(), code);
  // The HTML e-mail, rendered in its sandboxed frame.
  const frame = box.frameLocator('iframe.outbox-html').first();
  await frame.getByRole('heading', { name: /Confirm your email for Acme Shop/ }).waitFor();
  assert.match(await frame.locator('body').innerText(), new RegExp(code));
  assert.equal(await box.locator('iframe.outbox-html').first().getAttribute('sandbox'), '');
  await check(t, box, 'outbox');

  // Without JavaScript: "Refresh" is a link that shows what came since.
  const plain = await stack.newPage({ javaScriptEnabled: false });
  await plain.goto(`${stack.url}/dev/outbox`);
  await plain.getByRole('link', { name: 'Refresh' }).click();
  await plain.getByText(code, { exact: true }).first().waitFor();
  assert.equal(await plain.getByText('New messages appear here by themselves').isVisible(), false);
});

test('authenticator app: "Open in authenticator app", and keys and numbers never wrap inside', async (t) => {
  const user = newUser('totp-wrap');
  const page = await toEnrol(user, { viewport: { width: 360, height: 740 }, bypassCSP: true });
  await page.getByRole('link', { name: /^Authenticator app/ }).click();
  await expectHeading(page, 'Add authenticator app');
  const open = page.getByRole('link', { name: 'Open in authenticator app' });
  assert.match(await open.getAttribute('href'), /^otpauth:\/\/totp\/[^?]+\?secret=[A-Z2-7]+/);
  const groups = page.locator('code.secret .group');
  assert.ok((await groups.count()) >= 8);
  for (let i = 0; i < (await groups.count()); i++) {
    assert.equal(await lines(groups.nth(i)), 1, `group ${i} of the setup key wraps inside`);
    assert.match(await groups.nth(i).innerText(), /^[A-Z2-7]{4}$/);
  }
  await check(t, page, 'totp');

  // A masked phone number at 360 px: no space to break at, one line.
  const phoneUser = newUser('phone-wrap');
  await stack.addFactor(phoneUser.sub, { totp: true });
  const added = await stack.api('POST', `/api/v1/users/${phoneUser.sub}/factors`,
    { type: 'sms', phone: '+86 138 0013 8000' });
  await stack.api('POST', `/api/v1/users/${phoneUser.sub}/factors/${added.id}/verify`,
    { code: await newestCode('+8613800138000') });
  const ch = await stack.newPage({ viewport: { width: 360, height: 740 } });
  await ch.goto(stack.link({ sub: phoneUser.sub }).url);
  await expectHeading(ch, "Verify it's you");
  const other = ch.getByText('Try another way', { exact: true });
  if (await other.isVisible()) await other.click();
  const detail = ch.locator('.method-detail', { hasText: '+86' }).first();
  const masked = await detail.textContent();
  assert.match(masked, /^\+86\u00a0/, `the masked number ${JSON.stringify(masked)}`);
  assert.doesNotMatch(masked, / /, 'the masked number has a space it may break at');
  assert.equal(await lines(detail), 1);
});

test('no JavaScript: an early "Send again" says when; a dead code says to send a new one', async (t) => {
  stack.cli(['policy', 'set', '--app', stack.app.client_id, 'max_attempts=2']);
  try {
    const user = newUser('dead-code');
    const page = await toEnrol(user, { javaScriptEnabled: false, bypassCSP: true });
    await page.getByRole('link', { name: /^Email/ }).click();
    await page.getByLabel('Email address').fill(user.email);
    await page.getByRole('button', { name: 'Send code' }).click();
    await expectHeading(page, 'Confirm your email address');
    const first = await newestCode(user.email);
    await page.getByRole('button', { name: 'Send again' }).click();
    assert.match(await alertText(page),
      /^A new code can be sent in \d+ seconds\. The code we sent before still works\.$/);
    assert.doesNotMatch(await mainText(page), /Too many codes sent/);
    await checkNoScript(t, page, 'bind-resend-early');

    const wrong = first === '000000' ? '111111' : '000000';
    for (let i = 0; i < 2; i++) {
      await page.getByLabel('Code', { exact: true }).fill(wrong);
      await page.getByRole('button', { name: 'Confirm' }).click();
      await page.getByRole('alert').waitFor();
    }
    assert.match(await alertText(page), /it no longer works\. Send a new code\./);
    assert.doesNotMatch(await mainText(page), /Tries left: 0/);
    const sent = (await outbox()).length;
    await page.getByRole('button', { name: 'Send again' }).click();
    assert.match(await statusText(page), /We sent you a code\.|We sent a code/);
    const fresh = await newestCode(user.email, 1);
    assert.ok((await outbox()).length > sent);
    await page.getByLabel('Code', { exact: true }).fill(fresh);
    await page.getByRole('button', { name: 'Confirm' }).click();
    await expectHeading(page, 'Save your recovery codes');
    // "Method added." names the method.
    assert.equal(await statusText(page), `Email added for ${user.email[0]}•••@example.com.`);
  } finally {
    stack.cli(['policy', 'set', '--app', stack.app.client_id, 'max_attempts=inherit']);
  }
});

test('what was typed stays, with the error beside the field, in both languages', async (t) => {
  for (const js of [false, true]) {
    const user = newUser(`typed-${js}`);
    const page = await toEnrol(user, { javaScriptEnabled: js, bypassCSP: true });
    await page.getByRole('link', { name: /^Email/ }).click();
    await page.getByLabel('Email address').fill('someone@invalid');
    await page.getByRole('button', { name: 'Send code' }).click();
    const field = page.getByLabel('Email address');
    await page.getByText('Enter a valid email address.').waitFor();
    assert.equal(await field.inputValue(), 'someone@invalid');
    assert.equal(await field.getAttribute('aria-invalid'), 'true');
    const described = await field.getAttribute('aria-describedby');
    assert.equal((await page.locator(`#${described}`).innerText()).trim(), 'Enter a valid email address.');
    if (js) await check(t, page, 'bind-email-invalid');
  }

  const zhUser = newUser('typed-zh');
  const zh = await toEnrol(zhUser, { locale: 'zh-CN', ui_locales: 'zh-CN', bypassCSP: true });
  await zh.getByRole('link', { name: /^短信/ }).click();
  await expectHeading(zh, '添加短信验证');
  await zh.getByLabel('国家或地区', { exact: true }).selectOption('de');
  await zh.getByLabel('手机号码').fill('12');
  await zh.getByRole('button', { name: '发送验证码' }).click();
  await zh.getByText('请输入有效的手机号码。').waitFor();
  assert.equal(await zh.getByLabel('手机号码').inputValue(), '12');
  assert.equal(await zh.getByLabel('国家或地区', { exact: true }).inputValue(), 'de');
  await check(t, zh, 'bind-sms-invalid-zh');
});

test('the country picker starts from the browser\'s region and can be searched', async (t) => {
  for (const [locale, iso] of [['de-DE', 'de'], ['en-GB', 'gb'], ['zh-CN', 'cn'], ['fr-CA', 'ca']]) {
    const page = await toEnrol(newUser(`cc-${iso}`), { locale });
    await page.goto(`${stack.url}/account/add/sms`);
    const select = page.locator('select#country');
    assert.equal(await select.inputValue(), iso, `${locale} starts on ${await select.inputValue()}`);
    assert.ok((await select.locator('option').count()) >= 240);
  }
  const page = await toEnrol(newUser('cc-search'), { bypassCSP: true });
  await page.goto(`${stack.url}/account/add/sms`);
  const search = page.getByLabel('Search countries and regions');
  await search.fill('japan');
  assert.equal(await page.getByLabel('Country or region', { exact: true }).inputValue(), 'jp');
  await search.fill('+852');
  assert.equal(await page.getByLabel('Country or region', { exact: true }).inputValue(), 'hk');
  await search.fill('');
  assert.ok((await page.locator('select#country option').count()) >= 240);
  await check(t, page, 'bind-sms');

  const zh = await toEnrol(newUser('cc-zh'), { locale: 'zh-CN', ui_locales: 'zh-CN' });
  await zh.goto(`${stack.url}/account/add/sms`);
  await zh.getByLabel('搜索国家或地区').fill('日本');
  assert.equal(await zh.locator('select#country').inputValue(), 'jp');
  await zh.getByLabel('搜索国家或地区').fill('germany'); // English names work on Chinese pages
  assert.equal(await zh.locator('select#country').inputValue(), 'de');

  // Without JavaScript: no search box, the whole list.
  const plain = await toEnrol(newUser('cc-plain'), { javaScriptEnabled: false });
  await plain.goto(`${stack.url}/account/add/sms`);
  assert.equal(await plain.getByLabel('Search countries and regions').count(), 0);
  assert.ok((await plain.locator('select#country option').count()) >= 240);
});

test('one name and one order per method; the recovery-codes file says whose and when', async () => {
  const user = newUser('names');
  const page = await toEnrol(user);
  const offer = await page.locator('main ul.methods .method-name').allInnerTexts();
  assert.deepEqual(offer, ['Authenticator app', 'Text message', 'Email']);
  await page.getByRole('link', { name: /^Email/ }).click();
  await page.getByLabel('Email address').fill(user.email);
  await page.getByRole('button', { name: 'Send code' }).click();
  await page.getByLabel('Code', { exact: true }).fill(await newestCode(user.email));
  await page.getByRole('button', { name: 'Confirm' }).click();
  await expectHeading(page, 'Save your recovery codes');
  const download = page.getByRole('button', { name: 'Download .txt' });
  await download.waitFor({ state: 'visible' });
  const [file] = await Promise.all([page.waitForEvent('download'), download.click()]);
  const slug = user.sub.toLowerCase().replace(/[^a-z0-9]+/g, '-');
  assert.equal(file.suggestedFilename(), `otpgate-recovery-codes-${slug}.txt`);
  const text = fs.readFileSync(await file.path(), 'utf8');
  const today = new Date().toISOString().slice(0, 10);
  assert.match(text, new RegExp(`^otpgate recovery codes\\. Each code works once\\.\\nAccount: ${user.sub}\\n` +
    `Made on ${today} \\(UTC\\)\\n\\n`));
  await page.getByRole('button', { name: 'I have saved them' }).click();
  const back = await stack.backAtApp(page, { state: page.flowState, sub: user.sub });
  assert.equal(back.claims.mfa, true);

  const acc = await stack.newPage();
  await acc.goto(stack.link({ sub: user.sub, purpose: 'manage' }).url);
  await expectHeading(acc, "Verify it's you");
  await acc.getByRole('button', { name: 'Send code' }).click();
  await acc.getByLabel('Code', { exact: true }).fill(await newestCode(user.email, 1));
  await acc.getByRole('button', { name: 'Verify' }).click();
  await expectHeading(acc, 'Two-step verification');
  const add = await acc.getByRole('region', { name: 'Add a method' }).locator('.method-name').allInnerTexts();
  assert.deepEqual(add, ['Authenticator app', 'Text message', 'Email']);
  const mine = await acc.locator('ul.factors .factor-name > span').first().innerText();
  assert.equal(mine, 'Email');
});

test('the brand colour reaches icon tiles, badges, the logo and dark mode', async (t) => {
  stack.cli(['brand', 'set', 'accent=#0a7f5a']);
  try {
    const user = newUser('brand');
    await stack.addFactor(user.sub, { totp: true });
    const page = await stack.newPage({ bypassCSP: true });
    await page.goto(stack.link({ sub: user.sub, purpose: 'manage' }).url);
    await expectHeading(page, "Verify it's you");
    const colours = () => page.evaluate(() => {
      const css = (sel, prop) => {
        const el = document.querySelector(sel);
        return el ? getComputedStyle(el)[prop] : null;
      };
      return {
        logo: css('.logo-outer', 'fill'),
        icon: css('.icon', 'backgroundColor'),
        button: css('main button[type=submit]', 'backgroundColor'),
        link: css('details.other-ways summary', 'color'),
      };
    });
    const light = await colours();
    assert.equal(light.logo, 'rgb(10, 127, 90)');
    assert.equal(light.button, 'rgb(10, 127, 90)');
    // the icon tile is the accent's tint, not the default blue one
    assert.notEqual(light.icon, 'rgb(234, 240, 250)');
    const [r, g, b] = light.icon.match(/\d+/g).map(Number);
    assert.ok(g > r && g > b, `the icon tile ${light.icon} is not green-tinted`);
    await page.emulateMedia({ colorScheme: 'dark' });
    const dark = await colours();
    assert.notEqual(dark.link, 'rgb(138, 184, 255)', 'dark mode keeps the default blue links');
    const [dr, dg, db] = dark.link.match(/\d+/g).map(Number);
    assert.ok(dg > dr && dg > db, `dark links ${dark.link} are not the brand's hue`);
    await page.emulateMedia({ colorScheme: 'light' });
    await check(t, page, 'challenge-branded');
  } finally {
    stack.cli(['brand', 'set', 'accent=']);
  }
});
