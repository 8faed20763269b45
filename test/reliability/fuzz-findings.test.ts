/**
 * Regressions for what the fuzzers (hostile-input.test.ts, cli-arguments.test.ts) found,
 * each reduced to the request or command line that showed it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/program.js';
import { pseudoRandomBytes } from '../fixtures/model-files.js';
import { postBatch, postJson, rawFile } from '../server/support/raw-upload.js';
import { startTestServer, type TestServer } from '../server/support/test-server.js';
import { mvault, mvaultOk } from '../support/cli.js';
import { writeModelDir } from '../support/model-dir.js';

describe('server findings', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ expireEveryMs: 0 });
  });
  afterAll(async () => server.close());

  it('answers a URL that does not decode with 400 in the API error shape (was Fastify’s own body)', async () => {
    const native = await fetch(`${server.url}/api/v1/models/%C0%AE/versions`);
    expect(native.status).toBe(400);
    expect(await native.json()).toMatchObject({
      error: { code: 'INVALID_ARGUMENT', message: expect.stringContaining('invalid URL') },
    });
    const mlflow = await fetch(`${server.url}/api/2.0/mlflow-artifacts/artifacts/%ZZ`);
    expect(mlflow.status).toBe(400);
    expect(await mlflow.json()).toMatchObject({
      error_code: 'BAD_REQUEST',
      message: expect.stringContaining('invalid URL'),
    });
  });

  it('leaves an upload session untouched when a chunk batch is refused before anything verified', async () => {
    const file = rawFile('w.bin', pseudoRandomBytes(7, 10_000));
    const created = await postJson(server.url, '/api/v1/uploads', { files: [file.spec] });
    const before = await server.backend.store.index.storageDb.db
      .selectFrom('upload_sessions' as never)
      .selectAll()
      .where('id' as never, '=', created.body.id as never)
      .executeTakeFirstOrThrow();
    const refused = await postBatch(server.url, created.body.id, Buffer.from('not a batch'));
    expect(refused.status).toBe(400);
    const after = await server.backend.store.index.storageDb.db
      .selectFrom('upload_sessions' as never)
      .selectAll()
      .where('id' as never, '=', created.body.id as never)
      .executeTakeFirstOrThrow();
    expect(after).toEqual(before);
  });
});

describe('CLI findings', () => {
  let cwd: string;
  beforeAll(async () => {
    cwd = await mkdtemp(join(tmpdir(), 'mv-cli-findings-'));
    await writeModelDir(join(cwd, 'model'), 1);
    await mvaultOk(['init'], { cwd });
    await mvaultOk(['push', 'm', './model'], { cwd });
  });
  afterAll(async () => rm(cwd, { recursive: true, force: true }));

  it('names a malformed KEY=VALUE given to tag (exited 2 without a word)', async () => {
    const r = await mvault(['tag', 'm', '../..'], { cwd });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("error: expected KEY=VALUE but got '../..'\n");
    const json = await mvault(['tag', 'm@1', 'novalue', '--json'], { cwd });
    expect(json.code).toBe(2);
    expect(json.json()).toMatchObject({ error: { code: 'INVALID_ARGUMENT' } });
  });

  it('refuses an argument with a NUL character as a usage error (was an internal error)', async () => {
    let stderr = '';
    const sink = new Writable({
      write(chunk, _enc, done) {
        stderr += chunk;
        done();
      },
    });
    const code = await runCli(['init', 'a\u0000b'], {
      env: { NO_COLOR: '1' },
      cwd,
      stdout: sink,
      stderr: sink,
    });
    expect(code).toBe(2);
    expect(stderr).toBe('error: argument 2 contains a NUL character\n');
  });
});
