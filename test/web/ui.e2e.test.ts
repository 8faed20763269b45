/**
 * End-to-end: the built web UI in real headless Chromium (Debian's /usr/bin/chromium,
 * driven by playwright-core) against a real `mvault serve` process (the built CLI) over a
 * registry filled through the registry API. Covers browsing to a version (model card,
 * files, a real download), sanitising a hostile model card, comparing versions, moving and
 * rolling back an alias through confirmation dialogs and finding both in the audit trail,
 * verifying the trail, and the virtualised, server-sorted and filtered versions table.
 *
 * Without Chromium the suite is skipped with a message, and fails under
 * MODELVAULT_TEST_REQUIRE_ALL=1 (CI installs it: see .ci/run).
 */
import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ChildServer, startNode } from '../server/support/child-server.js';
import { BULK_MODEL, MODEL, type SeededRegistry, seedRegistry } from './support/seed-registry.js';

const CHROMIUM = '/usr/bin/chromium';
const CLI = fileURLToPath(new URL('../../dist/bin/mvault.js', import.meta.url));
const BULK = 300;
const haveChromium = existsSync(CHROMIUM);

if (!haveChromium) {
  if (process.env.MODELVAULT_TEST_REQUIRE_ALL === '1') {
    throw new Error(
      `${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium)`,
    );
  }
  console.warn(`skipping the browser tests: ${CHROMIUM} is missing (apt-get install -y chromium)`);
}

const enc = encodeURIComponent;

describe.skipIf(!haveChromium)('web UI in Chromium', () => {
  let seeded: SeededRegistry;
  let server: ChildServer;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    seeded = await seedRegistry(BULK);
    server = await startNode([CLI, 'serve', '--port', '0', '--registry', seeded.root]);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    const context = await browser.newContext({
      viewport: { width: 1366, height: 900 },
      acceptDownloads: true,
    });
    context.setDefaultTimeout(15_000);
    page = await context.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
  });

  afterAll(async () => {
    await browser?.close();
    if (server && server.child.exitCode === null) {
      server.child.kill('SIGTERM');
      await server.exited;
    }
    if (seeded) await rm(dirname(seeded.root), { recursive: true, force: true });
    expect(pageErrors).toEqual([]);
  });

  const url = (path: string) => `${server.url}${path}`;
  const rowTexts = (selector: string) => page.locator(selector).allInnerTexts();

  it('browses from the list to a version: model card, files, and a download that works', async () => {
    await page.goto(url('/'));
    await page.getByRole('link', { name: MODEL, exact: true }).click();
    await page.getByRole('heading', { level: 1, name: MODEL }).waitFor();
    expect(page.url()).toBe(url(`/models/${enc(MODEL)}`));
    // Aliases as badges in the versions table.
    await page.locator('tr[data-version="2"]').getByText('@production').waitFor();

    await page.locator('tr[data-version="2"]').getByRole('link', { name: 'v2' }).click();
    await page.getByRole('heading', { level: 2, name: 'Model card' }).waitFor();
    expect(page.url()).toBe(url(`/models/${enc(MODEL)}/versions/2`));
    expect(await page.locator('.model-card h1').innerText()).toBe('Fraud detector v2');
    expect(await page.locator('.model-card strong').innerText()).toBe('Q3');

    // Files tree: folders first with totals, then files with sizes and digests.
    const files = await rowTexts('.files-table tbody tr');
    expect(files.map((t) => t.split('\t')[0]!.trim())).toEqual([
      '▾ config/',
      'labels.txt',
      'params.json',
      'README.md',
      'weights.bin',
    ]);
    // Lineage: the parent links to v1, the run, dataset and code are shown.
    const lineage = await page.locator('.lineage').innerText();
    expect(lineage).toContain(`${MODEL}@1`);
    expect(lineage).toContain('run-7f3a');
    expect(lineage).toContain('s3://bucket/q3.parquet');

    const download = page.waitForEvent('download');
    await page.getByRole('link', { name: 'download weights.bin' }).click();
    const file = await (await download).path();
    expect(new Uint8Array(await readFile(file))).toEqual(seeded.weightsV2);
  });

  it('renders a hostile model card without running anything', async () => {
    await page.goto(url(`/models/${enc(MODEL)}/versions/3`));
    const card = page.locator('.model-card');
    await card.locator('table').waitFor();
    expect(await card.locator('h1').innerText()).toBe('Fraud detector v3');
    expect(await card.locator('script, [onerror], [onclick], a[href^="javascript"]').count()).toBe(
      0,
    );
    await card.getByText('click me').click(); // its javascript: href was removed
    await card.getByText('also click').click();
    expect(await page.evaluate('typeof window.__xss')).toBe('undefined');
  });

  it('compares versions: metric bars, side-by-side values with only differences, files changed', async () => {
    await page.goto(url(`/models/${enc(MODEL)}`));
    await page.getByLabel('select version 2 to compare').check();
    await page.getByLabel('select version 3 to compare').check();
    await page.getByRole('button', { name: 'Compare selected (2)' }).click();
    await page.getByRole('heading', { name: `Compare ${MODEL} v2, v3` }).waitFor();
    expect(new URL(page.url()).searchParams.get('versions')).toBe('2,3');

    // The heading renders before the versions' data arrives: poll, do not sample once.
    await expect.poll(() => page.locator('.bar-chart rect.bar').count()).toBe(4); // auc and loss × 2
    expect(await page.locator('table.side tr[data-key="auc"]').innerText()).toContain(
      '0.95 (+0.02)',
    );
    await expect
      .poll(() => rowTexts('table.side tbody th'))
      .toEqual(['auc', 'loss', 'epochs', 'lr']);
    await page.getByLabel('Only differences').check();
    await page.waitForURL(/diff=1/);
    // epochs is 20 in both: hidden; lr differs (3e-4 → 1e-4): kept.
    await expect.poll(() => rowTexts('table.side tbody th')).toEqual(['auc', 'loss', 'lr']);
    const changed = await page.locator('.file-diff').innerText();
    expect(changed).toContain('removed');
    expect(changed).toContain('config/labels.txt');
    expect(changed).toMatch(/changed\s+weights\.bin/);
  });

  it('moves an alias and rolls it back through confirmation dialogs; both are in the audit trail, which verifies', async () => {
    await page.goto(url(`/models/${enc(MODEL)}`));
    const production = page.locator('tr[data-alias="production"]');
    await production.getByRole('link', { name: 'v2' }).waitFor();

    // Cancelling changes nothing.
    await production.getByRole('button', { name: 'Move', exact: true }).click();
    const dialog = page.getByRole('dialog', { name: 'Move alias' });
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'detached' });

    await production.getByRole('button', { name: 'Move', exact: true }).click();
    await dialog.getByLabel('Version').fill('3');
    expect(await dialog.locator('.confirm-text').innerText()).toContain(
      'from version 2 to version 3',
    );
    await dialog.getByRole('button', { name: 'Move alias' }).click();
    await dialog.waitFor({ state: 'detached' });
    await production.getByRole('link', { name: 'v3' }).waitFor();

    await production.getByRole('button', { name: 'Roll back' }).click();
    await page
      .getByRole('dialog', { name: 'Roll back alias' })
      .getByRole('button', { name: 'Roll back' })
      .click();
    await production.getByRole('link', { name: 'v2' }).waitFor();

    await page.getByRole('link', { name: `Audit trail of ${MODEL}` }).click();
    await page.getByRole('heading', { level: 1, name: 'Audit trail' }).waitFor();
    await page.locator('.audit-table tbody tr').first().waitFor();
    const [rolledBack, moved] = await rowTexts('.audit-table tbody tr');
    expect(rolledBack).toContain('alias.rolled_back');
    expect(rolledBack).toContain(`${MODEL}@production`);
    expect(rolledBack).toContain('version=2');
    expect(moved).toContain('alias.set');
    expect(moved).toContain('previousVersion=2 version=3');

    await page.getByRole('button', { name: 'Verify the trail' }).click();
    const result = page.locator('[data-result]');
    await result.waitFor();
    expect(await result.getAttribute('data-result')).toBe('intact');
    expect(await result.innerText()).toMatch(/^Intact\. \d+ events checked/);
  });

  it('keeps a large versions table windowed, sorted and filtered on the server', async () => {
    await page.goto(url(`/models/${BULK_MODEL}`));
    await page.getByText(`${BULK} versions`, { exact: true }).waitFor();
    const rendered = await page.locator('.versions-table tbody tr[data-version]').count();
    expect(rendered).toBeGreaterThan(5);
    expect(rendered).toBeLessThan(80);
    // Scrolling to the end brings the oldest version into the DOM.
    await page.locator('.table-scroll').evaluate((el) => {
      const box = el as unknown as { scrollTop: number; scrollHeight: number };
      box.scrollTop = box.scrollHeight;
    });
    await page.locator('tr[data-version="1"]').waitFor();

    await page.getByLabel('Filter').fill('metrics.acc > 0.9');
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.getByText('30 versions', { exact: true }).waitFor();
    await page.getByRole('button', { name: 'acc', exact: true }).click(); // by acc, descending
    await page.waitForURL(/sort=metrics%3Aacc/);
    await page.locator('.versions-table tbody tr[data-version]').first().waitFor();
    await page.getByRole('button', { name: 'acc', exact: true }).click(); // ascending
    await page.waitForURL(/dir=asc/);
    await page.waitForFunction(
      "document.querySelector('.versions-table tbody tr[data-version]')?.getAttribute('data-version') === '271'",
    );

    await page.getByLabel('Filter').fill('metrics.acc >');
    await page.getByRole('button', { name: 'Apply' }).click();
    const error = page.getByRole('alert');
    await error.waitFor();
    expect(await error.innerText()).toContain('INVALID_ARGUMENT');
  });
});
