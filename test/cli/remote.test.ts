/**
 * The same CLI against a server: `--registry http://…` (or MODELVAULT_REGISTRY) makes every
 * command go through the SDK, with the same output; storage maintenance stays local.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModelVersion, SearchResult } from '../../src/core/registry-api.js';
import { startTestServer, type TestServer } from '../server/support/test-server.js';
import { mvault, mvaultOk } from '../support/cli.js';
import { writeModelDir } from '../support/model-dir.js';

let server: TestServer;
let cwd: string;

beforeAll(async () => {
  server = await startTestServer();
  cwd = await mkdtemp(join(tmpdir(), 'mv-cli-remote-'));
  for (const v of [1, 2]) await writeModelDir(join(cwd, `model-v${v}`), v);
});
afterAll(async () => {
  await server?.close();
  await rm(cwd, { recursive: true, force: true });
});

describe('mvault --registry URL', () => {
  it('pushes, lists, promotes and pulls through the server, byte for byte', async () => {
    const r = (...args: string[]) => mvaultOk(['--registry', server.url, ...args], { cwd });
    const v1 = (await r('--json', 'push', 'remote-model', 'model-v1', '--metric', 'auc=0.9')).json<{
      version: ModelVersion;
    }>();
    expect(v1.version.version).toBe(1);
    // The second push goes through the environment variable instead of the flag.
    await mvaultOk(['push', 'remote-model', 'model-v2', '--metric', 'auc=0.95'], {
      cwd,
      env: { MODELVAULT_REGISTRY: server.url },
    });
    const ls = (await r('--json', 'ls', 'remote-model')).json<SearchResult<ModelVersion>>();
    expect(ls.items.map((v) => v.version)).toEqual([2, 1]);
    await r('alias', 'set', 'remote-model', 'production', '2');
    await r('pull', 'remote-model@production', 'out');
    for (const f of ['config.json', 'model.safetensors', 'README.md']) {
      const expected = await readFile(join(cwd, 'model-v2', f));
      expect((await readFile(join(cwd, 'out', f))).equals(expected)).toBe(true);
    }
    expect((await r('audit', 'verify')).code).toBe(0);
  });

  it('says where storage maintenance runs, and refuses init on a URL', async () => {
    const fsck = await mvault(['--registry', server.url, 'fsck'], { cwd });
    expect(fsck.code).toBe(1);
    expect(fsck.stderr).toMatch(/runs on the server's host/);
    const compact = await mvault(['--registry', server.url, 'compact'], { cwd });
    expect(compact.code).toBe(1);
    expect(compact.stderr).toMatch(/compact runs on the server's host/);
    const init = await mvault(['--registry', server.url, 'init'], { cwd });
    expect(init.code).not.toBe(0);
    expect(init.stderr).toMatch(/mvault serve/);
  });

  it('fails clearly when no server answers', async () => {
    const r = await mvault(['--registry', 'http://127.0.0.1:9', 'ls'], { cwd });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/error/);
  });
});
