/**
 * keygen, sign, verify, scan, show and pull --verify through the real `mvault` binary, on
 * an embedded registry and (sign/verify/pull) against a server.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../src/core/errors.js';
import type { ModelVersion } from '../../src/core/registry-api.js';
import { OS_SYSTEM_PICKLE } from '../fixtures/pickle-files.js';
import { startTestServer, type TestServer } from '../server/support/test-server.js';
import { mvault, mvaultOk } from '../support/cli.js';
import { writeModelDir } from '../support/model-dir.js';

let cwd: string;
let server: TestServer;
const VERIFY_EXIT = ERROR_CODES.VERIFICATION_FAILED.exit;

beforeAll(async () => {
  cwd = await mkdtemp(join(tmpdir(), 'mv-cli-signing-'));
  server = await startTestServer();
  await writeModelDir(join(cwd, 'model'), 1);
  await writeFile(join(cwd, 'model', 'pipeline.pkl'), OS_SYSTEM_PICKLE);
  await mvaultOk(['init'], { cwd });
});
afterAll(async () => {
  await server?.close();
  await rm(cwd, { recursive: true, force: true });
});

describe.each([
  ['embedded', [] as string[]],
  ['remote', ['--registry', 'SERVER']],
])('mvault sign / verify / pull --verify (%s)', (_kind, flags) => {
  const run = (args: string[], expected = 0) =>
    mvaultOk([...flags.map((f) => (f === 'SERVER' ? server.url : f)), ...args], { cwd }, expected);
  const raw = (args: string[]) =>
    mvault([...flags.map((f) => (f === 'SERVER' ? server.url : f)), ...args], { cwd });
  const model = `signed-${_kind}`;
  const prefix = `release-${_kind}`;

  it('keygen writes a key pair once, private key unreadable by others', async () => {
    const out = (await run(['--json', 'keygen', prefix])).json<{ keyId: string }>();
    expect(out.keyId).toMatch(/^[0-9a-f]{64}$/);
    expect((await stat(join(cwd, `${prefix}.key`))).mode & 0o077).toBe(0);
    expect(await readFile(join(cwd, `${prefix}.pub`), 'utf8')).toMatch(/BEGIN PUBLIC KEY/);
    expect((await raw(['keygen', prefix])).stderr).toMatch(/not overwriting/);
    await run(['keygen', `${prefix}-other`]);
  });

  it('pull --verify refuses an unsigned version before writing anything', async () => {
    await run(['push', model, 'model']);
    const r = await raw(['pull', `${model}@1`, `out-unsigned-${_kind}`, '--verify']);
    expect(r.code).toBe(VERIFY_EXIT);
    expect(r.stderr).toMatch(/not signed/);
    expect(existsSync(join(cwd, `out-unsigned-${_kind}`))).toBe(false);
  });

  it('signs, verifies with the right key, refuses the wrong one, and pulls verified', async () => {
    const signed = await run(['sign', `${model}@1`, '--key', `${prefix}.key`]);
    expect(signed.stdout).toMatch(/^signed /);
    const ok = await run(['verify', `${model}@1`, '--key', `${prefix}.pub`]);
    expect(ok.stdout).toMatch(/verified\n\s+valid/);
    const other = await raw(['verify', `${model}@1`, '--key', `${prefix}-other.pub`]);
    expect(other.code).toBe(VERIFY_EXIT);
    expect(other.stdout).toMatch(/untrusted/);
    const refused = await raw([
      'pull',
      `${model}@1`,
      `out-other-${_kind}`,
      '--verify',
      '--key',
      `${prefix}-other.pub`,
    ]);
    expect(refused.code).toBe(VERIFY_EXIT);
    expect(existsSync(join(cwd, `out-other-${_kind}`))).toBe(false);
    await run(['pull', `${model}@1`, `out-${_kind}`, '--verify', '--key', `${prefix}.pub`]);
    expect(await readFile(join(cwd, `out-${_kind}`, 'pipeline.pkl'))).toEqual(
      Buffer.from(OS_SYSTEM_PICKLE),
    );
  });

  it('show and scan report the dangerous pickle and the signature key id', async () => {
    const v = (await run(['--json', 'show', `${model}@1`])).json<ModelVersion>();
    expect(v.scan).toMatchObject({ verdict: 'dangerous', dangerous: ['pipeline.pkl'] });
    expect(v.signatures).toHaveLength(1);
    const shown = (await run(['show', `${model}@1`])).stdout;
    expect(shown).toMatch(/scan\s+dangerous \(pipeline\.pkl\)/);
    expect(shown).toContain(v.signatures[0]);
    const scan = (await run(['scan', `${model}@1`])).stdout;
    expect(scan).toMatch(/dangerous\s+pipeline\.pkl\n\s+dangerous: os\.system/);
  });
});
