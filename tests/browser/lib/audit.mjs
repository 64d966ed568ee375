// axe-core on a page at 360 px and 1280 px, with a full-page screenshot of
// each under tests/out/screenshots/NAME-WIDTH.png. The page's context must
// be made with bypassCSP: true (axe is injected as a script; the pages'
// Content-Security-Policy rightly forbids that).
//
// OTPGATE_DOCS_SCREENSHOTS=1 also writes viewport screenshots of the pages
// listed in DOCS_PAGES to docs/screenshots/ (the README's pictures):
//   OTPGATE_DOCS_SCREENSHOTS=1 node --test tests/browser/a11y.test.mjs \
//     tests/browser/wayfinding.test.mjs
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

import { SCREENSHOT_DIR, SOURCE_DIR } from './harness.mjs';

const require = createRequire(import.meta.url);
export const AXE_PATH = require.resolve('axe-core/axe.min.js');
export const WIDTHS = [360, 1280];
const HEIGHT = { 360: 740, 1280: 800 };
// page name -> docs/screenshots/ file name (without -WIDTH.png)
export const DOCS_PAGES = new Map([['challenge-email', 'challenge'], ['account', 'account'],
  ['recovery-codes', 'recovery-codes'], ['totp', 'totp'], ['passkey-add', 'passkey-add'],
  ['challenge-passkey', 'challenge-passkey'], ['account-passkey', 'account-passkey'],
  ['bind-sms', 'bind-phone'], ['home', 'home'], ['outbox', 'dev-outbox'], ['not-found', 'not-found']]);

fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });

/** Runs axe at each width (and once more at 1280 px in dark mode, which
 * the stylesheet supports); returns the violations as [{width, id, impact,
 * help, helpUrl, nodes: [{target, html, summary}]}]. */
export async function audit(page, name) {
  const found = [];
  const passes = [...WIDTHS.map((width) => ({ width, dark: false })), { width: 1280, dark: true }];
  for (const { width, dark } of passes) {
    await page.setViewportSize({ width, height: HEIGHT[width] });
    await page.emulateMedia({ colorScheme: dark ? 'dark' : 'light' });
    // A change of colour scheme starts CSS transitions: let them end, or
    // axe measures colours halfway.
    await page.evaluate(() => Promise.all(document.getAnimations().map((a) => a.finished.catch(() => {}))));
    if (!(await page.evaluate(() => typeof window.axe === 'object'))) {
      await page.addScriptTag({ path: AXE_PATH });
    }
    const result = await page.evaluate(async () => {
      // eslint-disable-next-line no-undef
      const r = await axe.run(document, { resultTypes: ['violations'] });
      return r.violations.map((v) => ({
        id: v.id,
        impact: v.impact,
        help: v.help,
        helpUrl: v.helpUrl,
        nodes: v.nodes.map((n) => ({ target: n.target.join(' '), html: n.html, summary: n.failureSummary })),
      }));
    });
    const label = dark ? `${width}-dark` : `${width}`;
    for (const v of result) found.push({ width: label, ...v });
    // SPEC §8: usable at 360 px wide, so nothing scrolls sideways.
    const overflow = await page.evaluate(() => {
      const w = document.documentElement.clientWidth;
      if (document.documentElement.scrollWidth <= w) return null;
      const wide = [...document.querySelectorAll('body *')].filter((el) => el.getBoundingClientRect().right > w + 1)
        .map((el) => el.outerHTML.replace(/\s+/g, ' ').slice(0, 120));
      return { scrollWidth: document.documentElement.scrollWidth, width: w, wide: wide.slice(0, 3) };
    });
    if (overflow) {
      found.push({ width: label, id: 'horizontal-scroll', impact: 'serious',
        help: `the page is ${overflow.scrollWidth} px wide in a ${overflow.width} px window`, helpUrl: 'SPEC §8',
        nodes: overflow.wide.map((html) => ({ target: 'sticks out', html, summary: '' })) });
    }
    await page.screenshot({ path: path.join(SCREENSHOT_DIR, `${name}-${label}.png`), fullPage: true });
    if (!dark && process.env.OTPGATE_DOCS_SCREENSHOTS === '1' && DOCS_PAGES.has(name)) {
      const dir = path.join(SOURCE_DIR, 'docs', 'screenshots');
      fs.mkdirSync(dir, { recursive: true });
      await page.screenshot({ path: path.join(dir, `${DOCS_PAGES.get(name)}-${width}.png`) });
    }
  }
  await page.emulateMedia({ colorScheme: 'light' });
  return found;
}

/** The violations as text a person can act on. */
export function formatViolations(name, url, violations) {
  const lines = [`axe-core found ${violations.length} violation(s) on ${name} (${url}):`];
  for (const v of violations) {
    lines.push(`  [${v.width}px] ${v.id} (${v.impact}): ${v.help}  <${v.helpUrl}>`);
    for (const n of v.nodes.slice(0, 5)) {
      lines.push(`      at ${n.target}`);
      lines.push(`         ${n.html.replace(/\s+/g, ' ').slice(0, 200)}`);
      if (n.summary) lines.push(`         ${n.summary.replace(/\n\s*/g, ' | ').slice(0, 300)}`);
    }
    if (v.nodes.length > 5) lines.push(`      … and ${v.nodes.length - 5} more`);
  }
  return lines.join('\n');
}
