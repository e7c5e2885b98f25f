import { test, expect, seedExampleJob } from './fixtures';
import { JobPage } from './pages';

test('the job page shows the span tree and each span\'s logs', async ({ page, request }) => {
  const { traceId, spans } = await seedExampleJob(request, `tree-${Date.now()}`);
  const job = new JobPage(page);
  await job.open(traceId);
  for (const name of ['job/', 'task/ProcessScene', 'download-scene', 'compute-index']) {
    await expect(job.rowByName(name)).toBeVisible();
  }
  // Log lines are ticks on their span's bar, coloured by severity, the severity and time as the
  // title (the bodies load with the selected span).
  await expect(job.row(spans.download).locator('.waterfall__tick')).toHaveAttribute('title', /^INFO log line at \d{4}-/);
  await expect(job.row(spans.compute).locator('.waterfall__tick--warn')).toHaveCount(1);
  await expect(job.row(spans.task).locator('.waterfall__tick')).toHaveCount(0);
  // Children are indented under their parent.
  const taskBox = await job.row(spans.task).locator('.waterfall__name').boundingBox();
  const childBox = await job.row(spans.download).locator('.waterfall__name').boundingBox();
  expect(childBox!.x).toBeGreaterThan(taskBox!.x);
});

test('collapsing a span hides its children without a reload', async ({ page, request }) => {
  const { traceId, spans } = await seedExampleJob(request, `collapse-${Date.now()}`);
  const job = new JobPage(page);
  await job.open(traceId);
  await page.evaluate(() => ((window as unknown as { marker: number }).marker = 7));
  await job.toggle(spans.task).click();
  await expect(job.row(spans.download)).toHaveCount(0);
  await expect(job.toggle(spans.task)).toHaveAttribute('aria-expanded', 'false');
  await job.toggle(spans.task).click();
  await expect(job.row(spans.download)).toBeVisible();
  expect(await page.evaluate(() => (window as unknown as { marker?: number }).marker)).toBe(7);
});

test('selecting a span shows its details and logs', async ({ page, request }) => {
  const { traceId, spans } = await seedExampleJob(request, `details-${Date.now()}`);
  const job = new JobPage(page);
  await job.open(traceId);
  await job.row(spans.download).click();
  await expect(job.panel).toBeVisible();
  await expect(job.panel.getByRole('heading', { name: 'download-scene' })).toBeVisible();
  await expect(job.panel.getByRole('row', { name: /scene_id/ })).toContainText('S2A_001');
  await expect(job.panel.getByText(spans.download)).toBeVisible();
  await expect(job.panel.getByText('downloading scene S2A_001')).toBeVisible();
  // The parent id leads to the parent.
  await job.panel.getByRole('button', { name: 'Show the parent span' }).click();
  await expect(page).toHaveURL(new RegExp(`span=${spans.task}`));
  await expect(job.panel.getByRole('heading', { name: 'task/ProcessScene' })).toBeVisible();
});

test('the log panel shows child spans\' lines on request, each linking to its span', async ({ page, request }) => {
  const { traceId, spans } = await seedExampleJob(request, `sublogs-${Date.now()}`);
  const job = new JobPage(page);
  await job.open(traceId);
  await job.row(spans.task).click();
  await expect(job.panel.getByRole('heading', { name: 'Logs (0, 2 with children)' })).toBeVisible();
  await expect(job.panel.getByText('downloading scene S2A_001')).toHaveCount(0);
  await job.panel.getByRole('checkbox').check();
  await expect(page).toHaveURL(/logsub=1/);
  await expect(job.panel.getByText('downloading scene S2A_001')).toBeVisible();
  await job.panel.getByRole('combobox', { name: 'Minimum severity' }).selectOption('warn+');
  await expect(page).toHaveURL(/logs=13/);
  await expect(job.panel.getByText('downloading scene S2A_001')).toHaveCount(0);
  await expect(job.panel.getByText('index computed')).toBeVisible();
  // The line links to its span; the filters stay in the URL for the next span too.
  await job.panel.getByRole('button', { name: 'compute-index' }).click();
  await expect(job.row(spans.compute)).toHaveAttribute('aria-selected', 'true');
  await expect(job.panel.getByRole('heading', { name: 'compute-index' })).toBeVisible();
  await page.reload();
  await expect(job.panel.getByText('index computed')).toBeVisible();
  await expect(job.panel.getByRole('combobox', { name: 'Minimum severity' })).toHaveValue('13');
});

test('attribute values are shown as text, never as HTML', async ({ page, request }) => {
  const payload = '<img src=x onerror="window.__xss=1">';
  const { traceId, spans } = await seedExampleJob(request, `xss-${Date.now()}`, {
    attributes: { scene_id: payload },
  });
  const job = new JobPage(page);
  await job.open(traceId);
  await job.row(spans.download).click();
  await expect(job.panel.getByText(payload)).toBeVisible();
  await expect(page.locator('img[src="x"]')).toHaveCount(0);
  expect(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBeUndefined();
});

test('an unknown job id shows a 404 page', async ({ page, consoleErrors }) => {
  const response = await page.goto(`/jobs/${'ab'.repeat(16)}`);
  expect(response?.status()).toBe(404);
  await expect(page.getByRole('heading', { name: 'Not found' })).toBeVisible();
  // Chromium logs the document's own 404 status as a console error; that one is expected.
  const unexpected = consoleErrors.filter((e) => !/status of 404/.test(e));
  consoleErrors.splice(0, consoleErrors.length, ...unexpected);
});

test('the job page links to its spans and logs as files', async ({ page, request }) => {
  const { traceId } = await seedExampleJob(request, `download-${Date.now()}`);
  const job = new JobPage(page);
  await job.open(traceId);
  const parquet = page.locator('.job-header__downloads a', { hasText: 'parquet' }).first();
  const href = await parquet.getAttribute('href');
  expect(href).toMatch(/\/api\/v1\/jobs\/.+\/spans\?format=parquet$/);
  const response = await request.get(href!);
  expect(response.headers()['content-type']).toBe('application/vnd.apache.parquet');
  expect((await response.body()).subarray(0, 4).toString()).toBe('PAR1');
  const csv = await request.get(href!.replace('parquet', 'csv'));
  expect((await csv.text()).split('\n')[0]).toContain('start_time,end_time,trace_id,span_id');
});

test('Collapse all is one short URL word, and a span opened under it stays open in the link', async ({ page, request }) => {
  const { traceId, spans } = await seedExampleJob(request, `collapse-all-${Date.now()}`);
  const job = new JobPage(page);
  await job.open(traceId);
  await page.getByRole('button', { name: 'Collapse all' }).click();
  await expect(page).toHaveURL(/\?collapsed=all$/);
  await expect(job.row(spans.task)).toHaveCount(0);
  await job.toggle(spans.job).click();
  await expect(page).toHaveURL(new RegExp(`collapsed=all&open=${spans.job}$`));
  await expect(job.row(spans.task)).toBeVisible();
  await expect(job.row(spans.download)).toHaveCount(0);
  // The link restores it.
  await page.reload();
  await expect(job.row(spans.task)).toBeVisible();
  await expect(job.row(spans.download)).toHaveCount(0);
  await page.getByRole('button', { name: 'Expand all' }).click();
  await expect(page).not.toHaveURL(/collapsed|open=/);
  await expect(job.row(spans.download)).toBeVisible();
});

test('the span column can be dragged wider, keeps its width on reload, and resets', async ({ page, request }) => {
  const { traceId, spans } = await seedExampleJob(request, `resize-${Date.now()}`);
  const job = new JobPage(page);
  await job.open(traceId);
  const label = () => job.row(spans.download).locator('.waterfall__label').boundingBox().then((b) => b!.width);
  // The task selected first (the details panel narrows the waterfall): the arrow keys below
  // must not move or collapse it.
  await job.row(spans.task).click();
  await expect(page).toHaveURL(new RegExp(`span=${spans.task}`));
  const before = await label();
  const handle = page.getByRole('separator', { name: /Span column width/ });
  const at = (await handle.boundingBox())!;
  await page.mouse.move(at.x + at.width / 2, at.y + at.height / 2);
  await page.mouse.down();
  await page.mouse.move(at.x + 100, at.y + at.height / 2, { steps: 5 });
  await page.mouse.up();
  expect(Math.abs((await label()) - (before + 100))).toBeLessThan(12);
  // The arrow keys on the handle move it, not the tree: with the task selected, ← would
  // collapse it (its children gone) or move to its parent.
  const dragged = await label();
  await handle.focus();
  await page.keyboard.press('ArrowLeft');
  expect(Math.round(dragged - (await label()))).toBe(24);
  await expect(page).toHaveURL(new RegExp(`span=${spans.task}`));
  await expect(job.row(spans.download)).toBeVisible();
  const kept = await label();
  await page.reload();
  await page.locator('body[data-hydrated]').waitFor();
  expect(Math.abs((await label()) - kept)).toBeLessThan(2);
  await page.getByRole('separator', { name: /Span column width/ }).dblclick();
  expect(Math.abs((await label()) - before)).toBeLessThan(2);
});
