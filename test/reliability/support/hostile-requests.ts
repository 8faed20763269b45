/**
 * fast-check arbitraries for hostile HTTP requests: a route of the server (its URL template
 * filled with hostile path parameters), a hostile query string, and a hostile body (malformed
 * JSON, JSON of the wrong types, huge and unicode strings, path traversal, invalid filters,
 * wrong content types). Field names come from the API itself (the OpenAPI document and the
 * MLflow message fields), so that many requests get past the first check.
 */
import fc from 'fast-check';
import { CHUNK_BATCH_MEDIA_TYPE } from '../../../src/core/upload-protocol.js';

export interface HostileRequest {
  readonly method: string;
  /** Path and query, already percent-encoded where needed (sent as is). */
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly body?: string | Buffer;
}

/** Values the registry knows, so that hostile requests reach past "not found". */
export interface KnownValues {
  readonly model: string;
  readonly version: number;
  readonly fileSha256: string;
  readonly filePath: string;
  readonly runId: string;
  readonly experimentId: string;
  readonly uploadId: string;
}

/** MLflow message fields (src/server/routes/mlflow/*): MLflow's routes have no JSON schema. */
const MLFLOW_FIELDS = [
  'alias',
  'aliases',
  'archive_existing_versions',
  'artifact_location',
  'dataset',
  'datasets',
  'description',
  'digest',
  'end_time',
  'experiment_id',
  'experiment_ids',
  'experiment_name',
  'filter',
  'inputs',
  'key',
  'max_results',
  'metric_key',
  'metrics',
  'model_json',
  'name',
  'new_name',
  'order_by',
  'page_token',
  'params',
  'path',
  'run_id',
  'run_name',
  'run_uuid',
  'run_view_type',
  'source',
  'source_type',
  'stage',
  'stages',
  'start_time',
  'status',
  'step',
  'tags',
  'timestamp',
  'upload_id',
  'user_id',
  'value',
  'version',
  'view_type',
];

/** Every property name in a JSON document (the OpenAPI document's schemas). */
export function propertyNames(doc: unknown, into = new Set<string>()): Set<string> {
  if (Array.isArray(doc)) for (const d of doc) propertyNames(d, into);
  else if (doc && typeof doc === 'object') {
    for (const [k, v] of Object.entries(doc)) {
      if (k === 'properties' && v && typeof v === 'object') {
        for (const name of Object.keys(v)) into.add(name);
      }
      if (k === 'parameters' && Array.isArray(v)) {
        for (const p of v) if (typeof p?.name === 'string') into.add(p.name);
      }
      propertyNames(v, into);
    }
  }
  return into;
}

const HEX64 = 'ab'.repeat(32);

/** Percent-encodes text for a URL (lone surrogates, which cannot be encoded, become U+FFFD). */
function encode(text: string, max: number): string {
  return encodeURIComponent(text.slice(0, max).replace(/\p{Cs}/gu, '\ufffd'));
}

/** Strings that have broken parsers, validators and path handling elsewhere. */
function nastyStrings(known: KnownValues): string[] {
  return [
    '',
    ' ',
    '0',
    '-1',
    '1.5',
    '1e309',
    '99999999999999999999999',
    'NaN',
    'Infinity',
    'null',
    'true',
    '[]',
    '{}',
    '..',
    '../..',
    '../../etc/passwd',
    '..\\..\\windows',
    '/etc/passwd',
    'C:\\Windows\\system32',
    'a/../../b',
    './a',
    'a//b',
    'a\u0000b',
    '\u0000',
    '%00',
    '%2e%2e%2f',
    '%',
    '%ZZ',
    '\ud800',
    '\uffff',
    '\u202etxt.exe',
    'ünïcødé-名前-💥',
    'Ａ＠１',
    "' OR '1'='1",
    "'; DROP TABLE versions; --",
    '" OR ""="',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a log4shell probe, literally
    '${jndi:ldap://x}',
    '<script>alert(1)</script>',
    'x'.repeat(300),
    'y'.repeat(5000),
    HEX64,
    `sha256:${HEX64}`,
    'models:/x/1',
    'models:/x@prod',
    'mlflow-artifacts:/../../x',
    'file:///etc/passwd',
    'runs:/abc/model',
    known.model,
    `${known.model}@${known.version}`,
    `${known.model}@production`,
    `${known.model}@v${known.version}`,
    `${known.model}@999`,
    `models:/${known.model}/${known.version}`,
    String(known.version),
    known.fileSha256,
    known.filePath,
    known.runId,
    known.experimentId,
    known.uploadId,
  ];
}

/** Filter expressions, mostly invalid, in MLflow's syntax. */
const FILTERS = [
  "name = 'm'",
  "name LIKE 'm%'",
  'metrics.auc > 0.5',
  "tags.team = 'risk' AND version_number > 0",
  'metrics.auc >',
  'name LIKE',
  "name = 'unterminated",
  'tags.`x = 1',
  '((((((((((',
  ')))',
  'AND AND OR',
  "metrics.auc > 'abc'",
  "params.lr IN ('a'",
  'params.lr IN ()',
  'version_number > 99999999999999999999999',
  'version_number = -1',
  "run_id = '\u0000'",
  "name = 'x' OR ".repeat(300) + "name = 'y'",
  `name = '${'z'.repeat(20_000)}'`,
  'metrics.`a b` >= 1e400',
  'attributes.status = 1',
  'tags."x" ILIKE \'%\'',
  'unknown_column = 3',
  "name RLIKE '.*'",
  'NOT name = 1',
];

export interface Pools {
  readonly strings: fc.Arbitrary<string>;
  readonly values: fc.Arbitrary<unknown>;
  readonly fields: readonly string[];
}

export function pools(known: KnownValues, schemaFields: Iterable<string>): Pools {
  const strings = fc.oneof(
    { weight: 5, arbitrary: fc.constantFrom(...nastyStrings(known)) },
    { weight: 2, arbitrary: fc.constantFrom(...FILTERS) },
    { weight: 2, arbitrary: fc.string() },
    { weight: 2, arbitrary: fc.string({ unit: 'grapheme' }) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
    { weight: 1, arbitrary: fc.string({ minLength: 1000, maxLength: 20_000 }) },
    { weight: 1, arbitrary: fc.stringMatching(/^[a-z][a-z0-9._-]{0,20}$/) },
  );
  const scalars = fc.oneof(
    { weight: 6, arbitrary: strings },
    { weight: 2, arbitrary: fc.integer() },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        0,
        -1,
        1,
        2 ** 53,
        -(2 ** 63),
        1e308,
        1.5,
        Number.MAX_SAFE_INTEGER,
      ),
    },
    { weight: 1, arbitrary: fc.double() },
    { weight: 1, arbitrary: fc.boolean() },
    { weight: 1, arbitrary: fc.constant(null) },
  );
  const fields = [...new Set([...MLFLOW_FIELDS, ...schemaFields])].sort();
  const values = fc.letrec<{ value: unknown }>((tie) => ({
    value: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      { weight: 6, arbitrary: scalars },
      { weight: 1, arbitrary: fc.array(tie('value'), { maxLength: 4 }) },
      {
        weight: 1,
        arbitrary: fc.dictionary(
          fc.oneof(fc.constantFrom(...fields), strings),
          tie('value') as fc.Arbitrary<unknown>,
          { maxKeys: 4 },
        ),
      },
    ),
  })).value;
  return { strings, values, fields };
}

/** A path parameter: percent-encoded hostile text, or a raw traversal segment. */
function pathParam(p: Pools): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 8, arbitrary: p.strings.map((s) => encode(s, 3000)) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        '..',
        '.',
        '%2e%2e',
        '%2F',
        '..%2f..%2fetc',
        '%00',
        '%',
        '%ZZ',
        '%ED%A0%80',
        '%C0%AE',
      ),
    },
  );
}

/** The `*` of a wildcard route: several segments, some of them traversal. */
function wildcard(p: Pools): fc.Arbitrary<string> {
  return fc
    .array(
      fc.oneof(
        { weight: 4, arbitrary: pathParam(p) },
        { weight: 1, arbitrary: fc.constantFrom('..', '.', '', '%2e%2e', '0', 'artifacts') },
      ),
      { minLength: 1, maxLength: 5 },
    )
    .map((segments) => segments.join('/'));
}

function queryString(p: Pools): fc.Arbitrary<string> {
  const key = fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...p.fields) }, p.strings);
  const value = fc.oneof(
    { weight: 4, arbitrary: p.strings },
    { weight: 1, arbitrary: fc.integer().map(String) },
  );
  return fc
    .array(fc.tuple(key, value), { maxLength: 5 })
    .map((pairs) =>
      pairs.length === 0
        ? ''
        : `?${pairs.map(([k, v]) => `${encode(k, 500)}=${encode(v, 8000)}`).join('&')}`,
    );
}

const MALFORMED_JSON = [
  '{',
  '}',
  '{"name":',
  '{"name": "m",}',
  '[1, 2',
  'nul',
  'undefined',
  "{'name': 'm'}",
  '{"a":1}}',
  '{"__proto__": {"polluted": true}}',
  '{"constructor": {"prototype": {"polluted": true}}}',
  '\u0000',
  '{"name": "\\ud800"}',
  '{"name": "\\u0000"}',
  `{"n": ${'['.repeat(5000)}${']'.repeat(5000)}}`,
  '1e99999',
  '"just a string"',
  '123',
  '[]',
  'null',
];

interface Payload {
  readonly body?: string | Buffer;
  readonly contentType?: string | undefined;
}

function body(p: Pools): fc.Arbitrary<Payload> {
  const jsonObject = fc
    .dictionary(fc.constantFrom(...p.fields), p.values, { maxKeys: 6 })
    .map((o) => JSON.stringify(o));
  const text = fc.oneof(
    { weight: 6, arbitrary: jsonObject },
    { weight: 2, arbitrary: fc.constantFrom(...MALFORMED_JSON) },
    { weight: 1, arbitrary: fc.json() },
    { weight: 1, arbitrary: p.strings },
    { weight: 1, arbitrary: fc.constant('') },
  );
  const contentType = fc.oneof(
    { weight: 8, arbitrary: fc.constant('application/json') },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        'text/plain',
        'application/octet-stream',
        CHUNK_BATCH_MEDIA_TYPE,
        'application/x-www-form-urlencoded',
        'multipart/form-data; boundary=x',
        'application/json; charset=utf-16',
        'application/json; charset=nonsense',
        'application/json ;;;',
        '',
      ),
    },
    { weight: 1, arbitrary: fc.constant(undefined) },
  );
  return fc.oneof(
    { weight: 12, arbitrary: fc.record({ body: text, contentType }) },
    // Binary bodies: random bytes, and a body over the 1 MiB JSON limit.
    {
      weight: 1,
      arbitrary: fc.record({
        body: fc.uint8Array({ maxLength: 4096 }).map((b) => Buffer.from(b)),
        contentType,
      }),
    },
    {
      weight: 1,
      arbitrary: fc.constant({
        body: JSON.stringify({ name: 'n'.repeat(1100 * 1024) }),
        contentType: 'application/json',
      }),
    },
    { weight: 1, arbitrary: fc.constant({}) },
  );
}

/** Fills `:param` and `*` of a route template. */
function fillTemplate(template: string, p: Pools): fc.Arbitrary<string> {
  const parts = template.split(/(:[A-Za-z]+|\*)/).filter((s) => s !== '');
  return fc
    .tuple(
      ...parts.map((part) =>
        part === '*' ? wildcard(p) : part.startsWith(':') ? pathParam(p) : fc.constant(part),
      ),
    )
    .map((filled) => filled.join(''));
}

export function hostileRequest(
  routes: readonly { method: string; url: string }[],
  p: Pools,
): fc.Arbitrary<HostileRequest> {
  return fc.constantFrom(...routes).chain((route) =>
    fc
      .record({
        path: fillTemplate(route.url, p),
        query: queryString(p),
        payload: ['GET', 'HEAD'].includes(route.method) ? fc.constant<Payload>({}) : body(p),
      })
      .map(({ path, query, payload }) => {
        const headers: Record<string, string> = {};
        if (payload.contentType !== undefined) headers['content-type'] = payload.contentType;
        return {
          method: route.method,
          url: `${path}${query}`,
          headers,
          ...(payload.body !== undefined ? { body: payload.body } : {}),
        };
      }),
  );
}
