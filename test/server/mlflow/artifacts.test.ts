/**
 * MLflow's artifact proxy at the HTTP level against a real server: uploads (any
 * Content-Type, streamed), downloads with Range and ETag, listings in MLflow's shape,
 * deletes, multipart uploads, path validation, the reserved namespace, and deduplication
 * of the same bytes logged by two runs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pseudoRandomBytes } from '../../fixtures/model-files.js';
import { startTestServer, type TestServer } from '../support/test-server.js';
import { artifactUrl, getBytes, putBytes, rawRequest } from './artifact-http.js';
import { type MlflowTestClient, mlflowClient } from './support.js';

const text = (s: string) => new TextEncoder().encode(s);

describe('MLflow artifact proxy', () => {
  let server: TestServer;
  let url: string;
  let api: MlflowTestClient;

  beforeAll(async () => {
    server = await startTestServer();
    url = server.url;
    api = mlflowClient(url);
  });
  afterAll(async () => {
    await server.close();
  });

  /** Collects everything unreferenced right now (no grace; tombstone, then sweep). */
  async function gc(): Promise<{ bytesFreed: number }> {
    const registry = server.backend.registry as unknown as {
      gc(r: { graceMs: number }): Promise<{ bytesFreed: number }>;
    };
    const first = await registry.gc({ graceMs: 0 });
    const second = await registry.gc({ graceMs: 0 });
    return { bytesFreed: first.bytesFreed + second.bytesFreed };
  }

  async function storedBytes(): Promise<number> {
    const db = server.backend.store.index.storageDb.db;
    const rows = await db.selectFrom('chunks').select(['length']).execute();
    return rows.reduce((s, r) => s + Number(r.length), 0);
  }

  it('uploads whatever the Content-Type, replies {}, and downloads the same bytes', async () => {
    const json = text('{"not": "parsed"}');
    const put = await putBytes(
      artifactUrl(url, '1/r1/artifacts/config.body'),
      json,
      'application/json',
    );
    expect(put).toMatchObject({ status: 200, body: {} });
    const yaml = text('artifact_path: model\nflavors: {}\n');
    expect(
      (await putBytes(artifactUrl(url, '1/r1/artifacts/model/MLmodel'), yaml, 'text/plain')).body,
    ).toEqual({});
    // No Content-Type at all, and an empty file.
    expect(
      (await putBytes(artifactUrl(url, '1/r1/artifacts/model/empty.txt'), new Uint8Array())).status,
    ).toBe(200);

    const got = await getBytes(artifactUrl(url, '1/r1/artifacts/config.body'));
    expect(got.status).toBe(200);
    expect(Buffer.from(got.bytes).toString()).toBe('{"not": "parsed"}');
    expect(got.headers.get('etag')).toMatch(/^"[0-9a-f]{64}"$/);
    const empty = await getBytes(artifactUrl(url, '1/r1/artifacts/model/empty.txt'));
    expect(empty).toMatchObject({ status: 200 });
    expect(empty.bytes.length).toBe(0);
    // Through the UI's prefix too.
    const ajax = await getBytes(artifactUrl(url, '1/r1/artifacts/model/MLmodel', '/ajax-api/2.0'));
    expect(Buffer.from(ajax.bytes).toString()).toContain('artifact_path');
  });

  it('serves byte ranges and conditional requests by ETag', async () => {
    const bytes = pseudoRandomBytes(7, 200_000);
    await putBytes(artifactUrl(url, '1/r2/artifacts/weights.bin'), bytes);
    const u = artifactUrl(url, '1/r2/artifacts/weights.bin');
    const part = await getBytes(u, { range: 'bytes=1000-1999' });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe('bytes 1000-1999/200000');
    expect(Buffer.from(part.bytes).equals(Buffer.from(bytes.subarray(1000, 2000)))).toBe(true);
    const etag = part.headers.get('etag')!;
    expect((await getBytes(u, { 'if-none-match': etag })).status).toBe(304);
    const bad = await getBytes(u, { range: 'bytes=300000-' });
    expect(bad.status).toBe(416);
    expect(JSON.parse(Buffer.from(bad.bytes).toString())).toMatchObject({
      error_code: 'INVALID_PARAMETER_VALUE',
    });
  });

  it('lists directories in MLflow shape; a file or a missing path lists as {}', async () => {
    await putBytes(artifactUrl(url, '1/r3/artifacts/a.txt'), text('aaa'));
    await putBytes(artifactUrl(url, '1/r3/artifacts/sub/b.txt'), text('bb'));
    const root = await api.get('mlflow-artifacts/artifacts', {
      path: '1/r3/artifacts',
    });
    expect(root).toMatchObject({ status: 200 });
    expect(root.body).toEqual({
      files: [
        { path: 'a.txt', is_dir: false, file_size: 3 },
        { path: 'sub', is_dir: true },
      ],
    });
    const sub = await api.get('mlflow-artifacts/artifacts', {
      path: '1/r3/artifacts/sub',
    });
    expect(sub.body).toEqual({ files: [{ path: 'b.txt', is_dir: false, file_size: 2 }] });
    for (const path of ['1/r3/artifacts/a.txt', '1/r3/artifacts/nothing', '9/none']) {
      const r = await api.get('mlflow-artifacts/artifacts', { path });
      expect(r).toMatchObject({ status: 200, body: {} });
    }
    // The root of the whole store lists the experiments' directories.
    const top = await api.get('mlflow-artifacts/artifacts');
    expect(top.body.files).toContainEqual({ path: '1', is_dir: true });
  });

  it('overwrites a file in place and refuses file/directory clashes', async () => {
    const u = artifactUrl(url, '1/r4/artifacts/model.pkl');
    await putBytes(u, text('v1'));
    await putBytes(u, text('version two'));
    expect(Buffer.from((await getBytes(u)).bytes).toString()).toBe('version two');
    const underFile = await putBytes(artifactUrl(url, '1/r4/artifacts/model.pkl/x'), text('x'));
    expect(underFile.status).toBe(400);
    expect(underFile.body.error_code).toBe('INVALID_PARAMETER_VALUE');
    await putBytes(artifactUrl(url, '1/r4/artifacts/dir/f'), text('f'));
    const onDir = await putBytes(artifactUrl(url, '1/r4/artifacts/dir'), text('d'));
    expect(onDir).toMatchObject({ status: 400, body: { error_code: 'INVALID_PARAMETER_VALUE' } });
  });

  it('rejects bad paths and the reserved namespace with 400, never escaping', async () => {
    for (const bad of [
      '1/r/../../etc/passwd',
      '1/r/..%2F..%2Fx',
      '%2Fabs',
      '1//x',
      '1/./x',
      '1/%00x',
      '1/a%5Cb',
    ]) {
      const r = await rawRequest(
        url,
        'PUT',
        `/api/2.0/mlflow-artifacts/artifacts/${bad}`,
        text('x'),
      );
      expect(r.status, bad).toBe(400);
      expect(r.body.error_code, bad).toBe('INVALID_PARAMETER_VALUE');
    }
    const long = await putBytes(artifactUrl(url, `1/${'x'.repeat(300)}`), text('x'));
    expect(long.status).toBe(400);
    const reserved = await putBytes(artifactUrl(url, '_modelvault/models/m@1/f'), text('x'));
    expect(reserved.status).toBe(400);
    expect(reserved.body.message).toContain('reserved');
    const del = await api.call('DELETE', 'mlflow-artifacts/artifacts/_modelvault/models');
    expect(del.status).toBe(400);
    const list = await api.get('mlflow-artifacts/artifacts', {
      path: '../x',
    });
    expect(list.status).toBe(400);
  });

  it('answers RESOURCE_DOES_NOT_EXIST for a missing file or a directory download', async () => {
    await putBytes(artifactUrl(url, '1/r5/artifacts/d/f'), text('f'));
    for (const p of ['1/r5/artifacts/missing', '1/r5/artifacts/d']) {
      const r = await api.get(`mlflow-artifacts/artifacts/${p}`);
      expect(r).toMatchObject({ status: 404, body: { error_code: 'RESOURCE_DOES_NOT_EXIST' } });
    }
  });

  it('deletes files and whole directories, idempotently, pruning empty parents', async () => {
    await putBytes(artifactUrl(url, '2/r6/artifacts/keep.txt'), text('k'));
    await putBytes(artifactUrl(url, '2/r6/artifacts/m/a'), text('a'));
    await putBytes(artifactUrl(url, '2/r6/artifacts/m/deep/b'), text('b'));
    const one = await api.call('DELETE', 'mlflow-artifacts/artifacts/2/r6/artifacts/m/a');
    expect(one).toMatchObject({ status: 200, body: {} });
    const dir = await api.call('DELETE', 'mlflow-artifacts/artifacts/2/r6/artifacts/m');
    expect(dir).toMatchObject({ status: 200, body: {} });
    const again = await api.call('DELETE', 'mlflow-artifacts/artifacts/2/r6/artifacts/m');
    expect(again).toMatchObject({ status: 200, body: {} });
    const listed = await api.get('mlflow-artifacts/artifacts', {
      path: '2/r6/artifacts',
    });
    expect(listed.body).toEqual({ files: [{ path: 'keep.txt', is_dir: false, file_size: 1 }] });
    await api.call('DELETE', 'mlflow-artifacts/artifacts/2/r6/artifacts/keep.txt');
    const gone = await api.get('mlflow-artifacts/artifacts', {
      path: '2',
    });
    expect(gone.body).toEqual({});
  });

  it('stores the same checkpoint logged by two runs once', async () => {
    const checkpoint = pseudoRandomBytes(42, 300_000);
    const before = await storedBytes();
    await putBytes(artifactUrl(url, '3/runA/artifacts/ckpt/model.bin'), checkpoint);
    const afterFirst = await storedBytes();
    expect(afterFirst - before).toBeGreaterThanOrEqual(checkpoint.length * 0.9);
    await putBytes(artifactUrl(url, '3/runB/artifacts/weights/model.bin'), checkpoint);
    expect(await storedBytes()).toBe(afterFirst);
    const a = await getBytes(artifactUrl(url, '3/runB/artifacts/weights/model.bin'));
    expect(Buffer.from(a.bytes).equals(Buffer.from(checkpoint))).toBe(true);
    // Deleting one run's copy keeps the other's bytes alive through garbage collection.
    await api.call('DELETE', 'mlflow-artifacts/artifacts/3/runA');
    await gc();
    const b = await getBytes(artifactUrl(url, '3/runB/artifacts/weights/model.bin'));
    expect(Buffer.from(b.bytes).equals(Buffer.from(checkpoint))).toBe(true);
  });

  it('garbage-collects bytes no artifact refers to any more', async () => {
    const lonely = pseudoRandomBytes(99, 100_000);
    const before = await storedBytes();
    await putBytes(artifactUrl(url, '4/r/artifacts/lonely.bin'), lonely);
    expect(await storedBytes()).toBeGreaterThan(before + 90_000);
    await api.call('DELETE', 'mlflow-artifacts/artifacts/4/r/artifacts/lonely.bin');
    const result = await gc();
    expect(result.bytesFreed).toBeGreaterThan(90_000);
    expect(await storedBytes()).toBeLessThanOrEqual(before);
  });

  describe('multipart uploads', () => {
    it('create → PUT parts to the credential URLs → complete assembles the file', async () => {
      const bytes = pseudoRandomBytes(5, 250_000);
      const create = await api.post('mlflow-artifacts/mpu/create/5/r/artifacts/big', {
        path: '/home/me/data/huge.bin',
        num_parts: 3,
      });
      expect(create.status).toBe(200);
      expect(create.body.upload_id).toMatch(/^[0-9a-f]{32}$/);
      expect(create.body.credentials).toHaveLength(3);
      expect(create.body.credentials[0]).toEqual({
        url: `${url}/api/2.0/mlflow-artifacts/mpu/parts/${create.body.upload_id}/1`,
        part_number: 1,
        headers: {},
      });
      const size = 100_000;
      const parts = [];
      // Out of order, and part 2 sent twice (the second replaces the first).
      for (const i of [2, 0, 1, 1]) {
        const cred = create.body.credentials[i];
        const r = await putBytes(cred.url, bytes.subarray(i * size, (i + 1) * size));
        expect(r.status).toBe(200);
        parts[i] = { part_number: cred.part_number, etag: r.headers.get('etag'), url: cred.url };
      }
      const done = await api.post('mlflow-artifacts/mpu/complete/5/r/artifacts/big', {
        path: '/home/me/data/huge.bin',
        upload_id: create.body.upload_id,
        parts,
      });
      expect(done).toMatchObject({ status: 200, body: {} });
      const got = await getBytes(artifactUrl(url, '5/r/artifacts/big/huge.bin'));
      expect(Buffer.from(got.bytes).equals(Buffer.from(bytes))).toBe(true);
      // The upload is over.
      const again = await api.post('mlflow-artifacts/mpu/abort/5/r/artifacts/big', {
        path: '/home/me/data/huge.bin',
        upload_id: create.body.upload_id,
      });
      expect(again).toMatchObject({ status: 404, body: { error_code: 'RESOURCE_DOES_NOT_EXIST' } });
    });

    it('rejects bad completes and aborts cleanly', async () => {
      const create = await api.post('mlflow-artifacts/mpu/create/5/r/artifacts', {
        path: 'C:\\data\\x.bin',
        num_parts: 2,
      });
      const id = create.body.upload_id;
      const p1 = await putBytes(create.body.credentials[0].url, text('one'));
      const complete = (parts: unknown, path = 'x.bin') =>
        api.post('mlflow-artifacts/mpu/complete/5/r/artifacts', {
          path,
          upload_id: id,
          parts,
        });
      const missing = await complete([
        { part_number: 1, etag: p1.headers.get('etag') },
        { part_number: 2, etag: '"x"' },
      ]);
      expect(missing).toMatchObject({
        status: 404,
        body: { error_code: 'RESOURCE_DOES_NOT_EXIST' },
      });
      const wrongEtag = await complete([{ part_number: 1, etag: '"0000"' }]);
      expect(wrongEtag.body.error_code).toBe('INVALID_PARAMETER_VALUE');
      const wrongPath = await complete([{ part_number: 1, etag: p1.headers.get('etag') }], 'y.bin');
      expect(wrongPath.body.error_code).toBe('INVALID_PARAMETER_VALUE');
      const disorder = await complete([
        { part_number: 1, etag: p1.headers.get('etag') },
        { part_number: 1, etag: p1.headers.get('etag') },
      ]);
      expect(disorder.status).toBe(400);
      const outOfRange = await putBytes(
        `${url}/api/2.0/mlflow-artifacts/mpu/parts/${id}/3`,
        text('3'),
      );
      expect(outOfRange.status).toBe(400);
      const abort = await api.post('mlflow-artifacts/mpu/abort/5/r/artifacts', {
        path: 'x.bin',
        upload_id: id,
      });
      expect(abort).toMatchObject({ status: 200, body: {} });
      const late = await putBytes(create.body.credentials[1].url, text('two'));
      expect(late).toMatchObject({ status: 404, body: { error_code: 'RESOURCE_DOES_NOT_EXIST' } });
      const tooMany = await api.post('mlflow-artifacts/mpu/create/5/r', {
        path: 'x',
        num_parts: 10_001,
      });
      expect(tooMany.body.error_code).toBe('INVALID_PARAMETER_VALUE');
      const noPath = await api.post('mlflow-artifacts/mpu/create/5/r', {
        num_parts: 1,
      });
      expect(noPath.body).toMatchObject({ error_code: 'INVALID_PARAMETER_VALUE' });
      expect(noPath.body.message).toContain("'path'");
    });
  });

  it('answers an unknown MLflow path with ENDPOINT_NOT_FOUND', async () => {
    const r = await api.get('mlflow-artifacts/nothing');
    expect(r).toMatchObject({ status: 404, body: { error_code: 'ENDPOINT_NOT_FOUND' } });
  });
});
