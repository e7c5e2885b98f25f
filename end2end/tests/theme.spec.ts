import { test, expect } from './fixtures';

const background = (page: import('@playwright/test').Page) =>
  page.evaluate(() => getComputedStyle(document.body).backgroundColor);

test('dark mode follows the system, and the toggle overrides it across reloads', async ({ page }) => {
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.goto('/');
  await page.locator('body[data-hydrated]').waitFor();
  expect(await background(page)).toBe('rgb(18, 21, 28)');
  const toggle = page.getByRole('button', { name: 'Colour scheme' });
  await expect(toggle).toHaveText('Theme: system');
  await toggle.click(); // dark
  await toggle.click(); // light
  await expect(toggle).toHaveText('Theme: light');
  expect(await background(page)).toBe('rgb(247, 248, 250)');
  await page.reload();
  await page.locator('body[data-hydrated]').waitFor();
  expect(await background(page)).toBe('rgb(247, 248, 250)');
  await expect(page.getByRole('button', { name: 'Colour scheme' })).toHaveText('Theme: light');
  await page.getByRole('button', { name: 'Colour scheme' }).click(); // back to the system's
  expect(await background(page)).toBe('rgb(18, 21, 28)');
});

test('times switch between UTC, the browser\'s zone and "ago", everywhere at once and across reloads', async ({ browser, request }) => {
  const { seedExampleJob, hydrated } = await import('./fixtures');
  const name = `times-${Date.now()}`;
  const { traceId } = await seedExampleJob(request, name);
  const context = await browser.newContext({ timezoneId: 'Asia/Kolkata' });
  const page = await context.newPage();
  await page.goto(`/?name=${name}`);
  await hydrated(page);
  const cell = page.locator('.job-table__row .job-table__time');
  const utc = (await cell.textContent())!;
  expect(utc).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} UTC$/);
  const toggle = page.getByRole('button', { name: 'How times are shown' });
  await expect(toggle).toHaveText('Times: UTC');
  await toggle.click();
  await expect(toggle).toHaveText('Times: local');
  // The same moment five and a half hours later on the wall clock, its offset named.
  const at = new Date(utc.replace(' UTC', 'Z').replace(' ', 'T'));
  const kolkata = new Date(at.getTime() + 330 * 60_000).toISOString().replace('T', ' ').replace('Z', ' +05:30');
  await expect(cell).toHaveText(kolkata);
  await toggle.click();
  await expect(toggle).toHaveText('Times: ago');
  // Seeded a minute ago (fixtures start traces 60 s back).
  await expect(cell).toHaveText(/^(1 min|\d+ s) ago$/);
  // The job page follows the same choice, after a reload.
  await page.goto(`/jobs/${traceId}`);
  await hydrated(page);
  await expect(page.getByRole('button', { name: 'How times are shown' })).toHaveText('Times: ago');
  await expect(page.locator('.job-header__fact', { hasText: 'Started' }).locator('dd')).toHaveText(/ ago$/);
  await page.getByRole('button', { name: 'How times are shown' }).click();
  await expect(page.locator('.job-header__fact', { hasText: 'Started' }).locator('dd')).toHaveText(/ UTC$/);
  await context.close();
});
