/**
 * A small JSON Schema builder whose values carry their TypeScript type, so one definition
 * drives request validation (Fastify's Ajv), the OpenAPI document (@fastify/swagger) and
 * the handler's types (through `SchemaTypeProvider`). It covers what the routes need and
 * nothing more; TypeBox would replace it one for one (see docs/api.md).
 *
 * Bodies are strict: unknown properties are refused (`additionalProperties: false`), and
 * Ajv runs without type coercion, so `{"version": "3"}` is a 400, not version 3. Query
 * strings and path parameters are therefore declared as patterned strings (`S.queryInt()`)
 * and converted in the handler.
 */
import type { FastifyTypeProvider } from 'fastify';

declare const STATIC: unique symbol;
declare const OPTIONAL: unique symbol;

/** A JSON Schema whose validated values have type T. */
export interface TSchema<T = unknown> {
  readonly [key: string]: unknown;
  readonly [STATIC]?: T;
}
/** A property schema that may be absent (the mark exists only in the type). */
export interface TOptional<T> extends TSchema<T> {
  readonly [OPTIONAL]: true;
}

export type Static<S> = S extends TSchema<infer T> ? T : never;

type OptionalKeys<P> = {
  [K in keyof P]: P[K] extends { readonly [OPTIONAL]: true } ? K : never;
}[keyof P];
type Props = Record<string, TSchema>;
type ObjectStatic<P extends Props> = {
  readonly [K in Exclude<keyof P, OptionalKeys<P>>]: Static<P[K]>;
} & {
  readonly [K in OptionalKeys<P>]?: Static<P[K]>;
};
type Simplify<T> = { [K in keyof T]: T[K] } & {};

type Annotations = {
  readonly description?: string;
  readonly examples?: readonly unknown[];
};

function make<T>(schema: Record<string, unknown>): TSchema<T> {
  return schema as TSchema<T>;
}

const DIGITS = '^[0-9]{1,15}$';

export const S = {
  string(
    opts: Annotations & {
      readonly minLength?: number;
      readonly maxLength?: number;
      readonly pattern?: string;
    } = {},
  ): TSchema<string> {
    return make({ type: 'string', ...opts });
  },
  integer(
    opts: Annotations & { readonly minimum?: number; readonly maximum?: number } = {},
  ): TSchema<number> {
    return make({ type: 'integer', ...opts });
  },
  number(opts: Annotations = {}): TSchema<number> {
    return make({ type: 'number', ...opts });
  },
  boolean(opts: Annotations = {}): TSchema<boolean> {
    return make({ type: 'boolean', ...opts });
  },
  /** One of the given strings. */
  enum<const T extends string>(values: readonly T[], opts: Annotations = {}): TSchema<T> {
    return make({ type: 'string', enum: values, ...opts });
  },
  array<T>(
    items: TSchema<T>,
    opts: Annotations & { readonly minItems?: number; readonly maxItems?: number } = {},
  ): TSchema<readonly T[]> {
    return make({ type: 'array', items, ...opts });
  },
  /** An object with arbitrary keys whose values all match `values`. */
  record<T>(
    values: TSchema<T>,
    opts: Annotations & { readonly maxProperties?: number } = {},
  ): TSchema<Readonly<Record<string, T>>> {
    return make({ type: 'object', additionalProperties: values, ...opts });
  },
  object<P extends Props>(
    properties: P,
    opts: Annotations & { readonly additionalProperties?: boolean; readonly $id?: string } = {},
  ): TSchema<Simplify<ObjectStatic<P>>> {
    const required = Object.keys(properties).filter(
      (k) => !(properties[k] as { [OPTIONAL_MARK]?: boolean })[OPTIONAL_MARK],
    );
    const props: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(properties)) props[k] = stripMark(v);
    return make({
      type: 'object',
      properties: props,
      ...(required.length > 0 ? { required } : {}),
      additionalProperties: opts.additionalProperties ?? false,
      ...(opts.description ? { description: opts.description } : {}),
      ...(opts.$id ? { $id: opts.$id } : {}),
    });
  },
  optional<T>(schema: TSchema<T>): TOptional<T> {
    return { ...schema, [OPTIONAL_MARK]: true } as unknown as TOptional<T>;
  },
  nullable<T>(schema: TSchema<T>): TSchema<T | null> {
    const type = schema.type;
    if (typeof type === 'string') return make({ ...schema, type: [type, 'null'] });
    return make({ anyOf: [schema, { type: 'null' }] });
  },
  /** Any JSON value. */
  unknown(opts: Annotations = {}): TSchema<unknown> {
    return make({ ...opts });
  },
  /** A reference to a shared schema added with `app.addSchema({$id})`. */
  ref<T>(id: string): TSchema<T> {
    return make({ $ref: `${id}#` });
  },
  /** A query-string integer (validated as digits; convert with `queryInt`). */
  queryInt(opts: Annotations = {}): TSchema<string> {
    return make({ type: 'string', pattern: DIGITS, ...opts });
  },
  /** A query-string boolean: `true` or `false`. */
  queryBool(opts: Annotations = {}): TSchema<'true' | 'false'> {
    return make({ type: 'string', enum: ['true', 'false'], ...opts });
  },
};

// The optional mark lives under a symbol-like string key removed before the schema is used.
const OPTIONAL_MARK = '__optional__';
function stripMark(schema: TSchema): Record<string, unknown> {
  const { [OPTIONAL_MARK]: _, ...rest } = schema as Record<string, unknown>;
  return rest;
}

export function queryInt(value: string | undefined): number | undefined {
  return value === undefined ? undefined : Number(value);
}

export function queryBool(value: 'true' | 'false' | undefined): boolean | undefined {
  return value === undefined ? undefined : value === 'true';
}

/** Fastify type provider: request parts get the static types of their schemas. */
export interface SchemaTypeProvider extends FastifyTypeProvider {
  validator: this['schema'] extends TSchema<infer T> ? T : unknown;
  serializer: unknown;
}
