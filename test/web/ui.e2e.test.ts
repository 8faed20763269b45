/**
 * End-to-end: the built web UI in real headless Chromium (Debian's /usr/bin/chromium,
 * driven by playwright-core) against a real `mvault serve` process (the built CLI) over a
 * registry filled through the registry API. Covers browsing to a version (model card,
 * files, a real download), sanitising a hostile model card, comparing versions, moving and
 * rolling back an alias through confirmation dialogs and finding both in the audit trail,
 * verifying the trail, the virtualised, server-sorted and filtered versions table, the
 * format, scan, signature and tensors sections of a version, the lineage graph, tensors
 * changed between versions, and the MLflow side (seeded over its REST API): experiments,
 * the runs table, parallel coordinates, a run's metric history, artifacts and download,
 * registering a run's artifacts as a model version, paging a large experiment's runs in as
 * the table scrolls, and the metric picker of a run with many metrics.
 *
 * Without Chromium the suite is skipped with a message, and fails under
 * MODELVAULT_TEST_REQUIRE_ALL=1 (CI installs it: see .ci/run).
 */
import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium, type Locator, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ChildServer, startNode } from '../server/support/child-server.js';
import { mvaultOk } from '../support/cli.js';
import {
  EXPERIMENT,
  LOSS_STEPS,
  type SeededMlflow,
  type SeededSweep,
  SWEEP_EXPERIMENT,
  seedMlflow,
  seedSweep,
  WIDE_METRICS,
  WIDE_STEPS,
} from './support/seed-mlflow.js';
import {
  BULK_MODEL,
  MODEL,
  PICKLE_MODEL,
  type SeededRegistry,
  seedRegistry,
  TENSOR_MODEL,
  TINY_TENSORS,
} from './support/seed-registry.js';

const CHROMIUM = '/usr/bin/chromium';
const CLI = fileURLToPath(new URL('../../dist/bin/mvault.js', import.meta.url));
const BULK = 300;
/**
 * Runs of the big sweep and the runs table's page size in its test: 4 pages, and a first
 * page longer than the rows in view (so the second waits for a scroll).
 */
const SWEEP_RUNS = 120;
const RUNS_PAGE = 30;
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
  let tracked: SeededMlflow;
  let sweep: SeededSweep;
  let server: ChildServer;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    seeded = await seedRegistry(BULK);
    server = await startNode([CLI, 'serve', '--port', '0', '--registry', seeded.root]);
    tracked = await seedMlflow(server.url);
    sweep = await seedSweep(server.url, SWEEP_RUNS);
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
  /** One attribute of every element a locator matches, in document order. */
  type Attributed = { getAttribute(name: string): string | null };
  const attrs = (locator: Locator, name: string) =>
    locator.evaluateAll(
      (els, n) => els.map((e) => (e as unknown as Attributed).getAttribute(n)),
      name,
    );

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
    // Drawn as a graph: an edge from each input (parent, run, dataset, code) to this version.
    await expect.poll(() => page.locator('.lineage-edges path.edge').count()).toBe(4);
    expect(await page.locator('.lineage-graph [data-node="run"] a').getAttribute('href')).toBe(
      '/experiments/runs/run-7f3a',
    );

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

  it('shows a safetensors version: format summary, signature, and a filterable tensors table', async () => {
    await page.goto(url(`/models/${enc(TENSOR_MODEL)}/versions/1`));
    const rows = page.locator('.tensors-table tbody tr[data-tensor]');
    await expect.poll(() => attrs(rows, 'data-tensor')).toEqual(TINY_TENSORS.map((t) => t.name));
    const attn = page.locator('tr[data-tensor="layers.0.attn.weight"]');
    expect(await attn.innerText()).toMatch(/BF16\s+4 × 4\s+16\s+32 B/);

    const summary = await page.getByLabel('format summary').innerText();
    expect(summary).toContain('safetensors');
    expect(summary).toContain('TinyForCausalLM');
    expect(summary).toContain('144 in 4 tensors'); // 32 + 16 + 64 + 32 parameters
    expect(await page.getByLabel('dtype mix').innerText()).toMatch(
      /F32 89% \(128\)[\s\S]*BF16 11% \(16\)/,
    );

    const signature = page.locator(`tr[data-key-id="${seeded.signingKeyId}"]`);
    await signature.waitFor();
    expect(await signature.innerText()).toContain('verified');
    expect(await page.locator('.facts').first().innerText()).toContain(
      seeded.signingKeyId.slice(0, 12),
    );
    expect(
      await page.locator('section[aria-labelledby="scan-heading"] [data-verdict]').innerText(),
    ).toBe('no pickles');

    await page.getByLabel('Find tensor').fill('mlp');
    await expect.poll(() => attrs(rows, 'data-tensor')).toEqual(['layers.0.mlp.weight']);
    await page.getByLabel('Find tensor').fill('no such tensor');
    await page.getByText('No tensor matches.').waitFor();
  });

  it('flags a dangerous pickle with the globals it imports', async () => {
    await page.goto(url(`/models/${enc(PICKLE_MODEL)}/versions/1`));
    const overview = page.locator('.facts').first();
    await overview.locator('[data-verdict="dangerous"]').waitFor();
    const file = page.locator('.scan-files tr[data-path="model.pkl"]');
    await file.waitFor();
    expect(await file.locator('[data-verdict]').innerText()).toBe('dangerous');
    expect(await file.getByRole('list', { name: 'globals of model.pkl' }).innerText()).toBe(
      'os.system (dangerous)',
    );
    // A pickle has no tensors to list: the section says so once the inspection arrives.
    await page.getByText('No weights file with tensors', { exact: false }).waitFor();
    expect(await page.locator('.tensors-table').count()).toBe(0);
  });

  it('compares versions tensor by tensor', async () => {
    await page.goto(url(`/models/${enc(TENSOR_MODEL)}/compare?versions=1,2`));
    const changes = page.locator('.tensor-diff[data-pair="1-2"] tr[data-tensor]');
    await expect
      .poll(() => attrs(changes, 'data-tensor'))
      .toEqual(['layers.0.mlp.weight', 'layers.1.attn.weight']);
    expect(await page.locator('tr[data-tensor="layers.0.mlp.weight"]').innerText()).toMatch(
      /^changed\s/,
    );
    expect(await page.locator('tr[data-tensor="layers.1.attn.weight"]').innerText()).toMatch(
      /^added\s/,
    );
    expect(await page.locator('.tensor-diff .tensor-counts').innerText()).toContain(
      '1 changed, 1 added, 0 removed, 3 unchanged',
    );
  });

  it('lists experiments and their runs, sorted and filtered by the server, with parallel coordinates', async () => {
    await page.goto(url('/'));
    await page
      .getByRole('navigation', { name: 'Main' })
      .getByRole('link', { name: 'Experiments' })
      .click();
    await page.getByRole('link', { name: EXPERIMENT }).click();
    await page.getByRole('heading', { level: 1, name: EXPERIMENT }).waitFor();
    expect(page.url()).toBe(url(`/experiments/${tracked.experimentId}`));
    const runRows = page.locator('.runs-table tbody tr[data-run]');
    await expect.poll(() => runRows.count()).toBe(6);
    await expect.poll(() => page.locator('.parallel path.run-line').count()).toBe(6);
    expect(await attrs(page.locator('.parallel .axis'), 'data-axis')).toEqual([
      'depth',
      'lr',
      'optimizer',
      'acc',
    ]);

    await page.getByRole('button', { name: 'acc', exact: true }).click(); // by acc, descending
    await page.waitForURL(/sort=metrics%3Aacc/);
    await expect.poll(() => runRows.first().getAttribute('data-run')).toBe(tracked.best.id);

    await page.getByLabel('Filter runs').fill("metrics.acc > 0.8 AND params.optimizer = 'adam'");
    await page.getByRole('button', { name: 'Apply' }).click();
    await expect
      .poll(() => runRows.locator('td:first-child a').allInnerTexts())
      .toEqual(['trial-5', 'trial-3']);

    await page.getByLabel('Filter runs').fill('metrics.acc >>');
    await page.getByRole('button', { name: 'Apply' }).click();
    const error = page.getByRole('alert');
    await error.waitFor();
    expect(await error.innerText()).toContain('INVALID_PARAMETER_VALUE');
  });

  it('browses a run (metric history, params, artifacts) and registers it as a model version', async () => {
    await page.goto(url(`/experiments/${tracked.experimentId}`));
    await page.getByRole('link', { name: tracked.best.name, exact: true }).click();
    await page.getByRole('heading', { level: 1, name: tracked.best.name }).waitFor();
    expect(page.url()).toBe(url(`/experiments/runs/${tracked.best.id}`));
    await expect
      .poll(() => page.locator('figure[data-metric="loss"] circle.dot').count())
      .toBe(LOSS_STEPS);
    expect(await page.locator('figure[data-metric="loss"] svg').getAttribute('aria-label')).toMatch(
      /^loss by step: 5 steps/,
    );
    expect(await page.getByRole('table', { name: 'params' }).innerText()).toMatch(/lr\s+0\.001/);

    // Artifacts: open the model folder, download a file through the proxy.
    await page.locator('tr[data-artifact="model"]').getByRole('button', { name: 'model/' }).click();
    await page.waitForURL(/path=model/);
    const download = page.waitForEvent('download');
    await page.getByRole('link', { name: 'download model/weights.bin' }).click();
    const file = await (await download).path();
    expect(new Uint8Array(await readFile(file))).toEqual(tracked.weights);

    // Register the folder shown as a new model (created on the way).
    await page.getByRole('button', { name: 'Register as model version…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Register as model version' });
    expect(await dialog.getByLabel('Artifact path').inputValue()).toBe('model');
    await dialog.getByLabel('Model name').fill('churn/model');
    expect(await dialog.locator('.confirm-text').innerText()).toContain(
      `runs:/${tracked.best.id}/model`,
    );
    await dialog.getByRole('button', { name: 'Register' }).click();
    await dialog.waitFor({ state: 'detached' });
    await page.getByRole('status').getByRole('link', { name: 'churn/model v1' }).click();
    await page.getByRole('heading', { level: 2, name: 'Files' }).waitFor();
    expect(page.url()).toBe(url(`/models/${enc('churn/model')}/versions/1`));
    await expect
      .poll(() => rowTexts('.files-table tbody tr'))
      .toEqual([expect.stringMatching(/^MLmodel/), expect.stringMatching(/^weights\.bin/)]);
    // The run's params and metrics came with it, and the lineage links back to the run.
    expect(await page.locator('table.kv').first().innerText()).toContain('0.91');
    expect(await page.locator('.lineage-graph [data-node="run"] a').getAttribute('href')).toBe(
      `/experiments/runs/${tracked.best.id}`,
    );
  });

  it("pages a large experiment's runs in as the table scrolls, sorting and filtering on the server", async () => {
    const searches: { max_results?: number; page_token?: string; order_by?: string[] }[] = [];
    const onRequest = (r: { url(): string; postData(): string | null }) => {
      if (r.url().includes('/mlflow/runs/search')) searches.push(JSON.parse(r.postData() ?? '{}'));
    };
    page.on('request', onRequest);
    try {
      await page.goto(url(`/experiments/${sweep.experimentId}?size=${RUNS_PAGE}`));
      await page.getByText(`${RUNS_PAGE} runs loaded · more available`, { exact: true }).waitFor();
      // One page asked for, of the size in the URL; the rest wait for the scroll.
      expect(searches).toEqual([expect.objectContaining({ max_results: RUNS_PAGE })]);
      expect(searches[0]!.page_token).toBeUndefined();
      expect(await page.locator('.runs-table').getAttribute('aria-rowcount')).toBe('-1');
      expect(await page.locator('.subset-note').innerText()).toContain(
        `Showing the ${RUNS_PAGE} runs loaded so far`,
      );

      // Scrolling to the end again and again brings in page after page, to the oldest run.
      const table = page.getByRole('region', { name: `runs of ${SWEEP_EXPERIMENT}` });
      const oldest = page.locator(`tr[data-run="${sweep.runIds[0]}"]`);
      await expect
        .poll(
          async () => {
            await table.evaluate((el) => {
              const box = el as unknown as { scrollTop: number; scrollHeight: number };
              box.scrollTop = box.scrollHeight;
            });
            return oldest.count();
          },
          { timeout: 60_000, interval: 200 },
        )
        .toBe(1);
      await page.getByText(`${SWEEP_RUNS} runs`, { exact: true }).waitFor();
      expect(searches).toHaveLength(SWEEP_RUNS / RUNS_PAGE);
      expect(searches.slice(1).every((s) => typeof s.page_token === 'string')).toBe(true);
      expect(await page.locator('tr[data-more]').count()).toBe(0);
      expect(await page.locator('.runs-table').getAttribute('aria-rowcount')).toBe(
        String(SWEEP_RUNS + 1),
      );
      expect(await page.locator('.runs-table tbody tr[data-run]').count()).toBeLessThan(80);
      expect(await page.locator('.subset-note').count()).toBe(0);
      await expect.poll(() => page.locator('.parallel path.run-line').count()).toBe(SWEEP_RUNS);

      // Sorting goes to the server: the best score of all the runs heads the first page.
      await page.goto(url(`/experiments/${sweep.experimentId}?size=${RUNS_PAGE}&metrics=score`));
      await page.getByRole('button', { name: 'score', exact: true }).click();
      await page.waitForURL(/sort=metrics%3Ascore/);
      const rows = page.locator('.runs-table tbody tr[data-run]');
      await expect.poll(() => rows.first().getAttribute('data-run')).toBe(sweep.topScore);
      expect(searches.at(-1)!.order_by?.[0]).toBe('metrics.score DESC');
      // So does filtering: five runs match, all on one page, and nothing more is offered.
      await page.getByLabel('Filter runs').fill('metrics.score < 5');
      await page.getByRole('button', { name: 'Apply' }).click();
      await page.getByText('5 runs', { exact: true }).waitFor();
      await expect
        .poll(() => rows.locator('td.num').allInnerTexts())
        .toEqual(['4', '3', '2', '1', '0']);
    } finally {
      page.off('request', onRequest);
    }
  });

  it('finds one metric among many with the picker, charts it, and deep-links the choice', async () => {
    const keys = Array.from(
      { length: WIDE_METRICS },
      (_, i) => `metric_${String(i).padStart(2, '0')}`,
    );
    const fetched = new Set<string>();
    const onRequest = (r: { url(): string }) => {
      const u = new URL(r.url());
      if (u.pathname.endsWith('/mlflow/metrics/get-history'))
        fetched.add(u.searchParams.get('metric_key') ?? '');
    };
    page.on('request', onRequest);
    try {
      await page.goto(url(`/experiments/runs/${sweep.wideRunId}`));
      const charts = page.locator('figure.metric-history');
      await expect.poll(() => attrs(charts, 'data-metric')).toEqual(keys.slice(0, 12));
      await page.getByText(`${WIDE_METRICS} metrics · 12 charted`).waitFor();

      // Type, see the one match, chart it with Enter: it comes first.
      const find = page.getByLabel('Find metric');
      await find.fill('37');
      await page.getByText(`1 of ${WIDE_METRICS} metrics · 12 charted`).waitFor();
      expect(await attrs(page.locator('[data-metric-option]'), 'data-metric-option')).toEqual([
        'metric_37',
      ]);
      await find.press('Enter');
      await page.waitForURL(/charts=metric_37%2Cmetric_00/);
      await expect
        .poll(() => page.locator('figure[data-metric="metric_37"] circle.dot').count())
        .toBe(WIDE_STEPS);
      expect((await attrs(charts, 'data-metric'))[0]).toBe('metric_37');
      expect(await page.locator('[data-metric-option="metric_37"] input').isChecked()).toBe(true);

      // By keyboard only: ↓ into the list, ↓ to the second match, Space to chart it.
      await find.fill('metric_3');
      await page.getByText(`10 of ${WIDE_METRICS} metrics · 13 charted`).waitFor();
      await find.press('ArrowDown');
      await page.keyboard.press('ArrowDown');
      await page.keyboard.press('Space');
      await page.waitForURL(/charts=metric_31%2Cmetric_37%2Cmetric_00/);

      // The link reproduces the view in a fresh tab.
      const other = await page.context().newPage();
      other.on('pageerror', (e) => pageErrors.push(e.message));
      await other.goto(page.url());
      const otherCharts = other.locator('figure.metric-history');
      await expect
        .poll(() => attrs(otherCharts, 'data-metric'))
        .toEqual(['metric_31', 'metric_37', ...keys.slice(0, 12)]);
      await expect
        .poll(() => other.locator('figure[data-metric="metric_37"] circle.dot').count())
        .toBe(WIDE_STEPS);
      await other.close();

      // Only the chosen metrics' histories were ever fetched.
      expect([...fetched].sort()).toEqual(['metric_31', 'metric_37', ...keys.slice(0, 12)].sort());

      await page.getByRole('button', { name: 'Clear charts' }).click();
      await page.getByText('No metric chosen').waitFor();
      expect(await charts.count()).toBe(0);
      await page.getByRole('button', { name: 'First 12' }).click();
      await expect.poll(() => attrs(charts, 'data-metric')).toEqual(keys.slice(0, 12));
      expect(new URL(page.url()).searchParams.has('charts')).toBe(false);
    } finally {
      page.off('request', onRequest);
    }
  });

  // Last: it turns authentication on for the running server.
  it('asks for sign-in once the registry has a user, then shows the models', async () => {
    await mvaultOk(['--registry', seeded.root, 'user', 'add', 'viewer', '--password-stdin'], {
      cwd: dirname(seeded.root),
      input: 'viewer-password',
    });
    // A fresh context: no token in sessionStorage.
    const context = await browser.newContext({ viewport: { width: 1366, height: 900 } });
    context.setDefaultTimeout(15_000);
    const fresh = await context.newPage();
    fresh.on('pageerror', (e) => pageErrors.push(e.message));
    await fresh.goto(url('/'));
    await fresh.getByRole('heading', { level: 1, name: 'Sign in' }).waitFor();
    await fresh.getByLabel('User name').fill('viewer');
    await fresh.getByLabel('Password').fill('wrong-password');
    await fresh.getByRole('button', { name: 'Sign in' }).click();
    await fresh.getByRole('alert').getByText('invalid credentials').waitFor();
    await fresh.getByLabel('Password').fill('viewer-password');
    await fresh.getByRole('button', { name: 'Sign in' }).click();
    await fresh.getByRole('link', { name: MODEL, exact: true }).waitFor();
    const token = String(await fresh.evaluate('sessionStorage.getItem("mv-token")'));
    expect(token).toMatch(/^mvt_/);

    // Signed in, a download link still works: the click fetches a short-lived signed URL
    // of that one file and follows it; the token itself never appears in a URL.
    const requested: string[] = [];
    context.on('request', (r) => requested.push(r.url()));
    await fresh.goto(url(`/models/${enc(MODEL)}/versions/2`));
    const downloading = fresh.waitForEvent('download');
    await fresh.getByRole('link', { name: 'download weights.bin' }).click();
    const download = await downloading;
    expect(new Uint8Array(await readFile(await download.path()))).toEqual(seeded.weightsV2);
    expect(download.url()).toMatch(/\/files\/weights\.bin\?mv_sig=mvs1\./);
    expect(requested.some((u) => u.includes('/api/v1/signed-urls'))).toBe(true);
    expect([...requested, download.url()].some((u) => u.includes(token))).toBe(false);
    // The plain link, without the signature, is refused.
    const plain = await fetch(url(`/api/v1/versions/${enc(`${MODEL}@2`)}/files/weights.bin`));
    expect(plain.status).toBe(401);
    await context.close();
  });
});
