import { test, expect, seedTrace, seedExampleJob, hex, hydrated } from './fixtures';
import { JobPage } from './pages';

async function run(request: import('@playwright/test').APIRequestContext, name: string, tileMs: number) {
  const [root, a, b] = [hex(8), hex(8), hex(8)];
  return seedTrace(request, [
    { id: root, name: `job/${name}`, startMs: 0, endMs: 2000 },
    { id: a, parent: root, name: 'task/FetchTile', startMs: 10, endMs: 110 },
    { id: b, parent: root, name: 'task/ProcessTile', startMs: 200, endMs: 200 + tileMs },
  ]);
}

test('comparing with the previous run shows a slowed-down task as a regression', async ({ page, request }) => {
  const name = `compare-${Date.now()}`;
  await run(request, name, 100);
  // The second run starts later (seeds are timed from "now"), so it is the newer one.
  await new Promise((resolve) => setTimeout(resolve, 20));
  const second = await run(request, name, 900);
  const job = new JobPage(page);
  await job.open(second);
  await page.getByRole('link', { name: /Compare with the previous run/ }).click();
  await expect(page).toHaveURL(/\/compare\?a=.+&b=.+/);
  const slow = page.locator('.compare__row', { hasText: 'task/ProcessTile' });
  await expect(slow).toHaveAttribute('data-kind', 'regression');
  await expect(slow.locator('.compare__delta')).toContainText('+800 ms');
  const same = page.locator('.compare__row', { hasText: 'task/FetchTile' });
  await expect(same).toHaveAttribute('data-kind', 'same');
  await expect(page.getByText('1 regression(s)')).toBeVisible();
});

test('a compare link with one run says what is missing', async ({ page, request, consoleErrors }) => {
  const { traceId } = await seedExampleJob(request, `compare-one-${Date.now()}`);
  const response = await page.goto(`/compare?a=${traceId}`);
  expect(response?.status()).toBe(400);
  await hydrated(page);
  await expect(page.locator('.error-notice')).toContainText('compare needs two runs');
  await expect(page.locator('.error-notice')).toContainText('b is missing');
  // Chromium logs the document's own 400 status as a console error; that one is expected.
  const unexpected = consoleErrors.filter((e) => !/status of 400/.test(e));
  consoleErrors.length = 0;
  expect(unexpected).toEqual([]);
});
