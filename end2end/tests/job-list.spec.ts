import { test, expect, seedExampleJob, seedTrace, hex, hydrated } from './fixtures';
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

test('a filtered list lives in the URL: reload or share it and get the same list', async ({ page, request, browser }) => {
  const tag = `filter-${Date.now()}`;
  await seedExampleJob(request, `${tag}-keep`);
  await seedExampleJob(request, `other-${Date.now()}`);
  const list = new JobListPage(page);
  await list.open();
  await page.evaluate(() => ((window as unknown as { marker: number }).marker = 42));
  await list.nameFilter.fill(tag);
  await page.getByRole('button', { name: 'Apply' }).click();
  await expect(page).toHaveURL(new RegExp(`name=${tag}`));
  await expect(list.row(`${tag}-keep`)).toBeVisible();
  await expect(page.locator('.job-table__row')).toHaveCount(1);
  // Client-side navigation: no full reload.
  expect(await page.evaluate(() => (window as unknown as { marker?: number }).marker)).toBe(42);
  const url = page.url();
  await page.reload();
  await expect(page.locator('.job-table__row')).toHaveCount(1);
  await expect(list.nameFilter).toHaveValue(tag);
  const fresh = await browser.newContext();
  const other = await fresh.newPage();
  await other.goto(url);
  await expect(other.locator('.job-table__row')).toHaveCount(1);
  await fresh.close();
});

test('state chips count jobs and filter by state', async ({ page, request }) => {
  const tag = `chips-${Date.now()}`;
  await seedExampleJob(request, `${tag}-ok`);
  await seedTrace(request, [{ id: hex(8), name: `job/${tag}-failed`, startMs: 0, endMs: 500, status: 2 }]);
  const list = new JobListPage(page);
  await page.goto(`/?name=${tag}`);
  await expect(list.chip('ALL')).toContainText('2');
  await expect(list.chip('COMPLETED')).toContainText('1');
  await list.chip('COMPLETED').click();
  await expect(page).toHaveURL(/state=COMPLETED/);
  await expect(page.locator('.job-table__row')).toHaveCount(1);
  await expect(list.row(`${tag}-ok`)).toBeVisible();
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

test('the list refreshes itself while a job runs, without a reload', async ({ page, request }) => {
  const name = `live-${Date.now()}`;
  const service = `svc-${Date.now()}`;
  const root = hex(8);
  // The task span arrives first: the job is RUNNING until its root span comes.
  const traceId = await seedTrace(
    request,
    [{ id: hex(8), parent: root, name: 'task/Live', startMs: 10, endMs: 20 }],
    [],
    service,
  );
  const list = new JobListPage(page);
  await page.goto(`/?service=${service}`);
  await hydrated(page);
  await expect(page.locator('.job-table__row')).toHaveCount(1);
  await expect(page.locator('.job-table__row')).toContainText('RUNNING');
  await page.evaluate(() => ((window as unknown as { marker: number }).marker = 9));
  const base = BigInt(Date.now() - 60_000) * 1_000_000n;
  const response = await request.post('/v1/traces', {
    data: {
      resourceSpans: [{
        resource: { attributes: [{ key: 'service.name', value: { stringValue: service } }] },
        scopeSpans: [{ spans: [{
          traceId, spanId: root, name: `job/${name}`, kind: 1,
          startTimeUnixNano: base.toString(), endTimeUnixNano: (base + 30_000_000n).toString(), status: {},
        }] }],
      }],
    },
  });
  expect(response.status()).toBe(200);
  // Renamed by its root span and completed: the list picks it up by itself (every 5 s).
  await expect(list.row(name)).toContainText('COMPLETED', { timeout: 12_000 });
  expect(await page.evaluate(() => (window as unknown as { marker?: number }).marker)).toBe(9);
});

test('the top bar jumps to a job or trace id, and searches names otherwise', async ({ page, request }) => {
  const name = `go-to-${Date.now()}`;
  const { traceId } = await seedExampleJob(request, name);
  await page.goto('/');
  await hydrated(page);
  const go = page.getByRole('searchbox', { name: 'Go to a job or trace id, or search job names' });
  await go.fill(` ${traceId.toUpperCase()} `);
  await go.press('Enter');
  await expect(page).toHaveURL(new RegExp(`/jobs/${traceId}$`));
  await expect(page.getByRole('heading', { level: 1, name })).toBeVisible();
  await go.fill(name);
  await go.press('Enter');
  await expect(page).toHaveURL(new RegExp(`/\\?name=${name}$`));
  await expect(page.locator('.job-table__row')).toHaveCount(1);
});

test('the list shows each job id and sorts by its headers, keeping the filters', async ({ page, request }) => {
  const prefix = `sort-${Date.now()}`;
  const short = await seedExampleJob(request, `${prefix}-short`);
  await seedTrace(request, [{ id: hex(8), name: `job/${prefix}-long`, startMs: -50_000, endMs: 0 }]);
  await page.goto(`/?name=${prefix}`);
  await hydrated(page);
  const rows = page.locator('.job-table__row');
  await expect(rows).toHaveCount(2);
  // Newest first by default: the short job started last.
  await expect(rows.first()).toContainText(`${prefix}-short`);
  // A trace-only job's id is the UUID of its trace id's bytes: the same first 8 digits.
  await expect(rows.first().locator('.job-table__id')).toHaveAttribute('title', /^[0-9a-f-]{36}$/);
  await expect(rows.first().locator('.job-table__id code')).toHaveText(short.traceId.slice(0, 8));
  await page.getByRole('link', { name: 'Duration' }).click();
  await expect(page).toHaveURL(new RegExp(`name=${prefix}.*sort=longest`));
  await expect(rows.first()).toContainText(`${prefix}-long`);
  await expect(page.getByRole('columnheader', { name: 'Duration ↓' })).toHaveAttribute('aria-sort', 'descending');
  await page.getByRole('link', { name: 'Started' }).click();
  await expect(page).not.toHaveURL(/sort=/);
  await expect(rows.first()).toContainText(`${prefix}-short`);
});

test('the site files are revalidated, so an upgrade never runs an old bundle', async ({ request }) => {
  for (const file of ['/pkg/jobtrace.css', '/pkg/jobtrace.js', '/pkg/jobtrace.wasm']) {
    const first = await request.get(file);
    expect(first.status(), file).toBe(200);
    expect(first.headers()['cache-control'], file).toBe('no-cache');
    const modified = first.headers()['last-modified'];
    expect(modified, `${file} has a validator`).toBeTruthy();
    const again = await request.get(file, { headers: { 'If-Modified-Since': modified } });
    expect(again.status(), file).toBe(304);
  }
});

test('Apply puts only the filled fields in the URL', async ({ page, request }) => {
  const tag = `apply-${Date.now()}`;
  await seedTrace(request, [{ id: hex(8), name: `job/${tag}-failed`, startMs: 0, endMs: 500, status: 2 }]);
  const list = new JobListPage(page);
  await list.open();
  await list.nameFilter.fill(tag);
  await page.getByRole('combobox', { name: 'State' }).selectOption('FAILED');
  await page.getByRole('button', { name: 'Apply' }).click();
  await expect(page).toHaveURL(new RegExp(`/\\?name=${tag}&state=FAILED$`));
  await expect(page.locator('.job-table__row')).toHaveCount(1);
  // Emptied again: the bare list, not `/?name=&state=&…`.
  await list.nameFilter.fill('');
  await page.getByRole('combobox', { name: 'State' }).selectOption('');
  await page.getByRole('button', { name: 'Apply' }).click();
  await expect(page).toHaveURL(/\/$/);
});

test('without JavaScript the filter fields show the filters the list applies', async ({ browser, request }) => {
  const tag = `nojs-filters-${Date.now()}`;
  await seedTrace(request, [{ id: hex(8), name: `job/${tag}`, startMs: 0, endMs: 500, status: 2 }]);
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto(`/?name=${tag}&state=FAILED&errors=yes&sort=longest&range=24h&min_duration=0.1`);
  await expect(page.locator('.job-table__row')).toHaveCount(1);
  await expect(page.getByRole('searchbox', { name: 'Name contains' })).toHaveValue(tag);
  // It said "Any state" next to the active FAILED chip.
  await expect(page.getByRole('combobox', { name: 'State' })).toHaveValue('FAILED');
  await expect(new JobListPage(page).chip('FAILED')).toHaveClass(/state-chip--active/);
  await expect(page.getByRole('combobox', { name: 'Errors' })).toHaveValue('yes');
  await expect(page.getByRole('combobox', { name: 'Order' })).toHaveValue('longest');
  await expect(page.getByRole('combobox', { name: 'Started within' })).toHaveValue('24h');
  await expect(page.getByRole('spinbutton', { name: 'Minimum duration in seconds' })).toHaveValue('0.1');
  await context.close();
});

test('the duration scatter puts each listed job at its start and duration, a link to it', async ({ page, request }) => {
  const prefix = `scatter-${Date.now()}`;
  await seedTrace(request, [{ id: hex(8), name: `job/${prefix}-quick`, startMs: -30_000, endMs: -29_500 }]);
  const slow = await seedTrace(request, [{ id: hex(8), name: `job/${prefix}-slow`, startMs: -20_000, endMs: 20_000 }]);
  await seedTrace(request, [{ id: hex(8), name: `job/${prefix}-failed`, startMs: -10_000, endMs: -8_000, status: 2 }]);
  await page.goto(`/?name=${prefix}`);
  await hydrated(page);
  const dots = page.locator('.job-scatter__dot');
  await expect(dots).toHaveCount(3);
  const box = async (name: string) => (await page.locator(`.job-scatter__dot[aria-label^="${prefix}-${name} ·"]`).boundingBox())!;
  const [quick, long, failed] = [await box('quick'), await box('slow'), await box('failed')];
  // Across by start (quick, slow, failed started in that order); up by duration (slow highest).
  expect(quick.x).toBeLessThan(long.x);
  expect(long.x).toBeLessThan(failed.x);
  expect(long.y).toBeLessThan(failed.y);
  expect(failed.y).toBeLessThan(quick.y);
  await expect(page.locator('.job-scatter__dot--failed')).toHaveCount(1);
  await expect(page.locator('.job-scatter__max')).toHaveText('40.0 s');
  await page.getByRole('link', { name: new RegExp(`^${prefix}-slow · COMPLETED · 40.0 s`) }).click();
  await expect(page).toHaveURL(new RegExp(`/jobs/`));
  await expect(page.getByText(slow)).toBeVisible();
});
