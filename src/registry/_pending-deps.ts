/**
 * PLACEHOLDER — replace at merge. Minimal stand-ins for modules other developers are
 * writing in parallel, so the registry services compile and their tests run:
 *
 * - `src/core/names.ts`          → validateModelName, validateAlias, validateTagKey,
 *                                  validateMetricKey, validateParamKey
 * - `src/core/version-ref.ts`    → VersionRef, parseVersionRef
 * - `src/metadata/audit-chain.ts` → GENESIS_HASH, computeEventHash (canonical JSON, SHA-256)
 * - `src/metadata/search/filter-parser.ts` → parseFilter, parseOrderBy
 *
 * Each export below states the contract the registry relies on. Nothing else in the
 * registry knows these are placeholders: every call site imports from this one file.
 */
import { createHash } from 'node:crypto';
import { InvalidArgumentError } from '../core/errors.js';
import type {
  CompareOp,
  FieldRef,
  FieldScope,
  FilterExpr,
  FilterValue,
  OrderByTerm,
} from '../metadata/search/filter-ast.js';

// ---------------------------------------------------------------- names (core/names.ts)

function checkName(value: unknown, what: string, pattern: RegExp, max: number): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > max) {
    throw new InvalidArgumentError(`invalid ${what} '${String(value).slice(0, 80)}'`, { value });
  }
  if (!pattern.test(value)) {
    throw new InvalidArgumentError(`invalid ${what} '${value.slice(0, 80)}'`, { value });
  }
  return value;
}

/** Returns the name unchanged or throws InvalidArgumentError. Never contains `@` or `/`. */
export function validateModelName(name: string): string {
  return checkName(name, 'model name', /^[A-Za-z0-9][A-Za-z0-9._-]*$/, 256);
}

/** Aliases look like identifiers; `latest` and `v<digits>` are reserved (they are refs). */
export function validateAlias(alias: string): string {
  checkName(alias, 'alias', /^[A-Za-z_][A-Za-z0-9_-]*$/, 256);
  if (alias === 'latest' || /^v\d+$/.test(alias)) {
    throw new InvalidArgumentError(`alias '${alias}' is reserved`, { value: alias });
  }
  return alias;
}

const KEY = /^[A-Za-z0-9_\-./ :]+$/;
export function validateTagKey(key: string): string {
  return checkName(key, 'tag key', KEY, 250);
}
export function validateMetricKey(key: string): string {
  return checkName(key, 'metric key', KEY, 250);
}
export function validateParamKey(key: string): string {
  return checkName(key, 'param key', KEY, 250);
}

// --------------------------------------------------------- version refs (core/version-ref.ts)

export type VersionRef =
  | { readonly model: string; readonly kind: 'number'; readonly number: number }
  | { readonly model: string; readonly kind: 'alias'; readonly alias: string }
  | { readonly model: string; readonly kind: 'latest' }
  | { readonly model: string; readonly kind: 'digest'; readonly digest: string }
  | { readonly model: string; readonly kind: 'stage'; readonly stage: string };

const STAGES = ['None', 'Staging', 'Production', 'Archived'];

/**
 * Parses `NAME@3`, `NAME@alias`, `NAME@latest`, `NAME@sha256:<hex>`, `models:/NAME/3`,
 * `models:/NAME@alias`, `models:/NAME/Production`, `models:/NAME/latest`.
 * @throws InvalidArgumentError for anything else.
 */
export function parseVersionRef(text: string): VersionRef {
  const bad = () => new InvalidArgumentError(`invalid version reference '${text.slice(0, 120)}'`);
  let model: string;
  let rest: string;
  if (text.startsWith('models:/')) {
    const body = text.slice('models:/'.length);
    const at = body.indexOf('@');
    const slash = body.indexOf('/');
    if (at > 0 && slash < 0) {
      model = body.slice(0, at);
      rest = body.slice(at + 1);
    } else if (slash > 0 && at < 0) {
      model = body.slice(0, slash);
      rest = body.slice(slash + 1);
      const stage = STAGES.find((s) => s.toLowerCase() === rest.toLowerCase());
      if (stage) return { model: validateModelName(model), kind: 'stage', stage };
    } else throw bad();
  } else {
    const at = text.indexOf('@');
    if (at <= 0) throw bad();
    model = text.slice(0, at);
    rest = text.slice(at + 1);
  }
  validateModelName(model);
  if (/^[1-9]\d{0,15}$/.test(rest)) return { model, kind: 'number', number: Number(rest) };
  if (rest === 'latest') return { model, kind: 'latest' };
  if (/^sha256:[0-9a-fA-F]{64}$/.test(rest)) {
    return { model, kind: 'digest', digest: rest.slice(7).toLowerCase() };
  }
  if (rest === '') throw bad();
  return { model, kind: 'alias', alias: validateAlias(rest) };
}

// ------------------------------------------------------ audit chain (metadata/audit-chain.ts)

/** What is hashed: every column of an audit event except `hash`. */
export interface ChainEventBody {
  readonly seq: number;
  readonly time: number;
  readonly actor: string;
  readonly action: string;
  readonly subject: string;
  readonly data: unknown;
  readonly prevHash: string;
}

/** The `prevHash` of the first event. */
export const GENESIS_HASH = '0'.repeat(64);

function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

/** Canonical JSON (sorted keys, no whitespace, undefined members dropped) — also used to store `data`. */
export function toCanonicalJson(value: unknown): string {
  return canonicalJson(value);
}

/** SHA-256 hex over the canonical JSON of the event body. Pure and deterministic. */
export function computeEventHash(body: ChainEventBody): string {
  return createHash('sha256').update(canonicalJson(body)).digest('hex');
}

// ------------------------------------------------- filter parser (metadata/search/filter-parser.ts)

type Token =
  | { t: 'word'; v: string; pos: number }
  | { t: 'str'; v: string; pos: number }
  | { t: 'num'; v: number; pos: number }
  | { t: 'op'; v: string; pos: number }
  | { t: 'eof'; pos: number };

function filterError(message: string, pos: number): InvalidArgumentError {
  return new InvalidArgumentError(`invalid filter at position ${pos}: ${message}`, {
    position: pos,
  });
}

function tokenize(text: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if (c === "'" || c === '"' || c === '`') {
      const start = i++;
      let v = '';
      for (;;) {
        if (i >= text.length) throw filterError('unterminated string', start);
        if (text[i] === c) {
          if (text[i + 1] === c) {
            v += c;
            i += 2;
            continue;
          }
          i++;
          break;
        }
        v += text[i++];
      }
      out.push(c === '`' ? { t: 'word', v, pos: start } : { t: 'str', v, pos: start });
    } else if (/[0-9]/.test(c) || (c === '-' && /[0-9.]/.test(text[i + 1] ?? ''))) {
      const m = /^-?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?/.exec(text.slice(i))!;
      out.push({ t: 'num', v: Number(m[0]), pos: i });
      i += m[0].length;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z0-9_.\-/:]+/.exec(text.slice(i))!;
      out.push({ t: 'word', v: m[0], pos: i });
      i += m[0].length;
    } else {
      const m = /^(<=|>=|!=|<>|=|<|>|\(|\)|,|\.)/.exec(text.slice(i));
      if (!m) throw filterError(`unexpected character '${c}'`, i);
      out.push({ t: 'op', v: m[0] === '<>' ? '!=' : m[0], pos: i });
      i += m[0].length;
    }
  }
  out.push({ t: 'eof', pos: text.length });
  return out;
}

const SCOPES: Record<string, FieldScope> = {
  metric: 'metric',
  metrics: 'metric',
  param: 'param',
  params: 'param',
  tag: 'tag',
  tags: 'tag',
  attribute: 'attribute',
  attributes: 'attribute',
  attr: 'attribute',
};

function fieldFrom(words: string, pos: number, next: () => Token | undefined): FieldRef {
  if (/^aliases?$/i.test(words)) return { scope: 'alias', key: '', pos };
  const dot = words.indexOf('.');
  const prefix = dot < 0 ? '' : words.slice(0, dot).toLowerCase();
  const scope = SCOPES[prefix];
  if (dot < 0 || !scope) {
    if (words.endsWith('.')) throw filterError(`bad field '${words}'`, pos);
    return { scope: 'attribute', key: words, pos };
  }
  let key = words.slice(dot + 1);
  if (key === '') {
    // `tags.`followed by a quoted key: tags.`my key` / tags."my key"
    const t = next();
    if (!t || (t.t !== 'word' && t.t !== 'str')) throw filterError('expected a key', pos);
    key = t.v;
  }
  return { scope, key, pos };
}

/**
 * Parses MLflow filter syntax with OR and parentheses into a FilterExpr.
 * @throws InvalidArgumentError `invalid filter at position N: …` with details.position.
 */
export function parseFilter(text: string): FilterExpr {
  const toks = tokenize(text);
  let i = 0;
  const peek = () => toks[i]!;
  const take = () => toks[i++]!;
  const isWord = (t: Token, w: string) => t.t === 'word' && t.v.toUpperCase() === w;

  const value = (): FilterValue => {
    const t = take();
    if (t.t === 'str' || t.t === 'num') return t.v;
    throw filterError('expected a value', t.pos);
  };
  const comparison = (): FilterExpr => {
    const t = take();
    if (t.t !== 'word') throw filterError('expected a field', t.pos);
    const field = fieldFrom(t.v, t.pos, () => {
      const n = peek();
      if (n.t === 'word' || n.t === 'str') return take();
      return undefined;
    });
    const opTok = take();
    if (isWord(opTok, 'IS')) {
      const negated = isWord(peek(), 'NOT');
      if (negated) take();
      if (!isWord(take(), 'NULL')) throw filterError('expected NULL', opTok.pos);
      return { kind: 'null', field, negated, pos: opTok.pos };
    }
    let negated = false;
    let inTok = opTok;
    if (isWord(opTok, 'NOT')) {
      negated = true;
      inTok = take();
    }
    if (isWord(inTok, 'IN')) {
      const open = take();
      if (open.t !== 'op' || open.v !== '(') throw filterError("expected '('", open.pos);
      const values: FilterValue[] = [value()];
      while (peek().t === 'op' && (peek() as { v: string }).v === ',') {
        take();
        values.push(value());
      }
      const close = take();
      if (close.t !== 'op' || close.v !== ')') throw filterError("expected ')'", close.pos);
      return { kind: 'in', field, negated, values, pos: opTok.pos };
    }
    if (negated) throw filterError('expected IN', inTok.pos);
    let op: CompareOp;
    if (opTok.t === 'op' && ['=', '!=', '<', '<=', '>', '>='].includes(opTok.v)) {
      op = opTok.v as CompareOp;
    } else if (isWord(opTok, 'LIKE') || isWord(opTok, 'ILIKE')) {
      op = (opTok as { v: string }).v.toUpperCase() as CompareOp;
    } else throw filterError('expected a comparison operator', opTok.pos);
    return { kind: 'compare', field, op, value: value(), pos: opTok.pos };
  };
  const primary = (): FilterExpr => {
    const t = peek();
    if (t.t === 'op' && t.v === '(') {
      take();
      const e = or();
      const close = take();
      if (close.t !== 'op' || close.v !== ')') throw filterError("expected ')'", close.pos);
      return e;
    }
    return comparison();
  };
  const and = (): FilterExpr => {
    const items = [primary()];
    while (isWord(peek(), 'AND')) {
      take();
      items.push(primary());
    }
    return items.length === 1 ? items[0]! : { kind: 'and', items };
  };
  function or(): FilterExpr {
    const items = [and()];
    while (isWord(peek(), 'OR')) {
      take();
      items.push(and());
    }
    return items.length === 1 ? items[0]! : { kind: 'or', items };
  }
  const expr = or();
  const end = peek();
  if (end.t !== 'eof') throw filterError('unexpected token', end.pos);
  return expr;
}

/**
 * Parses `metrics.auc DESC, name` into ORDER BY terms (direction defaults to ascending).
 * @throws InvalidArgumentError with details.position.
 */
export function parseOrderBy(text: string): OrderByTerm[] {
  const toks = tokenize(text);
  const out: OrderByTerm[] = [];
  let i = 0;
  for (;;) {
    const t = toks[i++]!;
    if (t.t !== 'word') throw filterError('expected a field', t.pos);
    const field = fieldFrom(t.v, t.pos, () => {
      const n = toks[i]!;
      if (n.t === 'word' || n.t === 'str') return toks[i++];
      return undefined;
    });
    let direction: 'asc' | 'desc' = 'asc';
    const d = toks[i]!;
    if (d.t === 'word' && /^(asc|desc)$/i.test(d.v)) {
      direction = d.v.toLowerCase() as 'asc' | 'desc';
      i++;
    }
    out.push({ field, direction });
    const sep = toks[i++]!;
    if (sep.t === 'eof') return out;
    if (sep.t !== 'op' || sep.v !== ',') throw filterError('expected , or end', sep.pos);
  }
}
