/**
 * A real headless Chromium (Debian's `chromium`) driven by playwright-core, with a fresh user-data directory
 * for each test. Without /usr/bin/chromium the dashboard tests are skipped on a developer's machine and fail
 * in CI (CI=true): `.ci/run` installs it.
 */
import { existsSync } from 'node:fs';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { tempDir } from './helpers.js';

export const CHROMIUM = process.env.KAIROS_CHROMIUM ?? '/usr/bin/chromium';

export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'];

/** Why the browser tests cannot run here, or null. In CI a missing Chromium is an error, never a skip. */
export function chromiumMissing(): string | null {
  if (existsSync(CHROMIUM)) return null;
  const why = `${CHROMIUM} is missing (apt-get install -y chromium)`;
  if (process.env.CI === 'true') throw new Error(`dashboard tests need Chromium in CI: ${why}`);
  return why;
}

export interface Browser {
  readonly context: BrowserContext;
  readonly page: Page;
  /** Messages of uncaught page errors and console errors: a test asserts there were none. */
  readonly errors: string[];
  close(): Promise<void>;
}

export async function openBrowser(): Promise<Browser> {
  const profile = tempDir('kairos-chromium-');
  const context = await chromium.launchPersistentContext(profile.path, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1280, height: 860 },
  });
  // Waits for states, with room for a busy machine: Playwright's default 30 s is a budget, not a promise.
  context.setDefaultTimeout(120_000);
  context.setDefaultNavigationTimeout(120_000);
  const page = context.pages()[0] ?? (await context.newPage());
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    // The browser logs every 4xx answer (a 401 before the token, a 422 from a form) as a console error: not a bug.
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) errors.push(`console: ${m.text()}`);
  });
  return {
    context,
    page,
    errors,
    async close() {
      await context.close();
      profile.cleanup();
    },
  };
}
