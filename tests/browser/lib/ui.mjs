// Small helpers that read a page as a person would: its heading, its
// messages, the recovery codes list.
import assert from 'node:assert/strict';

/** Waits for the page's h1 to read `name` (string: exact; RegExp); fails
 * with what the page shows instead. */
export async function expectHeading(page, name, timeout = 10000) {
  const h1 = page.getByRole('heading', { level: 1, name, exact: typeof name === 'string' });
  try {
    await h1.waitFor({ timeout });
  } catch {
    const actual = await page.getByRole('heading', { level: 1 }).allTextContents().catch(() => []);
    const alerts = await page.getByRole('alert').allTextContents().catch(() => []);
    assert.fail(`expected the heading ${name} at ${page.url()}, the page shows ${JSON.stringify(actual)}` +
      (alerts.length ? ` with the alert ${JSON.stringify(alerts)}` : ''));
  }
}

/** The text of the page's status message (role=status alert), or ''. */
export async function statusText(page) {
  const s = page.getByRole('status').filter({ hasText: /\S/ });
  return (await s.count()) ? (await s.first().innerText()).trim() : '';
}

/** The text of the page's error message (role=alert), or ''. */
export async function alertText(page) {
  const a = page.getByRole('alert');
  return (await a.count()) ? (await a.first().innerText()).trim() : '';
}

/** The recovery codes as listed on the page. */
export async function recoveryCodesOnPage(page) {
  const list = page.getByRole('list', { name: 'Your recovery codes' });
  await list.waitFor();
  return (await list.getByRole('listitem').allInnerTexts()).map((t) => t.trim());
}

/** The visible text of the page's main region. */
export async function mainText(page) {
  return (await page.getByRole('main').innerText()).replace(/\s+/g, ' ').trim();
}

/** Opens "Try another way" (a disclosure) unless the link `name` in it
 * already shows, and returns that link. */
export async function otherWay(page, name, label = 'Try another way') {
  const link = page.getByRole('link', { name });
  if (!(await link.isVisible())) await page.getByText(label, { exact: true }).click();
  await link.waitFor({ state: 'visible' });
  return link;
}
