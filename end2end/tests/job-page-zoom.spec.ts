import { test, expect, hex, seedTrace, hydrated } from './fixtures';
import { JobPage } from './pages';

test('drag across the axis zooms into a time range; pan, reset and the link keep it', async ({ page, request }) => {
  const [root, early, late] = [hex(8), hex(8), hex(8)];
  const traceId = await seedTrace(request, [
    { id: root, name: `job/zoom-${Date.now()}`, startMs: 0, endMs: 10_000 },
    { id: early, parent: root, name: 'early', startMs: 100, endMs: 1_000 },
    { id: late, parent: root, name: 'late', startMs: 8_000, endMs: 9_000 },
  ]);
  const job = new JobPage(page);
  await job.open(traceId);
  const bar = (id: string) => job.row(id).locator('.waterfall__bar');
  const widthOf = async (id: string) => (await bar(id).boundingBox())!.width;
  const before = await widthOf(late);

  // Drag across the right fifth of the axis: 8 s – 10 s.
  const axis = page.locator('.waterfall__axis');
  const box = (await axis.boundingBox())!;
  await page.mouse.move(box.x + box.width * 0.79, box.y + box.height / 2);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.9, box.y + box.height / 2, { steps: 4 });
  await page.mouse.move(box.x + box.width * 0.99, box.y + box.height / 2, { steps: 4 });
  await page.mouse.up();
  await expect(page).toHaveURL(/zoom=\d+-\d+/);
  // The late span now fills about half the view; the early one is outside it.
  await expect.poll(() => widthOf(late)).toBeGreaterThan(before * 3);
  const track = (await job.row(early).locator('.waterfall__track').boundingBox())!;
  const earlyBar = (await bar(early).boundingBox())!;
  expect(earlyBar.x + earlyBar.width).toBeLessThanOrEqual(track.x + 1);
  await expect(page.locator('.time-axis__tick').first()).toContainText('s');

  // The link restores the zoom; pan moves the window; Reset shows everything again.
  const zoomed = page.url();
  await page.reload();
  await hydrated(page);
  await expect.poll(() => widthOf(late)).toBeGreaterThan(before * 3);
  await page.getByRole('button', { name: 'Pan left' }).click();
  await expect(page).not.toHaveURL(zoomed);
  await page.getByRole('button', { name: 'Reset zoom' }).click();
  await expect(page).not.toHaveURL(/zoom=/);
  await expect.poll(() => widthOf(late)).toBeLessThan(before * 1.5);

  // The minimap zooms too: drag across its first tenth.
  const minimap = (await page.locator('.minimap').boundingBox())!;
  await page.mouse.move(minimap.x + 2, minimap.y + 10);
  await page.mouse.down();
  await page.mouse.move(minimap.x + minimap.width * 0.11, minimap.y + 10, { steps: 4 });
  await page.mouse.up();
  await expect(page).toHaveURL(/zoom=\d+-\d+/);
  await expect.poll(() => widthOf(early)).toBeGreaterThan(before * 3);
});
