import { test, expect, seedExampleJob } from './fixtures';
import { JobListPage } from './pages';

test('the job list shows an ingested job and links to it', async ({ page, request }) => {
  const name = `list-job-${Date.now()}`;
  const { traceId } = await seedExampleJob(request, name);
  const list = new JobListPage(page);
  await list.open();
  const row = list.row(name);
  await expect(row).toBeVisible();
  await expect(row).toContainText('COMPLETED');
  await expect(row.locator('.job-table__spans')).toHaveText('4');
  await row.getByRole('link', { name }).click();
  await expect(page).toHaveURL(/\/jobs\//);
  await expect(page.getByRole('heading', { level: 1, name })).toBeVisible();
  await expect(page.getByText(traceId)).toBeVisible();
});

test('filtering the list happens in the browser without a reload', async ({ page, request }) => {
  const keep = `keep-${Date.now()}`;
  const drop = `drop-${Date.now()}`;
  await seedExampleJob(request, keep);
  await seedExampleJob(request, drop);
  const list = new JobListPage(page);
  await list.open();
  await page.evaluate(() => ((window as unknown as { marker: number }).marker = 42));
  await list.filter.fill('keep-');
  await expect(list.row(drop)).toBeHidden();
  await expect(list.row(keep)).toBeVisible();
  expect(await page.evaluate(() => (window as unknown as { marker?: number }).marker)).toBe(42);
});

test('without JavaScript the server-rendered list still shows jobs', async ({ browser, request }) => {
  const name = `nojs-${Date.now()}`;
  await seedExampleJob(request, name);
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await new JobListPage(page).open(false);
  await expect(page.getByRole('link', { name, exact: true })).toBeVisible();
  await page.getByRole('link', { name, exact: true }).click();
  await expect(page.getByText('download-scene')).toBeVisible();
  await context.close();
});
