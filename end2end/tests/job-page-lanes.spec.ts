import { test, expect, hex, seedTrace, hydrated } from './fixtures';
import { JobPage } from './pages';

test('runner lanes show each runner\'s tasks over time and how many ran at once', async ({ page, request }) => {
  const [job, a1, a2, b1, custom] = [hex(8), hex(8), hex(8), hex(8), hex(8)];
  const traceId = await seedTrace(request, [
    { id: job, name: `job/lanes-${Date.now()}`, startMs: 0, endMs: 2500 },
    { id: a1, parent: job, name: 'task/Tile', startMs: 0, endMs: 1000, runner: 'runner-a' },
    { id: a2, parent: job, name: 'task/Tile', startMs: 1200, endMs: 2000, runner: 'runner-a', status: 2 },
    { id: b1, parent: job, name: 'task/Tile', startMs: 500, endMs: 1500, runner: 'runner-b' },
    { id: custom, parent: a1, name: 'render', startMs: 100, endMs: 900, runner: 'runner-a' },
  ]);
  const jobPage = new JobPage(page);
  await jobPage.open(traceId);
  await page.getByRole('button', { name: 'Runner lanes' }).click();
  await expect(page).toHaveURL(/view=lanes/);
  const lanes = page.locator('.lanes__lane[data-runner]');
  await expect(lanes).toHaveCount(2);
  await expect(lanes.nth(0)).toHaveAttribute('data-runner', 'runner-a');
  await expect(lanes.nth(0).locator('.lanes__bar')).toHaveCount(2); // task spans only
  await expect(lanes.nth(1).locator('.lanes__bar')).toHaveCount(1);
  await expect(lanes.nth(0).locator('.lanes__bar').nth(1)).toHaveClass(/waterfall__bar--error/);
  await expect(page.getByRole('img', { name: 'concurrency, peak 2' })).toBeVisible();
  // The idle gap of runner-a (1000–1200 ms) is empty track between its two bars.
  const [first, second] = await lanes.nth(0).locator('.lanes__bar').evaluateAll((bars) =>
    bars.map((bar) => bar.getBoundingClientRect()),
  );
  expect(second.left).toBeGreaterThan(first.right);

  await lanes.nth(1).locator('.lanes__bar').click();
  await expect(jobPage.panel.getByText(b1)).toBeVisible();
  await page.reload();
  await hydrated(page);
  await expect(page.locator('.lanes__lane[data-runner]')).toHaveCount(2);
  await page.getByRole('button', { name: 'Waterfall' }).click();
  await expect(jobPage.row(b1)).toHaveAttribute('aria-selected', 'true');
});

test('tasks one runner ran at the same time stack in its lane instead of overlapping', async ({ page, request }) => {
  const [job, a1, a2, a3] = [hex(8), hex(8), hex(8), hex(8)];
  const traceId = await seedTrace(request, [
    { id: job, name: `job/slots-${Date.now()}`, startMs: 0, endMs: 3000 },
    { id: a1, parent: job, name: 'task/Tile', startMs: 0, endMs: 1000, runner: 'runner-a' },
    { id: a2, parent: job, name: 'task/Tile', startMs: 200, endMs: 1200, runner: 'runner-a' },
    { id: a3, parent: job, name: 'task/Tile', startMs: 1500, endMs: 2500, runner: 'runner-a' },
  ]);
  await page.goto(`/jobs/${traceId}?view=lanes`);
  const lane = page.locator('.lanes__lane[data-runner="runner-a"]');
  await expect(lane.locator('.lanes__track')).toHaveAttribute('data-slots', '2');
  const box = (id: string) => lane.locator(`.lanes__bar[data-span-id="${id}"]`).evaluate((bar) => bar.getBoundingClientRect().toJSON());
  const [one, two, three] = [await box(a1), await box(a2), await box(a3)];
  expect(two.top, 'the overlapping task gets a row of its own').toBeGreaterThanOrEqual(one.bottom);
  expect(three.top, 'a later task reuses the first row').toBe(one.top);
});

test('copy link gives the collapsed, selected view to a new browser', async ({ page, request, context, browser }) => {
  await context.grantPermissions(['clipboard-read', 'clipboard-write']);
  const job = hex(8);
  const [task, child] = [hex(8), hex(8)];
  const traceId = await seedTrace(request, [
    { id: job, name: `job/copy-${Date.now()}`, startMs: 0, endMs: 1000 },
    { id: task, parent: job, name: 'task/A', startMs: 10, endMs: 900 },
    { id: child, parent: task, name: 'inner', startMs: 20, endMs: 800 },
  ]);
  const jobPage = new JobPage(page);
  await jobPage.open(traceId);
  await jobPage.row(task).click();
  await jobPage.toggle(task).click();
  await expect(jobPage.row(child)).toHaveCount(0);
  await page.getByRole('button', { name: 'Copy link' }).click();
  await expect(page.getByRole('button', { name: 'Link copied' })).toBeVisible();
  const link = await page.evaluate(() => navigator.clipboard.readText());
  expect(link).toContain(`collapsed=${task}`);

  const fresh = await browser.newContext();
  const other = await fresh.newPage();
  await other.goto(link);
  const otherPage = new JobPage(other);
  await expect(otherPage.row(task)).toHaveAttribute('aria-selected', 'true');
  await expect(otherPage.row(child)).toHaveCount(0);
  await expect(otherPage.toggle(task)).toHaveAttribute('aria-expanded', 'false');
  await fresh.close();

  // Back undoes the collapse, then the selection.
  await page.goBack();
  await expect(jobPage.row(child)).toBeVisible();
});

test('thousands of tasks too short to tell apart draw as a few marks, and a click on one selects its failure', async ({ page, request }) => {
  // A 100 s job: 1/1,000 of the track is 100 ms, these tasks last 10 ms, 10 ms apart; a run
  // of them ends once it is 5/1,000 wide.
  const job = hex(8);
  const wide = hex(8);
  const tiny = (runner: string, count: number, fromMs: number) =>
    Array.from({ length: count }, (_, i) => ({
      id: hex(8), parent: job, name: 'task/Tile', startMs: fromMs + i * 20, endMs: fromMs + i * 20 + 10, runner,
    }));
  const a = tiny('runner-a', 2000, 0);
  const b = tiny('runner-b', 1000, 50_000);
  const failed = { ...a[500], status: 2 };
  a[500] = failed;
  const traceId = await seedTrace(request, [
    { id: job, name: `job/many-${Date.now()}`, startMs: 0, endMs: 100_000 },
    ...a,
    { id: wide, parent: job, name: 'task/Mosaic', startMs: 50_000, endMs: 90_000, runner: 'runner-a' },
    ...b,
  ]);
  await page.goto(`/jobs/${traceId}?view=lanes`);
  await hydrated(page);
  const laneA = page.locator('.lanes__lane[data-runner="runner-a"]');
  const laneB = page.locator('.lanes__lane[data-runner="runner-b"]');
  const tasksIn = (lane: typeof laneA) => lane.locator('.lanes__bar').evaluateAll((bars) =>
    bars.map((bar) => Number((bar as HTMLElement).dataset.tasks)));
  const [inA, inB] = [await tasksIn(laneA), await tasksIn(laneB)];
  // 40 s of tasks in runs of about 500 ms: about 80 marks, not 2,000 bars.
  expect(inA.length).toBeGreaterThan(40);
  expect(inA.length).toBeLessThan(150);
  expect(inA.reduce((n, t) => n + t, 0)).toBe(2001);
  expect(inB.reduce((n, t) => n + t, 0)).toBe(1000);
  expect(inB.length).toBeLessThan(80);
  await expect(laneA.locator(`.lanes__bar[data-span-id="${wide}"]`)).toHaveAttribute('data-tasks', '1');
  await expect(laneA.getByText('2001 tasks')).toBeVisible();
  // The failure is in one red run, where it happened (about 10 s into the job).
  const red = laneA.locator('.lanes__bar--group.waterfall__bar--error');
  await expect(red).toHaveCount(1);
  await expect(red).toHaveAttribute('title', /tasks in .*, 1 failed/);
  await expect(red).toHaveAttribute('data-span-id', failed.id);
  const [track, mark] = await Promise.all([
    laneA.locator('.lanes__track').evaluate((t) => t.getBoundingClientRect().toJSON()),
    red.evaluate((m) => m.getBoundingClientRect().toJSON()),
  ]);
  const at = (mark.left - track.left) / track.width;
  expect(at).toBeGreaterThan(0.09);
  expect(at).toBeLessThan(0.12);
  await red.click();
  await expect(new JobPage(page).panel.getByText(failed.id)).toBeVisible();
  await expect(red).toHaveClass(/lanes__bar--selected/);
});

test('a job run by hundreds of runners keeps only the lanes in view in the page, and scrolling brings the others', async ({ page, request }) => {
  const job = hex(8);
  const tasks = Array.from({ length: 400 }, (_, i) => ({
    id: hex(8), parent: job, name: 'task/Tile', startMs: i * 10, endMs: i * 10 + 500,
    runner: `runner-${String(i).padStart(3, '0')}`, status: i === 399 ? 2 : 0,
  }));
  const traceId = await seedTrace(request, [
    { id: job, name: `job/runners-${Date.now()}`, startMs: 0, endMs: 5000 },
    ...tasks,
  ]);
  await page.goto(`/jobs/${traceId}?view=lanes`);
  await hydrated(page);
  const lanes = page.locator('.lanes__lane[data-runner]');
  await expect(lanes.first()).toHaveAttribute('data-runner', 'runner-000');
  const shown = await lanes.count();
  expect(shown, 'the lanes near the box, not all 400').toBeLessThan(80);
  expect(shown).toBeGreaterThan(5);
  await expect(page.locator('.lanes__lane[data-runner="runner-399"]')).toHaveCount(0);
  // The box is as tall as all 400 lanes; scrolled to its end, the last runner is there.
  const box = page.locator('.lanes__scroll');
  const height = await box.evaluate((el) => el.scrollHeight);
  expect(height).toBeGreaterThan(400 * 40);
  await box.evaluate((el) => { el.scrollTop = el.scrollHeight; });
  const last = page.locator('.lanes__lane[data-runner="runner-399"]');
  await expect(last).toBeVisible();
  // At its place: inside the scrolled box, at its bottom.
  const [laneBox, boxBox] = [await last.boundingBox(), await box.boundingBox()];
  expect(laneBox!.y).toBeGreaterThanOrEqual(boxBox!.y);
  expect(laneBox!.y + laneBox!.height).toBeLessThanOrEqual(boxBox!.y + boxBox!.height + 1);
  expect(laneBox!.y + laneBox!.height).toBeGreaterThan(boxBox!.y + boxBox!.height - 60);
  await expect(page.locator('.lanes__lane[data-runner="runner-000"]')).toHaveCount(0);
  expect(await lanes.count()).toBeLessThan(80);
  await expect(last.locator('.lanes__bar')).toHaveClass(/waterfall__bar--error/);
  await last.locator('.lanes__bar').click();
  await expect(last.locator('.lanes__bar')).toHaveClass(/lanes__bar--selected/);
  await expect(new JobPage(page).panel.getByText(tasks[399].id)).toBeVisible();
});

test('a window made taller shows the rows and lanes that now fit, without a scroll first', async ({ page, request }) => {
  await page.setViewportSize({ width: 1280, height: 500 });
  const job = hex(8);
  const tasks = Array.from({ length: 400 }, (_, i) => ({
    id: hex(8), parent: job, name: 'task/Tile', startMs: i * 10, endMs: i * 10 + 500,
    runner: `runner-${String(i).padStart(3, '0')}`, status: 0,
  }));
  const traceId = await seedTrace(request, [
    { id: job, name: `job/resize-${Date.now()}`, startMs: 0, endMs: 5000 },
    ...tasks,
  ]);
  // Whether what is rendered in the box reaches down to the bottom of its visible part.
  const filled = (box: string, item: string) => page.locator(box).evaluate((el, item) => {
    const bottom = el.getBoundingClientRect().bottom;
    const items = [...el.querySelectorAll(item)].map((i) => i.getBoundingClientRect().bottom);
    return items.length > 0 && Math.max(...items) >= bottom - 1;
  }, item);
  for (const [view, box, item] of [
    ['', '.waterfall__scroll', '.waterfall__row'],
    ['?view=lanes', '.lanes__scroll', '.lanes__lane'],
  ]) {
    await page.setViewportSize({ width: 1280, height: 500 });
    await page.goto(`/jobs/${traceId}${view}`);
    await hydrated(page);
    await expect(page.locator(item).first()).toBeVisible();
    expect(await filled(box, item), `${box} at 500 px`).toBe(true);
    await page.setViewportSize({ width: 1280, height: 2400 });
    const height = await page.locator(box).evaluate((el) => el.clientHeight);
    expect(height, `${box} grew with the window`).toBeGreaterThan(1500);
    await expect.poll(() => filled(box, item), { message: `${box} at 2,400 px` }).toBe(true);
  }
});

test('a task named with markup shows in its lane as text, never as HTML', async ({ page, request }) => {
  const [job, task] = [hex(8), hex(8)];
  const name = 'task/<img src=x onerror="window.__xss=1">';
  const traceId = await seedTrace(request, [
    { id: job, name: `job/lanes-xss-${Date.now()}`, startMs: 0, endMs: 1000 },
    { id: task, parent: job, name, startMs: 0, endMs: 900, runner: 'runner-a' },
  ]);
  // Drawn by the server, then again in the browser after a switch of view.
  await page.goto(`/jobs/${traceId}?view=lanes`);
  await hydrated(page);
  const bar = page.locator(`.lanes__bar[data-span-id="${task}"]`);
  await expect(bar).toHaveAttribute('title', new RegExp(`^${name.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} · `));
  await page.getByRole('button', { name: 'Waterfall' }).click();
  await page.getByRole('button', { name: 'Runner lanes' }).click();
  await expect(bar).toHaveAttribute('title', /onerror="window.__xss=1"> · /);
  await expect(page.locator('img[src="x"]')).toHaveCount(0);
  expect(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBeUndefined();
});
