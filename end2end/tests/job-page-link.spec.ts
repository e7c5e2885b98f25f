import { test, expect, seedExampleJob, hydrated } from './fixtures';
import { JobPage } from './pages';

test('the selected span is in the link: reload, a new browser and Back/Forward restore it', async ({ page, request, browser }) => {
  const { traceId, spans } = await seedExampleJob(request, `link-${Date.now()}`);
  const job = new JobPage(page);
  await job.open(traceId);
  await job.row(spans.download).click();
  await expect(page).toHaveURL(new RegExp(`\\?span=${spans.download}$`));
  await expect(job.panel.getByRole('heading', { name: 'download-scene' })).toBeVisible();
  await job.row(spans.compute).click();
  await expect(page).toHaveURL(new RegExp(`\\?span=${spans.compute}$`));

  // Back and Forward step through the selections without reloading the page.
  await page.evaluate(() => ((window as unknown as { marker: number }).marker = 1));
  await page.goBack();
  await expect(job.panel.getByRole('heading', { name: 'download-scene' })).toBeVisible();
  await expect(job.row(spans.download)).toHaveAttribute('aria-selected', 'true');
  await page.goForward();
  await expect(job.panel.getByRole('heading', { name: 'compute-index' })).toBeVisible();
  expect(await page.evaluate(() => (window as unknown as { marker?: number }).marker)).toBe(1);

  // The link in a fresh browser context: same span selected, served that way by the server too.
  const link = page.url();
  const fresh = await browser.newContext();
  const other = await fresh.newPage();
  await other.goto(link);
  await hydrated(other);
  const otherJob = new JobPage(other);
  await expect(otherJob.row(spans.compute)).toHaveAttribute('aria-selected', 'true');
  await expect(otherJob.panel.getByRole('heading', { name: 'compute-index' })).toBeVisible();
  await fresh.close();
});

test('the span tree takes the keyboard: move, collapse, expand, clear', async ({ page, request }) => {
  const { traceId, spans } = await seedExampleJob(request, `keys-${Date.now()}`);
  const job = new JobPage(page);
  await job.open(traceId);
  const tree = page.getByRole('tree');
  await tree.focus();
  await expect(tree).toBeFocused();
  await page.keyboard.press('ArrowDown'); // the first row: the job span
  await expect(job.row(spans.job)).toHaveAttribute('aria-selected', 'true');
  await page.keyboard.press('j');
  await expect(job.row(spans.task)).toHaveAttribute('aria-selected', 'true');
  await expect(page).toHaveURL(new RegExp(`\\?span=${spans.task}$`));
  await page.keyboard.press('ArrowLeft'); // collapses the task
  await expect(job.row(spans.download)).toHaveCount(0);
  await page.keyboard.press('ArrowRight'); // expands it again
  await expect(job.row(spans.download)).toBeVisible();
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('ArrowDown');
  await expect(job.row(spans.compute)).toHaveAttribute('aria-selected', 'true');
  await page.keyboard.press('k');
  await expect(job.row(spans.download)).toHaveAttribute('aria-selected', 'true');
  await expect(job.panel.getByRole('heading', { name: 'download-scene' })).toBeVisible();
  await page.keyboard.press('ArrowLeft'); // a leaf: goes to its parent
  await expect(job.row(spans.task)).toHaveAttribute('aria-selected', 'true');
  await page.keyboard.press('Escape');
  await expect(job.panel).toHaveCount(0);
  await expect(page).not.toHaveURL(/span=/);
});

test('moving with the keyboard is one history step, not one per key', async ({ page, request }) => {
  const { traceId, spans } = await seedExampleJob(request, `keys-history-${Date.now()}`);
  const job = new JobPage(page);
  await job.open(traceId);
  const tree = page.getByRole('tree');
  await tree.focus();
  for (const key of ['ArrowDown', 'j', 'j', 'j', 'k']) await page.keyboard.press(key);
  await expect(job.row(spans.download)).toHaveAttribute('aria-selected', 'true');
  // One Back leaves the moves: no span selected, as when the page opened.
  await page.goBack();
  await expect(page).not.toHaveURL(/span=/);
  await expect(job.panel).toHaveCount(0);
});
