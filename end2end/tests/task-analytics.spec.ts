import { test, expect, hydrated, runTilesJob } from './fixtures';
import { JobPage } from './pages';

test('the tasks page counts runs per task and links a slow run to its span', async ({ page, baseURL }) => {
  runTilesJob(baseURL!, `analytics-${Date.now()}`);
  await page.goto('/');
  await hydrated(page);
  await page.getByRole('link', { name: 'Tasks', exact: true }).click();
  await expect(page).toHaveURL(/\/tasks$/);
  // The roll-up counts ended attempts every second; other journeys run tiles jobs too.
  const row = page.locator('.task-stats__row[data-task="DownloadTile"]');
  await expect
    .poll(async () => {
      await page.reload();
      return Number((await row.locator('td.num').first().textContent()) ?? 0);
    }, { timeout: 20_000 })
    .toBeGreaterThanOrEqual(4);
  // T33U09 fails on every attempt: the failure rate is red, the sparklines drawn.
  await expect(row.locator('.task-stats__failing')).toHaveCount(1);
  await expect(row.locator('svg.spark')).toHaveCount(2);

  // The window is in the URL.
  await page.getByRole('link', { name: '7 days' }).click();
  await expect(page).toHaveURL(/\/tasks\?days=7$/);
  await expect(row).toBeVisible();
  // The rows of the new window are in (the old ones stay while it loads, their links to 14 days).
  await expect(row.getByRole('link', { name: 'DownloadTile' })).toHaveAttribute('href', /days=7$/);

  await row.getByRole('link', { name: 'DownloadTile' }).click();
  await expect(page).toHaveURL(/\/tasks\/DownloadTile\?days=7$/);
  await expect(page.locator('h1')).toHaveText('DownloadTile');
  await expect(page.locator('.task-stats__version[data-version="v0.0"]')).toHaveCount(1);
  const slow = page.locator('.task-stats__slow');
  await expect(slow.first()).toBeVisible();

  // The slowest run's link opens its job with that attempt's span selected.
  const link = slow.first().locator('a');
  await expect(link).toHaveAttribute('href', /^\/jobs\/[0-9a-f-]{36}\?task=[0-9a-f-]{36}&attempt=\d+$/);
  await link.click();
  await expect(page).toHaveURL(/\/jobs\/[0-9a-f-]{36}\?task=[0-9a-f-]{36}&attempt=\d+$/);
  await hydrated(page);
  const job = new JobPage(page);
  await expect(job.panel).toContainText('task/DownloadTile');
});
