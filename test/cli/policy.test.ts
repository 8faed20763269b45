/**
 * `mvault policy set|ls|rm|check` through the real binary, on an embedded registry and
 * against a server: a rules file and flags, `check` as a CI gate (exit 5 listing the
 * failed rules), and alias set / stage / rollback refused with exit 5.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../src/core/errors.js';
import type { PolicyCheck, PromotionPolicy } from '../../src/core/registry-api.js';
import { startTestServer, type TestServer } from '../server/support/test-server.js';
import { mvault, mvaultOk } from '../support/cli.js';
import { writeModelDir } from '../support/model-dir.js';

const POLICY_EXIT = ERROR_CODES.POLICY_VIOLATION.exit;
let cwd: string;
let server: TestServer;

beforeAll(async () => {
  cwd = await mkdtemp(join(tmpdir(), 'mv-cli-policy-'));
  server = await startTestServer();
  await writeModelDir(join(cwd, 'model1'), 1);
  await writeModelDir(join(cwd, 'model2'), 2);
  await mvaultOk(['init'], { cwd });
  await mvaultOk(['keygen', 'release'], { cwd });
  await writeFile(
    join(cwd, 'production.yaml'),
    'require: metrics.auc >= 0.9\nsignedBy: [release.pub]\nscan: no-dangerous\n',
  );
});
afterAll(async () => {
  await server?.close();
  await rm(cwd, { recursive: true, force: true });
});

expect(POLICY_EXIT).toBe(5);

describe.each([
  ['embedded', [] as string[]],
  ['remote', ['--registry', 'SERVER']],
])('mvault policy (%s)', (kind, flags) => {
  const globals = () => flags.map((f) => (f === 'SERVER' ? server.url : f));
  const run = (args: string[], expected = 0) =>
    mvaultOk([...globals(), ...args], { cwd }, expected);
  const raw = (args: string[], env?: Record<string, string>) =>
    mvault([...globals(), ...args], { cwd, ...(env ? { env } : {}) });
  const model = `cli-guarded-${kind}`;

  it('sets policies from a file and from flags, lists and removes them', async () => {
    await run(['push', model, 'model1', '--metric', 'auc=0.95']);
    await run(['push', model, 'model2', '--metric', 'auc=0.8']);
    const set = await run([
      '--json',
      'policy',
      'set',
      model,
      '--alias',
      'production',
      '--file',
      'production.yaml',
    ]);
    const policy = set.json<PromotionPolicy>();
    expect(policy.rules.signedBy).toEqual([expect.stringMatching(/^[0-9a-f]{64}$/)]);
    expect(policy.rules).toMatchObject({ require: 'metrics.auc >= 0.9', scan: 'no-dangerous' });
    const text = await run([
      'policy',
      'set',
      '--default',
      '--stage',
      'production',
      '--approval',
      'approved',
    ]);
    expect(text.stdout).toBe(
      'policy of every model (default), stage Production:\n  approval approved\n',
    );
    const ls = await run(['policy', 'ls']);
    expect(ls.stdout).toMatch(
      /^MODEL\s+TARGET\s+RULES\s+UPDATED\n\(default\)\s+stage Production\s+approval approved/,
    );
    expect(ls.stdout).toContain(`${model}  alias production`);
    // Usage errors: neither or both of MODEL and --default; a bad rule.
    expect((await raw(['policy', 'set', '--alias', 'x', '--scan', 'safe'])).code).toBe(2);
    const bad = await raw(['policy', 'set', model, '--alias', 'x', '--scan', 'clean']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(
      /scan must be (one of no-dangerous, safe|equal to one of the allowed values)/,
    );
    expect(
      (await run(['--json', 'policy', 'rm', '--default', '--stage', 'Production'])).json(),
    ).toEqual({
      deleted: true,
    });
  });

  it('check gates a pipeline: exit 5 with the failed rules, 0 once they hold', async () => {
    const failed = await raw(['policy', 'check', `${model}@2`, 'production']);
    expect(failed.code).toBe(POLICY_EXIT);
    expect(failed.stdout).toContain(`${model} v2 → alias production: REFUSED (policy of ${model})`);
    expect(failed.stdout).toContain(
      'FAIL  require: metrics.auc >= 0.9: not met (metrics.auc is 0.8)',
    );
    expect(failed.stdout).toMatch(/FAIL {2}signedBy: no signature by one of key\(s\) [0-9a-f]{16}/);
    expect(failed.stdout).toContain('ok    scan: no-dangerous: scan verdict none');
    expect(failed.stderr).toMatch(/^error: policy refuses .*@2 for alias production: require/);
    const json = await raw(['--json', 'policy', 'check', `${model}@1`, 'production']);
    expect(json.code).toBe(POLICY_EXIT);
    expect(
      json
        .json<PolicyCheck>()
        .results.filter((r) => !r.ok)
        .map((r) => r.rule),
    ).toEqual(['signedBy']);

    // Promotions are refused the same way, with exit 5.
    const alias = await raw(['alias', 'set', model, 'production', '1']);
    expect(alias.code).toBe(POLICY_EXIT);
    expect(alias.stderr).toContain(
      `error: alias 'production' of '${model}' refuses ${model}@1: signedBy`,
    );

    await run(['sign', `${model}@1`, '--key', 'release.key']);
    expect((await run(['policy', 'check', `${model}@1`, 'production'])).stdout).toContain(
      'alias production: allowed',
    );
    await run(['alias', 'set', model, 'production', '1']);
    // No policy for stages of this model once the default is gone: allowed.
    expect((await run(['policy', 'check', `${model}@2`, '--stage', 'Staging'])).stdout).toContain(
      'allowed (no policy)',
    );
  });

  it('stage and rollback are refused with exit 5', async () => {
    await run(['policy', 'set', model, '--stage', 'Staging', '--require', 'metrics.auc > 0.9']);
    const stage = await raw(['stage', `${model}@2`, 'staging']);
    expect(stage.code).toBe(POLICY_EXIT);
    expect(stage.stderr).toContain("stage 'Staging'");
    await run(['alias', 'set', model, 'candidate', '2']);
    await run(['alias', 'set', model, 'candidate', '1']);
    await run(['policy', 'set', model, '--alias', 'candidate', '--require', 'metrics.auc > 0.9']);
    const back = await raw(['rollback', model, 'candidate']);
    expect(back.code).toBe(POLICY_EXIT);
    expect(back.stderr).toContain('not met (metrics.auc is 0.8)');
    await run(['policy', 'rm', model, '--alias', 'candidate']);
    await run(['rollback', model, 'candidate']);
  });
});
