/**
 * MLflow's version reads over HTTP on both dialects — model-versions/search, get,
 * get-latest-versions and registered-models/get's latest versions — answer the bytes the
 * straightforward read gives: the response built by the same shapes from hydrateVersions'
 * per-table reads (src/registry/hydrate.ts), of the versions the response names. On
 * PostgreSQL the server reads them with one statement (PG_VERSIONS), on SQLite with its
 * JSON statements; a value, a key order or a list order that differed would show here.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModelVersion } from '../../../src/core/registry-api.js';
import { type Database, openDatabase } from '../../../src/metadata/database.js';
import type { RegistryDB } from '../../../src/metadata/schema.js';
import { ARTIFACT_MIGRATIONS } from '../../../src/registry/artifact-service.js';
import { type HydrateOptions, hydrateVersions } from '../../../src/registry/hydrate.js';
import { LFS_MIGRATIONS } from '../../../src/registry/lfs-service.js';
import { REGISTRY_MIGRATIONS } from '../../../src/registry/local-registry.js';
import { UPLOAD_MIGRATIONS } from '../../../src/registry/upload-service.js';
import {
  mlflowModelVersion,
  mlflowRegisteredModel,
} from '../../../src/server/routes/mlflow/registry-shapes.js';
import { type FreshDatabase, freshDatabase, TEST_DIALECTS } from '../../support/dialects.js';
import { startTestServer, storedManifest, type TestServer } from '../support/test-server.js';
import { queryString } from './support.js';

describe.each(TEST_DIALECTS)(
  'MLflow version reads on %s: the bytes of the per-table read',
  (dialect) => {
    let fresh: FreshDatabase;
    let server: TestServer;
    let database: Database<RegistryDB>;
    const MODELS = ['vr-alpha', 'VR-beta'];
    // Tag values a JSON text must escape, and keys whose code-unit and code-point orders differ.
    const VALUES = [
      '',
      'q"uote',
      'back\\slash',
      'tab\tline\nbreak',
      '\u0001',
      '\u{1F600}',
      '\uFF21',
    ];
    const KEYS = ['a', 'B', '_k', 'é', 'x.y', 'z b', '10', '9'];

    beforeAll(async () => {
      fresh = await freshDatabase(dialect);
      server = await startTestServer({ database: fresh.config });
      database = await openDatabase<RegistryDB>(fresh.config, [
        ...REGISTRY_MIGRATIONS,
        ...UPLOAD_MIGRATIONS,
        ...ARTIFACT_MIGRATIONS,
        ...LFS_MIGRATIONS,
      ]);
      const r = server.backend.registry;
      for (const name of MODELS) await r.createModel({ name });
      for (let i = 0; i < 14; i++) {
        const model = MODELS[i % 2]!;
        const v = await r.createVersion({
          model,
          manifest: await storedManifest(server, `vr${i}`),
          ...(i % 3 === 0
            ? {}
            : {
                description: VALUES[i % VALUES.length]!,
                tags: Object.fromEntries(
                  KEYS.slice(0, i % KEYS.length).map((k, j) => [
                    k,
                    VALUES[(i + j) % VALUES.length]!,
                  ]),
                ),
                metrics: { loss: 0.1 + 0.2 },
                params: { lr: '3e-4' },
              }),
        });
        const ref = `${model}@${v.version}`;
        if (i % 4 === 1) await r.setAlias(model, `champion${i}`, v.version);
        if (i % 4 === 1) await r.setAlias(model, `B${i}`, v.version);
        if (i % 5 === 2) await r.transitionStage(ref, 'Staging');
        if (i % 5 === 3) await r.transitionStage(ref, 'Production');
        if (i % 5 === 4) await r.transitionStage(ref, 'Archived');
        if (i === 12) await r.deleteVersion(ref);
      }
    });
    afterAll(async () => {
      await database?.close();
      await server?.close();
      await fresh?.cleanup();
    });

    async function text(path: string, query: Parameters<typeof queryString>[0] = {}) {
      const res = await fetch(`${server.url}/api/2.0/mlflow/${path}${queryString(query)}`);
      expect(res.status).toBe(200);
      return res.text();
    }

    /** The versions named by `items` (name, version), read the straightforward way. */
    async function reference(
      items: readonly { name: string; version: string }[],
      options: HydrateOptions = {},
    ): Promise<ModelVersion[]> {
      const rows = await database.db
        .selectFrom('model_versions as v')
        .innerJoin('registered_models as m', 'm.id', 'v.model_id')
        .selectAll('v')
        .select('m.name as model_name')
        .execute();
      const key = (name: string, version: number | string) => `${name}@${version}`;
      const byKey = new Map(rows.map((row) => [key(row.model_name, row.version), row]));
      return hydrateVersions(
        database.db,
        items.map((i) => byKey.get(key(i.name, i.version))!),
        'per-table',
        options,
      );
    }

    it('model-versions/search answers the bytes of the per-table read, every page', async () => {
      const queries = [
        {},
        { filter: "name='vr-alpha'" },
        { filter: "name='VR-beta'", order_by: 'version_number ASC' },
        { filter: "name LIKE 'vr%'", max_results: 3 },
        { filter: "tags.a = 'q\"uote'" },
      ];
      let pages = 0;
      for (const q of queries) {
        let token: string | undefined;
        do {
          const got = await text('model-versions/search', {
            ...q,
            ...(token ? { page_token: token } : {}),
          });
          const body = JSON.parse(got) as {
            model_versions?: { name: string; version: string }[];
            next_page_token?: string;
          };
          const items = body.model_versions ?? [];
          const expected = await reference(items, { listing: true });
          expect(got).toBe(
            JSON.stringify({
              ...(items.length > 0 ? { model_versions: expected.map(mlflowModelVersion) } : {}),
              ...(body.next_page_token ? { next_page_token: body.next_page_token } : {}),
            }),
          );
          token = body.next_page_token;
          pages++;
        } while (token);
      }
      expect(pages).toBeGreaterThan(queries.length);
    });

    it('model-versions/get answers the bytes of the per-table read, version by version', async () => {
      const all = await reference(
        (
          await database.db
            .selectFrom('model_versions as v')
            .innerJoin('registered_models as m', 'm.id', 'v.model_id')
            .select(['m.name', 'v.version'])
            .where('v.deleted_at', 'is', null)
            .execute()
        ).map((r) => ({ name: r.name, version: String(r.version) })),
      );
      expect(all.length).toBe(13);
      expect(all.some((v) => Object.keys(v.tags).length > 3 && v.aliases.length === 2)).toBe(true);
      for (const v of all) {
        const got = await text('model-versions/get', { name: v.model, version: v.version });
        expect(got).toBe(JSON.stringify({ model_version: mlflowModelVersion(v) }));
      }
    });

    it('get-latest-versions and registered-models/get answer the bytes of the per-table read', async () => {
      for (const name of MODELS) {
        const got = await text('registered-models/get-latest-versions', { name });
        const items = (JSON.parse(got) as { model_versions: { name: string; version: string }[] })
          .model_versions;
        expect(items.length).toBeGreaterThan(1);
        const latest = await reference(items);
        expect(got).toBe(JSON.stringify({ model_versions: latest.map(mlflowModelVersion) }));
        const model = await server.backend.registry.getModel(name);
        expect(await text('registered-models/get', { name })).toBe(
          JSON.stringify({ registered_model: mlflowRegisteredModel(model, latest) }),
        );
      }
    });
  },
);
