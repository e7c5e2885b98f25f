import { test, expect, hydrated, runTilesJob } from './fixtures';
import { JobListPage, JobPage } from './pages';

test('the trace comes first; tasks and logs are tabs the URL keeps', async ({ page, baseURL }) => {
  const jobId = runTilesJob(baseURL!, `tabs-${Date.now()}`);
  const job = new JobPage(page);
  await job.open(jobId);
  const tabs = page.getByRole('tablist', { name: 'Job views' });
  await expect(tabs.getByRole('tab', { name: 'Trace' })).toHaveAttribute('aria-selected', 'true');
  await expect(tabs.getByRole('tab', { name: 'Tasks (6)' })).toBeVisible();
  // The job's progress indicator, as its tasks reported it: 3 of the 4 tiles done.
  const progress = page.getByRole('list', { name: 'Progress' });
  await expect(progress).toContainText('tiles');
  await expect(progress).toContainText('3/4');
  await expect(progress.locator('progress')).toHaveAttribute('aria-label', 'tiles: 75 %');
  // The trace is on the first screen, no task table above it: the tasks' rows are visible
  // without scrolling.
  await expect(page.locator('.task-table')).toHaveCount(0);
  const firstTask = (await job.rowByName('task/Survey').boundingBox())!;
  expect(firstTask.y + firstTask.height).toBeLessThan(page.viewportSize()!.height);

  // The client's root span is its submit call, milliseconds long; its row also draws the job.
  const root = job.rowByName('job/tabs-');
  const track = (await root.locator('.waterfall__track').boundingBox())!;
  const whole = (await root.locator('.waterfall__job').boundingBox())!;
  const submit = (await root.locator('.waterfall__bar').boundingBox())!;
  expect(whole.width).toBeGreaterThan(track.width * 0.8);
  expect(submit.width).toBeLessThan(whole.width);
  await expect(root.locator('.waterfall__job')).toHaveAttribute('title', /^the job: .+ from submission to its latest span/);

  // The axis starts at a plain 0 and its last label stays inside the axis.
  const ticks = page.locator('.waterfall__header .time-axis__tick');
  await expect(ticks.first()).toHaveText('0');
  const axis = (await page.locator('.waterfall__header .time-axis').boundingBox())!;
  const last = (await ticks.last().boundingBox())!;
  expect(last.x + last.width).toBeLessThanOrEqual(axis.x + axis.width + 1);

  await tabs.getByRole('tab', { name: /^Tasks/ }).click();
  await expect(page).toHaveURL(/tab=tasks/);
  await expect(page.locator('.task-table__row')).toHaveCount(6);
  await expect(page.locator('.waterfall')).toHaveCount(0);
  // A link restores the tab; Back returns to the trace.
  await page.reload();
  await expect(page.locator('.task-table__row')).toHaveCount(6);
  await page.goBack();
  await expect(page.locator('.waterfall')).toBeVisible();
});

test('fan-out tasks are told apart by their input, and searchable by it', async ({ page, baseURL }) => {
  const jobId = runTilesJob(baseURL!, `inputs-${Date.now()}`);
  const job = new JobPage(page);
  await job.open(jobId);
  // Each tile row shows its tile id (a task with one field sends just its value); the one that
  // named itself shows its display label too.
  const tags = page.locator('.waterfall__row .waterfall__tag');
  for (const tile of ['T33U06', 'T33U08', 'T33U09']) {
    await expect(tags.filter({ hasText: new RegExp(`^${tile}$`) })).toHaveCount(1);
  }
  await expect(tags.filter({ hasText: /^Tile T33U07 \(north\) · T33U07$/ })).toHaveCount(1);
  await expect(job.rowByName('task/Survey')).toContainText('region=Austria year=2024');
  // A bare value finds the task whose input holds it.
  await page.getByRole('searchbox', { name: 'Filter spans' }).fill('T33U08');
  await expect(page.locator('.trace-view__count')).toHaveText('1 of 6 spans match');
  await job.rowByName('task/DownloadTile').filter({ hasText: 'T33U08' }).click();
  await expect(job.panel.locator('.span-panel__task')).toHaveText('T33U08');
  // The task table shows the same.
  await page.getByRole('tab', { name: /^Tasks/ }).click();
  await expect(page.locator('.task-table__row', { hasText: 'T33U09' })).toContainText('FAILED');
  await expect(page.locator('.task-table__row', { hasText: 'Tile T33U07 (north)' }).locator('.task-table__summary')).toHaveText('T33U07');
  // Mosaic waited for the failed tile: it will not run unless the job is retried.
  await expect(page.locator('.task-table__row', { hasText: 'Mosaic' })).toContainText('QUEUED');
  await expect(page.locator('.task-table__row', { hasText: 'Mosaic' })).toContainText('not run: the job failed');
});

test('a failed job says what failed, links to it, and can be retried then canceled', async ({ page, baseURL }) => {
  const jobId = runTilesJob(baseURL!, `retry-${Date.now()}`);
  const job = new JobPage(page);
  await job.open(jobId);
  const banner = page.getByRole('alert');
  await expect(banner).toContainText('Failed: DownloadTile · T33U09');
  await expect(banner).toContainText('tile T33U09 is corrupt');
  await banner.getByRole('link', { name: 'Show its span →' }).click();
  await expect(page).toHaveURL(/span=[0-9a-f]{16}/);
  await expect(job.panel.locator('.span-panel__task')).toHaveText('T33U09');
  await expect(job.panel.getByText('tile T33U09 is corrupt').first()).toBeVisible();

  await page.getByRole('button', { name: 'Retry failed tasks' }).click();
  await expect(page.getByRole('status')).toHaveText('1 task queued again');
  // The page reloads the job: nobody runs it now, so it waits for a runner, and can be canceled.
  await expect(page.locator('.job-header .status-badge').first()).not.toHaveText('FAILED');
  await expect(page.getByRole('alert')).toHaveCount(0);
  await page.getByRole('button', { name: 'Cancel job' }).click();
  await expect(page.locator('.job-header .status-badge').first()).toHaveText('CANCELED');
  await expect(page.getByRole('button', { name: 'Retry failed tasks' })).toBeVisible();
});

test('a page elsewhere cannot make the browser retry or cancel a job', async ({ page, baseURL, request }) => {
  const jobId = runTilesJob(baseURL!, `csrf-${Date.now()}`);
  // What a cross-site form post or fetch carries: the browser's Origin and Sec-Fetch-Site.
  const refused = await request.post('/api/cancel_job', {
    form: { job_id: jobId },
    headers: { Origin: 'http://evil.example', 'Sec-Fetch-Site': 'cross-site' },
  });
  expect(refused.status()).toBeGreaterThanOrEqual(400);
  expect(await refused.text()).toContain('must come from the jobtrace dashboard');
  const job = new JobPage(page);
  await job.open(jobId);
  await expect(page.locator('.job-header .status-badge').first()).toHaveText('FAILED');
});

test('the Logs tab shows every line of the job, filtered by level, task and text, linked to spans', async ({ page, baseURL }) => {
  const jobId = runTilesJob(baseURL!, `logs-${Date.now()}`);
  const job = new JobPage(page);
  await job.open(jobId);
  await page.getByRole('tab', { name: /^Logs/ }).click();
  await expect(page).toHaveURL(/tab=logs/);
  const lines = page.locator('.job-logs .log-list__line');
  await expect(lines.filter({ hasText: /downloading tile T33U0\d/ })).toHaveCount(4);
  // Full width: a line is wider than half the page, its text on one line.
  const box = (await lines.first().boundingBox())!;
  expect(box.width).toBeGreaterThan(page.viewportSize()!.width / 2);
  expect(box.height).toBeLessThan(40);

  await page.getByRole('combobox', { name: 'Minimum severity' }).selectOption('warn+');
  await expect(page).toHaveURL(/lvl=13/);
  await expect(lines).toHaveCount(1);
  await expect(lines).toContainText('tile T33U08 is 80% cloud');
  await page.getByRole('combobox', { name: 'Minimum severity' }).selectOption('all');

  await page.getByRole('searchbox', { name: 'Search log text' }).fill('t33u06');
  await expect(lines).toHaveCount(1);
  await expect(lines).toContainText('downloading tile T33U06');
  await page.getByRole('searchbox', { name: 'Search log text' }).fill('');

  await page.getByRole('combobox', { name: 'Task' }).selectOption({ label: 'DownloadTile · T33U09' });
  await expect(lines).toHaveCount(1);
  await expect(lines).toContainText('downloading tile T33U09');
  // A line leads to its span in the trace.
  await lines.getByRole('link', { name: 'task/DownloadTile T33U09' }).click();
  await expect(page).not.toHaveURL(/tab=logs/);
  await expect(job.panel.locator('.span-panel__task')).toHaveText('T33U09');
});

test('the job list shows the progress of each job next to its name', async ({ page, baseURL }) => {
  const name = `list-progress-${Date.now()}`;
  runTilesJob(baseURL!, name);
  await page.goto(`/?name=${name}`);
  await hydrated(page);
  const row = new JobListPage(page).row(name);
  const progress = row.getByRole('list', { name: 'Progress' });
  await expect(progress).toContainText('tiles');
  await expect(progress).toContainText('3/4');
  await expect(progress.locator('progress')).toHaveAttribute('aria-label', 'tiles: 75 %');
});
