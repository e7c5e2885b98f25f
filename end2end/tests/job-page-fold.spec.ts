import { test, expect, hex, seedTrace, hydrated } from './fixtures';
import { JobPage } from './pages';

/** A task fanning out 12 tiles (2 failed) and a merge, each tile with an attribute and a log line. */
async function seedFanOut(request: Parameters<typeof seedTrace>[0]) {
  const [job, task, merge] = [hex(8), hex(8), hex(8)];
  const tiles = Array.from({ length: 12 }, () => hex(8));
  const traceId = await seedTrace(
    request,
    [
      { id: job, name: `job/fold-${Date.now()}`, startMs: 0, endMs: 5000 },
      { id: task, parent: job, name: 'task/FanOut', startMs: 10, endMs: 4900, status: 1 },
      ...tiles.map((id, n) => ({
        id,
        parent: task,
        name: 'ProcessTile',
        startMs: 100 + n * 200,
        endMs: 300 + n * 200 + n * 10,
        status: (n === 3 || n === 7 ? 2 : 1) as 1 | 2,
        attributes: { tile: `tile-${n}`, secret_detail: `detail-of-${n}` },
      })),
      { id: merge, parent: task, name: 'Merge', startMs: 4000, endMs: 4800, status: 1 },
    ],
    tiles.map((spanId, n) => ({ spanId, atMs: 150 + n * 200, body: `tile ${n} done` })),
  );
  return { traceId, job, task, merge, tiles };
}

test('runs of same-name siblings fold into one row with count, median and failures; unfolding is in the URL', async ({ page, request }) => {
  const { traceId, merge, tiles } = await seedFanOut(request);
  const job = new JobPage(page);
  await job.open(traceId);
  await expect(page.locator('.waterfall__row')).toHaveCount(15);

  await page.getByRole('button', { name: 'Fold repeats' }).click();
  await expect(page).toHaveURL(/[?&]fold=1/);
  const fold = page.locator('.waterfall__row--fold');
  await expect(fold).toHaveCount(1);
  await expect(fold).toHaveAttribute('data-fold-count', '12');
  await expect(fold.locator('.waterfall__name')).toHaveText('12 × ProcessTile');
  // Durations 200 ms + n·10 ms, n = 0..11: the lower middle is n = 5.
  await expect(fold.locator('.waterfall__fold-facts')).toHaveText('p50 250 ms, 2 failed');
  // 2 of 12 failed: the bar is not red, the two failures are marked where they ran.
  await expect(fold.locator('.waterfall__bar')).toHaveClass(/waterfall__bar--ok/);
  await expect(fold.locator('.waterfall__fold-failure')).toHaveCount(2);
  await expect(page.locator('.waterfall__row')).toHaveCount(4);
  await expect(job.row(merge)).toBeVisible();

  // A fresh page with the link folds the same way.
  await page.reload();
  await hydrated(page);
  await expect(page.locator('.waterfall__row--fold')).toHaveCount(1);

  await page.locator('.waterfall__row--fold').click();
  await expect(page).toHaveURL(new RegExp(`[?&]unfold=${tiles[0]}`));
  await expect(page.locator('.waterfall__row--fold')).toHaveCount(0);
  await expect(page.locator('.waterfall__row')).toHaveCount(15);
  await page.goBack();
  await expect(page.locator('.waterfall__row--fold')).toHaveCount(1);

  // A selected span is never hidden inside a fold: a link to one of the tiles shows its row.
  await page.goto(`/jobs/${traceId}?fold=1&span=${tiles[6]}`);
  await expect(job.row(tiles[6])).toHaveAttribute('aria-selected', 'true');
  await expect(page.locator('.waterfall__row--fold')).toHaveCount(0);
});

test('the page ships span skeletons; attributes and log lines load for the selected span', async ({ page, request }) => {
  const { traceId, tiles } = await seedFanOut(request);
  const html = await (await request.get(`/jobs/${traceId}`)).text();
  expect(html).toContain('ProcessTile');
  expect(html, 'attributes stay on the server until asked for').not.toContain('detail-of-4');
  expect(html, 'log bodies too').not.toContain('tile 4 done');

  const job = new JobPage(page);
  await job.open(traceId);
  await job.row(tiles[4]).click();
  await expect(job.panel.getByRole('cell', { name: 'detail-of-4' })).toBeVisible();
  await expect(job.panel.locator('.log-list__body')).toHaveText(['tile 4 done']);

  // Searching by an attribute asks the server, which answers with the matching span ids.
  await page.getByRole('searchbox', { name: 'Filter spans' }).fill('secret_detail=detail-of-7');
  await expect(page.locator('.trace-view__count')).toHaveText('1 of 15 spans match');
  await expect(job.row(tiles[7])).toBeVisible();
  await expect(job.row(tiles[6])).toHaveCount(0);
});

test('same-name siblings fold even when they interleave with others', async ({ page, request }) => {
  const [job, task] = [hex(8), hex(8)];
  const spans = Array.from({ length: 12 }, (_, n) => ({
    id: hex(8),
    parent: task,
    name: n % 2 === 0 ? 'ProcessTile' : 'UploadTile',
    startMs: 100 + n * 100,
    endMs: 150 + n * 100,
  }));
  const traceId = await seedTrace(request, [
    { id: job, name: `job/interleaved-${Date.now()}`, startMs: 0, endMs: 2000 },
    { id: task, parent: job, name: 'task/FanOut', startMs: 10, endMs: 1900 },
    ...spans,
  ]);
  const pageObject = new JobPage(page);
  await pageObject.open(`${traceId}?fold=1`);
  const folds = page.locator('.waterfall__row--fold');
  await expect(folds).toHaveCount(2);
  await expect(folds.locator('.waterfall__name')).toHaveText(['6 × ProcessTile', '6 × UploadTile']);
  await expect(page.locator('.waterfall__row')).toHaveCount(4);
});
