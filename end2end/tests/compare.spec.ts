import { test, expect, seedTrace, seedExampleJob, hex, hydrated, runTilesJob } from './fixtures';
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
  await expect(page.locator('.compare__summary')).toContainText('1 slower, 0 faster');
  // Only changes: the unchanged rows go, the regression stays.
  await page.getByRole('link', { name: 'Only changes' }).click();
  await expect(page).toHaveURL(/changes=1/);
  await expect(same).toBeHidden();
  await expect(slow).toBeVisible();
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

test('two runs of a fan-out compare task by task input, with the job-level delta', async ({ page, baseURL }) => {
  const name = `compare-tiles-${Date.now()}`;
  const first = runTilesJob(baseURL!, name);
  const second = runTilesJob(baseURL!, name);
  await page.goto(`/compare?a=${first}&b=${second}`);
  await hydrated(page);
  await expect(page.locator('.compare__job-delta')).toContainText(/The job: [+−]/);
  // Each tile meets the same tile of the other run, whichever order the runner took them in.
  for (const tile of ['T33U06', 'T33U07', 'T33U08', 'T33U09']) {
    // (T33U07 names itself: `Tile T33U07 (north) · T33U07`.)
    const label = page.locator('td:first-child', { hasText: new RegExp(`^task/DownloadTile\\s.*${tile}$`) });
    const row = page.locator('.compare__row', { has: label });
    await expect(row).toHaveCount(1);
    await expect(row.locator('.compare__delta')).not.toHaveText(/new in B|missing in B/);
  }
  await expect(page.locator('.compare__row', { hasText: 'task/DownloadTile T33U09' }).locator('.compare__failed').first()).toHaveText('failed');
  await expect(page.locator('.compare__row[data-kind="added"], .compare__row[data-kind="missing"]')).toHaveCount(0);
});
