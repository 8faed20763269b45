/**
 * Reading MLflow request messages: the JSON body of POST/PATCH/DELETE, or the query string
 * of GET (repeated keys are lists). As MLflow's server does, unknown fields are ignored;
 * known fields are type-checked strictly, with MLflow's messages
 * ("Missing value for required parameter 'x'…", "Invalid value … for parameter 'x'
 * supplied…"), all INVALID_PARAMETER_VALUE. Numbers follow protobuf's JSON mapping:
 * int64 fields take a JSON number or a decimal string, doubles also "NaN", "Infinity",
 * "-Infinity". Response helpers encode NaN/±Infinity back as those strings, as MLflow does.
 */
import type { FastifyRequest } from 'fastify';
import type { AccessRule } from '../../auth/access-rule.js';
import type { App } from '../../context.js';
import { MlflowApiError } from './mlflow-errors.js';

export { jsonDouble, omitEmpty } from '../../../registry/mlflow-json.js';

export type Message = Readonly<Record<string, unknown>>;

const HINT = 'See the API docs for more information about request parameters.';

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'list';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float';
  if (typeof v === 'string') return 'str';
  if (typeof v === 'boolean') return 'bool';
  return typeof v === 'object' ? 'dict' : typeof v;
}

function shown(v: unknown): string {
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return (s ?? String(v)).slice(0, 200);
}

export function missing(name: string): MlflowApiError {
  return new MlflowApiError(
    'INVALID_PARAMETER_VALUE',
    `Missing value for required parameter '${name}'. ${HINT}`,
  );
}

export function invalidValue(name: string, value: unknown): MlflowApiError {
  return new MlflowApiError(
    'INVALID_PARAMETER_VALUE',
    `Invalid value ${shown(value)} for parameter '${name}' supplied. Hint: Value was of type '${typeName(value)}'. ${HINT}`,
  );
}

/** Messages read from a query string, where a list of one is a single value. */
const FROM_QUERY = new WeakSet<object>();

/** The request message: the query string for GET, otherwise the JSON body (or `{}`). */
export function messageOf(req: FastifyRequest): Message {
  const source = req.method === 'GET' ? req.query : req.body;
  if (source === undefined || source === null) return {};
  if (req.method === 'GET' && typeof source === 'object') FROM_QUERY.add(source);
  if (typeof source !== 'object' || Array.isArray(source)) {
    throw new MlflowApiError('INVALID_PARAMETER_VALUE', 'the request body must be a JSON object');
  }
  return source as Message;
}

/** A query string's repeated key is a list; a scalar field takes its last value. */
function scalar(m: Message, name: string): unknown {
  const v = m[name];
  return Array.isArray(v) && v.every((x) => typeof x === 'string') && v.length > 0
    ? v[v.length - 1]
    : v;
}

export function optString(m: Message, name: string): string | undefined {
  const v = scalar(m, name);
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw invalidValue(name, v);
  return v;
}

export function reqString(m: Message, name: string): string {
  const v = optString(m, name);
  if (v === undefined || v === '') throw missing(name);
  return v;
}

/** `run_id`, or MLflow's legacy `run_uuid`. */
export function runIdOf(m: Message): string {
  const id = optString(m, 'run_id') || optString(m, 'run_uuid');
  if (id === undefined || id === '') throw missing('run_id');
  return id;
}

/** An int64 field: a JSON integer or a decimal string (protobuf's JSON mapping). */
export function optInt64(m: Message, name: string): number | undefined {
  const v = scalar(m, name);
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'number' && Number.isSafeInteger(v)) return v;
  if (typeof v === 'string' && /^-?[0-9]{1,16}$/.test(v)) return Number(v);
  throw invalidValue(name, v);
}

export function reqInt64(m: Message, name: string): number {
  const v = optInt64(m, name);
  if (v === undefined) throw missing(name);
  return v;
}

/** A double: a JSON number, a numeric string, "NaN", "Infinity" or "-Infinity". */
export function parseDouble(name: string, v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string') {
    if (v === 'NaN') return Number.NaN;
    if (v === 'Infinity' || v === 'inf') return Number.POSITIVE_INFINITY;
    if (v === '-Infinity' || v === '-inf') return Number.NEGATIVE_INFINITY;
    if (/^-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/.test(v.trim())) return Number(v);
  }
  throw invalidValue(name, v);
}

/** A repeated string field (a query string's single value is a one-item list). */
export function optStringList(m: Message, name: string): string[] | undefined {
  const v = m[name];
  if (v === undefined || v === null) return undefined;
  const single = typeof v === 'string' && FROM_QUERY.has(m);
  const list = Array.isArray(v) ? v : single ? [v] : undefined;
  if (list === undefined || list.some((x) => typeof x !== 'string')) throw invalidValue(name, v);
  return list as string[];
}

/** A repeated message field: a list of JSON objects. */
export function optObjectList(m: Message, name: string): Message[] | undefined {
  const v = m[name];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.some((x) => x === null || typeof x !== 'object' || Array.isArray(x))) {
    throw invalidValue(name, v);
  }
  return v as Message[];
}

/** `{key, value}` pairs (tags, params), strings both. */
export function keyValues(m: Message, name: string): { key: string; value: string }[] | undefined {
  return optObjectList(m, name)?.map((item) => ({
    key: reqString(item, 'key'),
    value: optString(item, 'value') ?? '',
  }));
}

/**
 * A response body already encoded as JSON text, sent as it is (e.g. a run that SQLite
 * encoded itself: TrackingService.getRunJson).
 */
export class JsonText {
  constructor(readonly text: string) {}
}

export type MlflowHandler = (
  m: Message,
  req: FastifyRequest,
) => Promise<object | JsonText> | object | JsonText;

/**
 * Registers an MLflow endpoint: `methods` at `path` (relative to the API prefix), open to
 * whom `access` allows (server/auth/access-rule.ts), reading the request message and answering 200 with the handler's object as JSON
 * (or its JsonText as it is).
 */
export function endpoint(
  scope: App,
  methods: 'GET' | 'POST' | 'PATCH' | 'DELETE' | readonly ('GET' | 'POST' | 'PATCH' | 'DELETE')[],
  path: string,
  access: AccessRule,
  handler: MlflowHandler,
): void {
  scope.route({
    method: typeof methods === 'string' ? methods : [...methods],
    url: path,
    config: { access },
    schema: { hide: true },
    handler: async (req, reply) => {
      const body = await handler(messageOf(req), req);
      return reply
        .status(200)
        .type('application/json')
        .send(body instanceof JsonText ? body.text : body);
    },
  });
}
