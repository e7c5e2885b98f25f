import type { Locator, Page } from '@playwright/test';
import { hydrated } from './fixtures';

export class JobListPage {
  constructor(private readonly page: Page) {}

  async open(hydrate = true) {
    await this.page.goto('/');
    if (hydrate) await hydrated(this.page);
  }

  row(name: string): Locator {
    return this.page.locator('.job-table__row', { has: this.page.getByRole('link', { name, exact: true }) });
  }

  get nameFilter(): Locator {
    return this.page.getByRole('searchbox', { name: 'Name contains' });
  }

  chip(label: string): Locator {
    return this.page.getByRole('navigation', { name: 'Jobs by state' }).getByRole('link', { name: new RegExp(`^${label}`) });
  }
}

export class JobPage {
  constructor(private readonly page: Page) {}

  async open(id: string) {
    await this.page.goto(`/jobs/${id}`);
    await hydrated(this.page);
  }

  row(spanId: string): Locator {
    return this.page.locator(`.waterfall__row[data-span-id="${spanId}"]`);
  }

  rowByName(name: string): Locator {
    return this.page.locator('.waterfall__row', { has: this.page.locator('.waterfall__name', { hasText: name }) });
  }

  toggle(spanId: string): Locator {
    return this.row(spanId).getByRole('button', { name: 'Collapse or expand children' });
  }

  get panel(): Locator {
    return this.page.getByRole('complementary', { name: 'Span details' });
  }
}
