// Helpers the console's browser tests share (admin*.test.mjs): signing
// in, the console's navigation, reading a labelled table, and axe with
// the README's pictures (OTPGATE_DOCS_SCREENSHOTS=1 writes
// docs/screenshots/admin-NAME-WIDTH.png).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import { audit, formatViolations } from './audit.mjs';
import { SOURCE_DIR } from './harness.mjs';

export const PASSWORD = 'a long console passphrase';

/** The README's pictures of this page (docs/screenshots/admin-NAME-WIDTH.png,
 * viewport only) when OTPGATE_DOCS_SCREENSHOTS=1. */
export async function docsShot(page, name) {
  if (process.env.OTPGATE_DOCS_SCREENSHOTS !== '1') return;
  const dir = path.join(SOURCE_DIR, 'docs', 'screenshots');
  fs.mkdirSync(dir, { recursive: true });
  for (const width of [1280, 360]) {
    await page.setViewportSize({ width, height: width === 1280 ? 860 : 780 });
    await page.screenshot({ path: path.join(dir, `admin-${name}-${width}.png`) });
  }
  await page.setViewportSize({ width: 1280, height: 800 });
}

/** axe at every width, then the README's picture of this page when docs
 * names one. */
export async function check(t, page, name, docs) {
  await t.test(`axe: ${name}`, async () => {
    const violations = await audit(page, name);
    assert.equal(violations.length, 0, formatViolations(name, page.url(), violations));
  });
  if (docs) await docsShot(page, docs);
}

export async function signIn(page, { username = 'root', password = PASSWORD } = {}) {
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

/** The console's navigation link to name, clicked. */
export async function nav(page, name) {
  await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name, exact: true }).click();
}

/** The rows of the table region label as arrays of cell texts. */
export async function rowsOf(page, label) {
  const region = page.getByRole('region', { name: label, exact: true });
  await region.waitFor();
  return region.locator('tbody tr').evaluateAll((trs) =>
    trs.map((tr) => [...tr.children].map((c) => c.innerText.trim())));
}

