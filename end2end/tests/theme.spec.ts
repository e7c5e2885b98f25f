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
