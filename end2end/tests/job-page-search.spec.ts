import { test, expect, seedExampleJob, hydrated } from './fixtures';
import { JobPage } from './pages';

test('search filters the span tree, counts matches and lives in the URL', async ({ page, request }) => {
  const { traceId, spans } = await seedExampleJob(request, `search-${Date.now()}`);
  const job = new JobPage(page);
  await job.open(traceId);
  const search = page.getByRole('searchbox', { name: 'Filter spans' });

  // `/` jumps to the search from anywhere on the page.
  await page.locator('h1').first().click();
  await page.keyboard.press('/');
  await expect(search).toBeFocused();

  await search.fill('compute');
  await expect(job.row(spans.download)).toHaveCount(0);
  for (const id of [spans.job, spans.task, spans.compute]) {
    await expect(job.row(id)).toBeVisible(); // the match and the path to it
  }
  await expect(page.locator('.trace-view__count')).toHaveText('1 of 4 spans match');
  await expect(page).toHaveURL(/[?&]q=compute/);

  await search.fill('scene_id=S2A_001');
  await expect(job.row(spans.download)).toBeVisible();
  await expect(job.row(spans.compute)).toHaveCount(0);

  // A bare value finds the span whose attribute holds it (the server searches the values),
  // case aside; a key is not a value.
  await search.fill('s2a_0');
  await expect(page.locator('.trace-view__count')).toHaveText('1 of 4 spans match');
  await expect(job.row(spans.download)).toBeVisible();
  await expect(job.row(spans.compute)).toHaveCount(0);
  // A link with such a search gets its answer once loaded (it stayed "searching…").
  await page.reload();
  await hydrated(page);
  await expect(page.locator('.trace-view__count')).toHaveText('1 of 4 spans match');
  await expect(job.row(spans.compute)).toHaveCount(0);
  await search.fill('scene_id');
  await expect(page.locator('.trace-view__count')).toHaveText('0 of 4 spans match');

  await search.fill('status:ok');
  await expect(page.locator('.trace-view__count')).toHaveText('1 of 4 spans match');
  await expect(job.row(spans.task)).toBeVisible();
  await expect(job.row(spans.download)).toHaveCount(0);

  // The filtered view survives a reload.
  await page.reload();
  await hydrated(page);
  await expect(page.getByRole('searchbox', { name: 'Filter spans' })).toHaveValue('status:ok');
  await expect(job.row(spans.download)).toHaveCount(0);

  await page.getByRole('searchbox', { name: 'Filter spans' }).press('Escape');
  await expect(job.row(spans.download)).toBeVisible();
  await expect(page).not.toHaveURL(/q=/);
});

test('spans shorter than a chosen duration are hidden, the choice in the URL', async ({ page, request }) => {
  const { traceId, spans } = await seedExampleJob(request, `short-${Date.now()}`);
  const job = new JobPage(page);
  await job.open(traceId);
  const min = page.getByRole('combobox', { name: 'Hide spans shorter than' });
  await min.selectOption('≥ 10 s');
  await expect(page).toHaveURL(/min=10000000000/);
  await expect(job.row(spans.job)).toBeVisible(); // the root stays
  await expect(job.row(spans.task)).toHaveCount(0);
  await expect(page.locator('.trace-view__count')).toHaveText('1 of 4 spans shown');
  await min.selectOption('≥ 1 s'); // task 2.8 s and download 1.35 s stay, compute 1.2 s too
  await expect(job.row(spans.download)).toBeVisible();
  await page.reload();
  await hydrated(page);
  await expect(page.getByRole('combobox', { name: 'Hide spans shorter than' })).toHaveValue('1000000000');
  await page.getByRole('combobox', { name: 'Hide spans shorter than' }).selectOption('all durations');
  await expect(page).not.toHaveURL(/min=/);
  await expect(page.locator('.trace-view__count')).toHaveText('4 of 4 spans shown');
});

test('span details show self time and copyable ids', async ({ page, request, context }) => {
  await context.grantPermissions(['clipboard-read', 'clipboard-write']);
  const { traceId, spans } = await seedExampleJob(request, `self-${Date.now()}`);
  const job = new JobPage(page);
  await job.open(traceId);
  await job.row(spans.task).click();
  // task 100–2900 ms, children 150–1500 and 1600–2800: 250 ms outside them.
  await expect(job.panel.locator('dt', { hasText: 'Self time' }).locator('+ dd')).toHaveText('250 ms');
  await job.panel.locator('dt', { hasText: 'Span id' }).locator('+ dd').getByRole('button', { name: 'Copy' }).click();
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(spans.task);
});

test('without JavaScript a name search still filters and counts what it can', async ({ browser, request }) => {
  const { traceId, spans } = await seedExampleJob(request, `nojs-search-${Date.now()}`);
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto(`/jobs/${traceId}?q=compute`);
  // Names match on the server's render; attribute values need the page's script.
  await expect(page.getByRole('searchbox', { name: 'Filter spans' })).toHaveValue('compute');
  await expect(page.locator('.trace-view__count')).toHaveText('1 of 4 spans match, searching attribute values…');
  await expect(page.locator(`.waterfall__row[data-span-id="${spans.compute}"]`)).toHaveCount(1);
  await expect(page.locator(`.waterfall__row[data-span-id="${spans.download}"]`)).toHaveCount(0);
  // A key=value link renders the page too (it was held at "Loading job…"), hiding nothing.
  await page.goto(`/jobs/${traceId}?q=scene_id%3DS2A_001`);
  await expect(page.locator('.trace-view__count')).toHaveText('searching attributes…');
  await expect(page.locator('.waterfall__row')).toHaveCount(4);
  await context.close();
});
