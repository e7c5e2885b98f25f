import { test, expect, hex, seedTrace } from './fixtures';
import { JobPage } from './pages';

test('a running job\'s page updates itself as spans arrive, and stops when the job is done', async ({ page, request }) => {
  const name = `live-${Date.now()}`;
  const [root, first, second] = [hex(8), hex(8), hex(8)];
  // No root span yet: the job is running.
  const traceId = await seedTrace(request, [
    { id: first, parent: root, name: 'task/First', startMs: 0, endMs: 400 },
  ]);
  const job = new JobPage(page);
  await job.open(traceId);
  await expect(job.row(first)).toBeVisible();
  await expect(page.locator('.job-header')).toContainText('RUNNING');
  await page.evaluate(() => ((window as unknown as { marker: number }).marker = 42));

  await seedTrace(request, [{ id: second, parent: root, name: 'task/Second', startMs: 500, endMs: 900 }], [], 'e2e-runner', traceId);
  // Pushed within about a second (the server checks every 500 ms); no reload.
  await expect(job.row(second)).toBeVisible({ timeout: 3000 });

  await seedTrace(request, [{ id: root, name: `job/${name}`, startMs: 0, endMs: 1000 }], [], 'e2e-runner', traceId);
  await expect(page.locator('.job-header')).toContainText('COMPLETED', { timeout: 3000 });
  await expect(job.rowByName(`job/${name}`)).toBeVisible();
  expect(await page.evaluate(() => (window as unknown as { marker?: number }).marker)).toBe(42);
});

test('the event stream sends the job, then its changes, then done', async ({ request }) => {
  const [root, task] = [hex(8), hex(8)];
  const traceId = await seedTrace(request, [{ id: task, parent: root, name: 'task/Only', startMs: 0, endMs: 10 }]);
  // Finish the job shortly after the stream opens.
  setTimeout(() => {
    void seedTrace(request, [{ id: root, name: `job/stream-${Date.now()}`, startMs: 0, endMs: 20 }], [], 'e2e-runner', traceId);
  }, 700);
  const response = await request.get(`/api/v1/jobs/${traceId}/events`, { timeout: 10_000 });
  expect(response.headers()['content-type']).toContain('text/event-stream');
  const text = await response.text();
  const events = [...text.matchAll(/^event: (\w+)$/gm)].map((m) => m[1]);
  expect(events[0]).toBe('job');
  expect(events.at(-1)).toBe('done');
  expect(text).toContain('"state":"RUNNING"');
  expect(text).toContain('"state":"COMPLETED"');
});

test('a running job\'s page stays where it was scrolled when new spans arrive, in the tree and in the lanes', async ({ page, request }) => {
  const root = hex(8);
  // 300 tasks on 300 runners, no root span yet: a running job taller than the boxes.
  const tasks = Array.from({ length: 300 }, (_, i) => ({
    id: hex(8), parent: root, name: `task/T${String(i).padStart(3, '0')}`, startMs: i * 10, endMs: i * 10 + 400,
    runner: `runner-${String(i).padStart(3, '0')}`,
  }));
  const traceId = await seedTrace(request, tasks);
  const job = new JobPage(page);
  await job.open(traceId);
  const spans = page.locator('.job-header__fact', { hasText: 'Spans' }).locator('dd');
  await expect(spans).toHaveText('300');
  // A span arrives; the page has reloaded once the header counts it.
  const arrive = async (count: number) => {
    await seedTrace(request, [{ id: hex(8), parent: root, name: `task/Late${count}`, startMs: 5000, endMs: 5100, runner: 'runner-late' }], [], 'e2e-runner', traceId);
    await expect(spans).toHaveText(String(count), { timeout: 5000 });
  };

  const rows = () => page.locator('.waterfall__scroll');
  await rows().evaluate((el) => { el.scrollTop = 4200; });
  await expect(job.rowByName('task/T150')).toBeVisible();
  await arrive(301);
  await expect(job.rowByName('task/T150')).toBeVisible();
  await expect(job.rowByName('task/T000')).toHaveCount(0);
  expect(await rows().evaluate((el) => el.scrollTop)).toBe(4200);

  await page.getByRole('button', { name: 'Runner lanes' }).click();
  const lanes = () => page.locator('.lanes__scroll');
  await lanes().evaluate((el) => { el.scrollTop = 6150; });
  await expect(page.locator('.lanes__lane[data-runner="runner-150"]')).toBeVisible();
  await arrive(302);
  await expect(page.locator('.lanes__lane[data-runner="runner-150"]')).toBeVisible();
  await expect(page.locator('.lanes__lane[data-runner="runner-000"]')).toHaveCount(0);
  expect(await lanes().evaluate((el) => el.scrollTop)).toBe(6150);
  // The new spans are there: the late runner's lane, at the end, has both.
  await lanes().evaluate((el) => { el.scrollTop = el.scrollHeight; });
  await expect(page.locator('.lanes__lane[data-runner="runner-late"]')).toContainText('2 tasks');
});
