// Browser tests: Debian's Chromium driven by playwright-core (from
// web/node_modules; no browser is ever downloaded). launch() gives a
// fresh browser, context and page; screenshot() saves PNGs where CI keeps
// its artifacts.
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

import { ROOT } from './chorus.mjs';

export const CHROMIUM = process.env.CHORUS_CHROMIUM || '/usr/bin/chromium';
export const ARTIFACTS = process.env.CHORUS_ARTIFACTS || path.join(ROOT, 'build/artifacts');

/** Chromium's flags for tests: quiet, offline, no GPU. */
export const ARGS = ['--no-sandbox', '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--disable-gpu', '--no-first-run'];

const { chromium } = createRequire(path.join(ROOT, 'web/package.json'))('playwright-core');

/**
 * Starts a headless Chromium. options: viewport ({width, height}),
 * args (flags added to ARGS, e.g. a fake camera), context (more
 * newContext options), launch (more launch options; its args replace all),
 * timeout (default for page actions, ms). Collects the page's console
 * errors and uncaught exceptions in `errors`. Resolves
 * {browser, context, page, errors, close()}.
 */
export async function launch({ viewport = { width: 1280, height: 800 }, args = [], context: ctxOpts = {},
  launch: launchOpts = {}, timeout = 30000 } = {}) {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [...ARGS, ...args],
    ...launchOpts,
  });
  const context = await browser.newContext({ viewport, ...ctxOpts });
  context.setDefaultTimeout(timeout);
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(`console: ${m.text()}`); });
  return { browser, context, page, errors, close: () => browser.close() };
}

/** Saves a screenshot of page as ARTIFACTS/name (e.g. 'x.png'); returns its path. */
export async function screenshot(page, name, { fullPage = false } = {}) {
  mkdirSync(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, name);
  await page.screenshot({ path: file, fullPage });
  return file;
}
