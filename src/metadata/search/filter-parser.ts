/**
 * Parses search filters and order-by clauses in MLflow's filter syntax, extended with OR
 * and parentheses, into the AST of filter-ast.ts. Pure; no SQL is produced here.
 *
 * Grammar (keywords case-insensitive; field prefixes and attribute names case-sensitive,
 * as in MLflow):
 *
 *   filter     := or
 *   or         := and ( OR and )*
 *   and        := primary ( AND primary )*              AND binds tighter than OR
 *   primary    := '(' or ')' | predicate                at most MAX_FILTER_DEPTH '(' deep
 *   predicate  := field op value
 *               | field [NOT] IN '(' value ( ',' value )* ')'
 *               | field IS [NOT] NULL
 *   op         := = | != | <> | < | <= | > | >= | LIKE | ILIKE
 *   field      := ATTRIBUTE                              name, version_number, run_id, …
 *               | prefix '.' key                         metrics.auc, tags.`my key`
 *   prefix     := attribute(s) | attr | run              → attribute (key must be known)
 *               | metric(s)                              → metric
 *               | param(s) | parameter(s)                → param
 *               | tag(s)                                 → tag
 *   key        := bare | `backticked` | "double" | 'single'
 *   bare       := one or more of: letters, digits, _ . - / :   (tags.mlflow.source.name)
 *   value      := string | number
 *   string     := '…' | "…"   \\ \' \" are escapes, as is a doubled quote ('it''s');
 *                            any other backslash is kept, so LIKE 'a\_b' reaches the
 *                            compiler as a\_b
 *   number     := -? ( digits [ . digits? ] | . digits ) [ (e|E) [+-] digits ]
 *
 * Type rules, checked here so the compiler can trust the AST:
 *   metrics, numeric attributes  =, !=, <, <=, >, >=, IN, NOT IN with numbers
 *                                (a numeric attribute also takes a quoted number,
 *                                version_number = '3', as MLflow clients send it)
 *   tags, params, alias, string attributes
 *                                =, !=, LIKE, ILIKE, IN, NOT IN with quoted strings
 *   every field                  IS NULL, IS NOT NULL
 *
 * AST shape: AND/OR chains are flattened (`a AND (b AND c)` is one 'and' of three items)
 * and a parenthesised single predicate is the predicate itself. Positions are 0-based
 * UTF-16 offsets into the text: a FieldRef's is the field's first character; a compare's
 * is its operator's, an 'in' node's that of NOT or IN, a 'null' node's that of IS.
 *
 * Every error is a FilterSyntaxError (an InvalidArgumentError, so a 400) with
 * `details: { position, expected, found }`. Input longer than MAX_FILTER_LENGTH or nested
 * deeper than MAX_FILTER_DEPTH is refused, so hostile input costs linear time and
 * bounded stack.
 */
import { InvalidArgumentError } from '../../core/errors.js';
import type {
  CompareOp,
  FieldRef,
  FieldScope,
  FilterExpr,
  FilterValue,
  OrderByTerm,
} from './filter-ast.js';

export const MAX_FILTER_LENGTH = 10_000;
export const MAX_FILTER_DEPTH = 32;

export interface FilterSyntaxDetails {
  /** 0-based UTF-16 offset of the offending token (or of the end of input). */
  readonly position: number;
  /** What the parser wanted there, in words: "a value", "')'", "AND, OR or end of input". */
  readonly expected: string;
  /** What it found: the token's text in quotes, or "end of input". */
  readonly found: string;
  /** For an order_by list given as an array: which element. */
  readonly index?: number;
}

/** A filter or order-by clause that does not parse or breaks a type rule. */
export class FilterSyntaxError extends InvalidArgumentError {
  readonly position: number;
  readonly expected: string;
  readonly found: string;

  constructor(what: string, details: FilterSyntaxDetails, after?: string) {
    super(
      `invalid ${what} at position ${details.position}: expected ${details.expected}` +
        `${after === undefined ? '' : ` after ${after}`} but found ${details.found}`,
      { ...details },
    );
    this.position = details.position;
    this.expected = details.expected;
    this.found = details.found;
  }
}

export type FieldType = 'string' | 'number';

/** A field written as a bare word (`name`, `alias`) or as `attributes.<word>`. */
export interface BareFieldSpec {
  readonly scope: Extract<FieldScope, 'attribute' | 'alias'>;
  /** The key the AST carries (synonyms map to one key: source_path → source). */
  readonly key: string;
  readonly type: FieldType;
  /** May appear in order_by. Default true. */
  readonly orderable?: boolean;
}

export interface FilterParseOptions {
  /** Bare fields this search understands. Default: MODEL_VERSION_FIELDS. */
  readonly fields?: Readonly<Record<string, BareFieldSpec>>;
}

const attr = (key: string, type: FieldType): BareFieldSpec => ({ scope: 'attribute', key, type });

/**
 * Fields of model-version (and registered-model) search. `source_path` (MLflow's name)
 * and `timestamp` are synonyms of `source` and `creation_timestamp`. `alias` (or
 * `aliases`) compares the names of the aliases pointing at a version:
 * `alias = 'production'`, `alias IS NULL` (no alias at all).
 */
export const MODEL_VERSION_FIELDS: Readonly<Record<string, BareFieldSpec>> = {
  name: attr('name', 'string'),
  version_number: attr('version_number', 'number'),
  run_id: attr('run_id', 'string'),
  source: attr('source', 'string'),
  source_path: attr('source', 'string'),
  user_id: attr('user_id', 'string'),
  creation_timestamp: attr('creation_timestamp', 'number'),
  timestamp: attr('creation_timestamp', 'number'),
  last_updated_timestamp: attr('last_updated_timestamp', 'number'),
  alias: { scope: 'alias', key: 'alias', type: 'string', orderable: false },
  aliases: { scope: 'alias', key: 'alias', type: 'string', orderable: false },
};

const PREFIXES: ReadonlyMap<string, Exclude<FieldScope, 'alias'>> = new Map([
  ['attribute', 'attribute'],
  ['attributes', 'attribute'],
  ['attr', 'attribute'],
  ['run', 'attribute'],
  ['metric', 'metric'],
  ['metrics', 'metric'],
  ['param', 'param'],
  ['params', 'param'],
  ['parameter', 'param'],
  ['parameters', 'param'],
  ['tag', 'tag'],
  ['tags', 'tag'],
  ['dataset', 'dataset'],
  ['datasets', 'dataset'],
]);

/** The keys of `datasets.<key>` (MLflow's DATASET_ATTRIBUTES); text, not orderable. */
export const DATASET_KEYS: readonly string[] = ['name', 'digest', 'context'];

const KEYWORDS = new Set(['AND', 'OR', 'NOT', 'IN', 'IS', 'NULL', 'LIKE', 'ILIKE', 'ASC', 'DESC']);

const NUMBER_OPS: readonly string[] = ['=', '!=', '<', '<=', '>', '>=', 'IN', 'NOT IN', 'IS'];
const STRING_OPS: readonly string[] = ['=', '!=', 'LIKE', 'ILIKE', 'IN', 'NOT IN', 'IS'];

// ---------------------------------------------------------------------------------------
// Lexer

type Token =
  | { readonly t: 'word'; readonly text: string; readonly pos: number; readonly end: number }
  | {
      readonly t: 'field';
      readonly prefix: string;
      readonly key: string;
      readonly pos: number;
      readonly end: number;
    }
  | { readonly t: 'string'; readonly value: string; readonly pos: number; readonly end: number }
  | { readonly t: 'number'; readonly value: number; readonly pos: number; readonly end: number }
  | { readonly t: 'op'; readonly op: CompareOp; readonly pos: number; readonly end: number }
  | { readonly t: '(' | ')' | ','; readonly pos: number; readonly end: number }
  /** A character no token starts with; the parser reports it against what it expected. */
  | { readonly t: 'bad'; readonly pos: number; readonly end: number }
  | { readonly t: 'eof'; readonly pos: number; readonly end: number };

const WORD = /[A-Za-z_][A-Za-z0-9_]*/y;
const BARE_KEY = /[\p{L}\p{N}_.\-/:]+/uy;
const NUMBER = /-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?/y;
const NUMBER_TAIL = /[A-Za-z0-9_.]/;
const SPACE = /\s/;
const BARE_KEY_FULL = /^[\p{L}\p{N}_.\-/:]+$/u;
const WORD_FULL = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Source text for an error message: at most 40 characters, control characters escaped. */
function shorten(text: string): string {
  const short = text.length > 40 ? `${text.slice(0, 40)}…` : text;
  return short.replace(
    /[\u0000-\u001f\u007f-\u009f]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

function quoteFound(text: string): string {
  return `'${shorten(text)}'`;
}

class Lexer {
  private offset = 0;

  constructor(
    readonly text: string,
    private readonly what: string,
    private readonly index: number | undefined,
  ) {}

  fail(position: number, expected: string, found: string, after?: string): never {
    throw new FilterSyntaxError(
      this.what,
      this.index === undefined
        ? { position, expected, found }
        : { position, expected, found, index: this.index },
      after,
    );
  }

  /** How a token reads in an error message. */
  describe(token: Token): string {
    if (token.t === 'eof') return 'end of input';
    if (token.t === 'bad') {
      return quoteFound(String.fromCodePoint(this.text.codePointAt(token.pos)!));
    }
    const source = this.text.slice(token.pos, token.end);
    // A string literal shows its own quotes.
    return token.t === 'string' ? shorten(source) : quoteFound(source);
  }

  next(): Token {
    const s = this.text;
    while (this.offset < s.length && SPACE.test(s[this.offset]!)) this.offset++;
    const pos = this.offset;
    if (pos >= s.length) return { t: 'eof', pos, end: pos };
    const c = s[pos]!;
    if (c === '(' || c === ')' || c === ',') {
      this.offset = pos + 1;
      return { t: c, pos, end: pos + 1 };
    }
    if (c === "'" || c === '"') {
      const value = this.quoted(pos, c);
      return { t: 'string', value, pos, end: this.offset };
    }
    if (c === '=' || c === '<' || c === '>' || c === '!') return this.operator(pos);
    if (c === '-' || c === '.' || (c >= '0' && c <= '9')) {
      NUMBER.lastIndex = pos;
      const m = NUMBER.exec(s);
      if (m !== null) return this.number(pos, m[0]);
    }
    WORD.lastIndex = pos;
    const w = WORD.exec(s);
    if (w !== null) {
      const end = pos + w[0].length;
      if (s[end] === '.') return this.field(pos, w[0], end + 1);
      this.offset = end;
      return { t: 'word', text: w[0], pos, end };
    }
    const cp = s.codePointAt(pos)!;
    this.offset = pos + (cp > 0xffff ? 2 : 1);
    return { t: 'bad', pos, end: this.offset };
  }

  private operator(pos: number): Token {
    const s = this.text;
    const two = s.slice(pos, pos + 2);
    let op: CompareOp;
    let len = 2;
    if (two === '!=' || two === '<>') op = '!=';
    else if (two === '<=') op = '<=';
    else if (two === '>=') op = '>=';
    else {
      len = 1;
      const c = s[pos];
      if (c === '=') op = '=';
      else if (c === '<') op = '<';
      else if (c === '>') op = '>';
      else this.fail(pos, "'!='", quoteFound(two.length === 2 ? two : '!'));
    }
    this.offset = pos + len;
    return { t: 'op', op, pos, end: pos + len };
  }

  private number(pos: number, text: string): Token {
    const end = pos + text.length;
    if (end < this.text.length && NUMBER_TAIL.test(this.text[end]!)) {
      let stop = end;
      while (stop < this.text.length && /[A-Za-z0-9_.+-]/.test(this.text[stop]!)) stop++;
      this.fail(pos, 'a number', quoteFound(this.text.slice(pos, stop)));
    }
    const value = Number(text);
    if (!Number.isFinite(value)) this.fail(pos, 'a finite number', quoteFound(text));
    this.offset = end;
    return { t: 'number', value, pos, end };
  }

  /** Reads a quoted string or key starting at the quote at `pos`; leaves offset after it. */
  private quoted(pos: number, quote: string): string {
    const s = this.text;
    const backslashEscapes = quote !== '`';
    let out = '';
    let i = pos + 1;
    let chunk = i;
    while (i < s.length) {
      const c = s[i];
      if (c === quote) {
        if (s[i + 1] === quote) {
          out += s.slice(chunk, i) + quote;
          i += 2;
          chunk = i;
          continue;
        }
        this.offset = i + 1;
        return out + s.slice(chunk, i);
      }
      if (c === '\\' && backslashEscapes) {
        const n = s[i + 1];
        if (n === '\\' || n === "'" || n === '"') {
          out += s.slice(chunk, i) + n;
          i += 2;
          chunk = i;
          continue;
        }
      }
      i++;
    }
    this.fail(s.length, `a closing ${quote} to match the one at position ${pos}`, 'end of input');
  }

  private field(pos: number, prefix: string, keyStart: number): Token {
    const s = this.text;
    const c = s[keyStart];
    let key: string;
    if (c === '`' || c === '"' || c === "'") {
      key = this.quoted(keyStart, c);
      if (key.length === 0)
        this.fail(
          keyStart,
          `a non-empty key after '${prefix}.'`,
          quoteFound(s.slice(keyStart, this.offset)),
        );
    } else {
      BARE_KEY.lastIndex = keyStart;
      const m = BARE_KEY.exec(s);
      if (m === null) {
        const found =
          keyStart >= s.length
            ? 'end of input'
            : quoteFound(String.fromCodePoint(s.codePointAt(keyStart)!));
        this.fail(keyStart, `a key after '${prefix}.'`, found);
      }
      key = m[0];
      this.offset = keyStart + key.length;
    }
    return { t: 'field', prefix, key, pos, end: this.offset };
  }
}

// ---------------------------------------------------------------------------------------
// Parser

interface ResolvedField {
  readonly ref: FieldRef;
  readonly type: FieldType;
  readonly orderable: boolean;
  /** How the field reads in messages, quoted: `'metrics.auc'`, `'name'`. */
  readonly text: string;
}

class Parser {
  private token: Token;
  private readonly fields: ReadonlyMap<string, BareFieldSpec>;

  constructor(
    private readonly lexer: Lexer,
    options: FilterParseOptions | undefined,
  ) {
    this.fields = new Map(Object.entries(options?.fields ?? MODEL_VERSION_FIELDS));
    this.token = lexer.next();
  }

  private advance(): Token {
    const t = this.token;
    this.token = this.lexer.next();
    return t;
  }

  /** The current token's kind (a method, so TypeScript does not narrow across advance()). */
  private kind(): Token['t'] {
    return this.token.t;
  }

  private keyword(): string | undefined {
    return this.token.t === 'word' ? this.token.text.toUpperCase() : undefined;
  }

  private fail(expected: string, after?: string, at: Token = this.token): never {
    this.lexer.fail(at.pos, expected, this.lexer.describe(at), after);
  }

  private fieldList(): string {
    // Synonyms (source_path, timestamp, aliases) work but are not advertised.
    const names = [...this.fields.entries()]
      .filter(([name, spec]) => name === spec.key)
      .map(([name]) => name)
      .sort();
    return `a field (${names.join(', ')}, tags.<key>, params.<key>, metrics.<key>)`;
  }

  atEnd(): boolean {
    return this.token.t === 'eof';
  }

  /** Reads an optional ASC/DESC. */
  direction(): 'asc' | 'desc' {
    const kw = this.keyword();
    if (kw !== 'ASC' && kw !== 'DESC') return 'asc';
    this.advance();
    return kw === 'ASC' ? 'asc' : 'desc';
  }

  /** Consumes a ',' if there is one. */
  comma(): boolean {
    if (this.token.t !== ',') return false;
    this.advance();
    return true;
  }

  expectEnd(expected: string): void {
    if (this.token.t !== 'eof') this.fail(expected);
  }

  parseOr(depth: number): FilterExpr {
    const items = [this.parseAnd(depth)];
    while (this.keyword() === 'OR') {
      this.advance();
      items.push(this.parseAnd(depth));
    }
    return combine('or', items);
  }

  private parseAnd(depth: number): FilterExpr {
    const items = [this.parsePrimary(depth)];
    while (this.keyword() === 'AND') {
      this.advance();
      items.push(this.parsePrimary(depth));
    }
    return combine('and', items);
  }

  private parsePrimary(depth: number): FilterExpr {
    if (this.token.t === '(') {
      if (depth >= MAX_FILTER_DEPTH) {
        this.fail(`at most ${MAX_FILTER_DEPTH} levels of parentheses`);
      }
      const open = this.advance();
      const inner = this.parseOr(depth + 1);
      if (this.kind() !== ')') {
        this.fail(`')' to close the '(' at position ${open.pos}, AND or OR`);
      }
      this.advance();
      return inner;
    }
    return this.parsePredicate();
  }

  /** Reads a field reference and resolves it against the field table. */
  parseField(): ResolvedField {
    const t = this.token;
    if (t.t === 'word' && !KEYWORDS.has(t.text.toUpperCase())) {
      const spec = this.fields.get(t.text);
      if (spec === undefined) this.fail(this.fieldList());
      this.advance();
      return this.resolved(spec.scope, spec.key, spec.type, spec.orderable ?? true, t.pos, t.text);
    }
    if (t.t === 'field') {
      const scope = PREFIXES.get(t.prefix);
      if (scope === undefined) {
        this.fail(
          "a field prefix (attributes, metrics, params, tags, datasets) before '.'",
          undefined,
          {
            t: 'word',
            text: t.prefix,
            pos: t.pos,
            end: t.pos + t.prefix.length,
          },
        );
      }
      const text = this.lexer.text.slice(t.pos, t.end);
      if (scope === 'attribute') {
        const spec = this.fields.get(t.key);
        if (spec === undefined || spec.scope !== 'attribute') {
          const names = [...this.fields.entries()]
            .filter(([name, s]) => s.scope === 'attribute' && name === s.key)
            .map(([n]) => n)
            .sort();
          this.fail(`an attribute (${names.join(', ')})`);
        }
        this.advance();
        return this.resolved('attribute', spec.key, spec.type, spec.orderable ?? true, t.pos, text);
      }
      if (scope === 'dataset') {
        if (!DATASET_KEYS.includes(t.key)) this.fail(`a dataset key (${DATASET_KEYS.join(', ')})`);
        this.advance();
        return this.resolved('dataset', t.key, 'string', false, t.pos, text);
      }
      this.advance();
      const type: FieldType = scope === 'metric' ? 'number' : 'string';
      return this.resolved(scope, t.key, type, true, t.pos, text);
    }
    this.fail(this.fieldList());
  }

  private resolved(
    scope: FieldScope,
    key: string,
    type: FieldType,
    orderable: boolean,
    pos: number,
    text: string,
  ): ResolvedField {
    return { ref: { scope, key, pos }, type, orderable, text: quoteFound(text) };
  }

  private parsePredicate(): FilterExpr {
    const field = this.parseField();
    const allowed = field.type === 'number' ? NUMBER_OPS : STRING_OPS;
    const opToken = this.token;
    const kw = this.keyword();
    const opsText = `${allowed.slice(0, -1).join(', ')} or IS`;

    if (opToken.t === 'op' || kw === 'LIKE' || kw === 'ILIKE') {
      const op: CompareOp = opToken.t === 'op' ? opToken.op : (kw as CompareOp);
      if (!allowed.includes(op)) this.fail(opsText, field.text);
      this.advance();
      const value = this.parseValue(field, `'${this.lexer.text.slice(opToken.pos, opToken.end)}'`);
      return { kind: 'compare', field: field.ref, op, value, pos: opToken.pos };
    }
    if (kw === 'IN' || kw === 'NOT') {
      if (kw === 'NOT') {
        this.advance();
        if (this.keyword() !== 'IN') this.fail("'IN'", "'NOT'");
      }
      const inToken = this.advance();
      if (this.token.t !== '(')
        this.fail("'(' and a list of values", `'${kw === 'NOT' ? 'NOT IN' : 'IN'}'`);
      const open = this.advance();
      const values: FilterValue[] = [this.parseValue(field, "'('")];
      while (this.kind() === ',') {
        this.advance();
        values.push(this.parseValue(field, "','"));
      }
      if (this.kind() !== ')') this.fail(`',' or ')' to close the '(' at position ${open.pos}`);
      this.advance();
      return {
        kind: 'in',
        field: field.ref,
        negated: kw === 'NOT',
        values,
        pos: kw === 'NOT' ? opToken.pos : inToken.pos,
      };
    }
    if (kw === 'IS') {
      this.advance();
      let negated = false;
      if (this.keyword() === 'NOT') {
        this.advance();
        negated = true;
      }
      if (this.keyword() !== 'NULL') this.fail("'NULL'", negated ? "'IS NOT'" : "'IS'");
      this.advance();
      return { kind: 'null', field: field.ref, negated, pos: opToken.pos };
    }
    this.fail(opsText, field.text);
  }

  private parseValue(field: ResolvedField, after: string): FilterValue {
    const t = this.token;
    if (t.t === 'number') {
      if (field.type !== 'number') this.fail(`a quoted string for ${field.text}`);
      this.advance();
      return t.value;
    }
    if (t.t === 'string') {
      if (field.type === 'number') {
        // MLflow clients send version_number = '3'; metrics must be real numbers.
        const n = field.ref.scope === 'attribute' ? numericString(t.value) : undefined;
        if (n === undefined) this.fail(`a number for ${field.text}`);
        this.advance();
        return n;
      }
      this.advance();
      return t.value;
    }
    this.fail('a value', after);
  }
}

function numericString(s: string): number | undefined {
  NUMBER.lastIndex = 0;
  const m = NUMBER.exec(s);
  if (m === null || m[0].length !== s.length) return undefined;
  const n = Number(s);
  return Number.isFinite(n) ? n : undefined;
}

function combine(kind: 'and' | 'or', items: FilterExpr[]): FilterExpr {
  if (items.length === 1) return items[0]!;
  const flat: FilterExpr[] = [];
  for (const item of items) {
    if (item.kind === kind) flat.push(...item.items);
    else flat.push(item);
  }
  return { kind, items: flat };
}

function checkLength(text: unknown, what: string, index: number | undefined): string {
  const at = (position: number, expected: string, found: string): FilterSyntaxDetails =>
    index === undefined ? { position, expected, found } : { position, expected, found, index };
  if (typeof text !== 'string') {
    throw new FilterSyntaxError(what, at(0, 'a string', text === null ? 'null' : typeof text));
  }
  if (text.length > MAX_FILTER_LENGTH) {
    throw new FilterSyntaxError(
      what,
      at(MAX_FILTER_LENGTH, `at most ${MAX_FILTER_LENGTH} characters`, `${text.length} characters`),
    );
  }
  return text;
}

/**
 * Parses a search filter. Returns undefined for an empty or all-whitespace filter (no
 * filtering). Pure and linear in the input's length.
 * @throws FilterSyntaxError with the position of the first problem.
 */
export function parseFilter(text: string, options?: FilterParseOptions): FilterExpr | undefined {
  const s = checkLength(text, 'filter', undefined);
  if (s.trim().length === 0) return undefined;
  const parser = new Parser(new Lexer(s, 'filter', undefined), options);
  const expr = parser.parseOr(0);
  parser.expectEnd('AND, OR or end of input');
  return expr;
}

function parseOrderByText(
  text: unknown,
  options: FilterParseOptions | undefined,
  index: number | undefined,
): OrderByTerm[] {
  const what = index === undefined ? 'order_by' : `order_by[${index}]`;
  const s = checkLength(text, what, index);
  const parser = new Parser(new Lexer(s, what, index), options);
  const terms: OrderByTerm[] = [];
  if (index === undefined && parser.atEnd()) return terms;
  for (;;) {
    const field = parser.parseField();
    if (!field.orderable) {
      const details = {
        position: field.ref.pos,
        expected: 'a field that can be sorted on',
        found: quoteFound(field.text),
      };
      throw new FilterSyntaxError(what, index === undefined ? details : { ...details, index });
    }
    const direction = parser.direction();
    terms.push({ field: field.ref, direction });
    if (!parser.comma()) break;
  }
  parser.expectEnd("ASC, DESC, ',' or end of input");
  return terms;
}

/**
 * Parses MLflow's `order_by`: one string holding comma-separated terms
 * (`metrics.auc DESC, name`), or an array of such strings (MLflow's repeated field).
 * Each term is a field and an optional ASC/DESC (case-insensitive; default ascending).
 * An empty or whitespace-only string gives no terms; an empty array element is an error.
 * @throws FilterSyntaxError; for arrays, `details.index` names the element.
 */
export function parseOrderBy(
  text: string | readonly string[],
  options?: FilterParseOptions,
): OrderByTerm[] {
  if (Array.isArray(text)) return text.flatMap((t, i) => parseOrderByText(t, options, i));
  return parseOrderByText(text, options, undefined);
}

// ---------------------------------------------------------------------------------------
// Printer

const ALIAS_FIELD_NAME = 'alias';

function formatKey(key: string): string {
  return BARE_KEY_FULL.test(key) ? key : `\`${key.replaceAll('`', '``')}\``;
}

/** The text of a field as the parser reads it back (with the default field table). */
export function formatField(field: FieldRef): string {
  switch (field.scope) {
    case 'attribute':
      return WORD_FULL.test(field.key) && !KEYWORDS.has(field.key.toUpperCase())
        ? field.key
        : `attributes.${formatKey(field.key)}`;
    case 'alias':
      return ALIAS_FIELD_NAME;
    case 'metric':
      return `metrics.${formatKey(field.key)}`;
    case 'param':
      return `params.${formatKey(field.key)}`;
    case 'tag':
      return `tags.${formatKey(field.key)}`;
    case 'dataset':
      return `datasets.${formatKey(field.key)}`;
  }
}

function formatValue(value: FilterValue): string {
  if (typeof value === 'number') return Object.is(value, -0) ? '-0' : String(value);
  return `'${value.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
}

/**
 * Prints a filter AST as text that `parseFilter` reads back to the same AST (positions
 * aside), for AST values the parser can produce. Used for canonical forms, page tokens
 * and tests.
 */
export function formatFilter(expr: FilterExpr): string {
  switch (expr.kind) {
    case 'compare':
      return `${formatField(expr.field)} ${expr.op} ${formatValue(expr.value)}`;
    case 'in':
      return `${formatField(expr.field)} ${expr.negated ? 'NOT IN' : 'IN'} (${expr.values.map(formatValue).join(', ')})`;
    case 'null':
      return `${formatField(expr.field)} IS ${expr.negated ? 'NOT NULL' : 'NULL'}`;
    case 'and':
      return expr.items
        .map((i) =>
          i.kind === 'and' || i.kind === 'or' ? `(${formatFilter(i)})` : formatFilter(i),
        )
        .join(' AND ');
    case 'or':
      return expr.items
        .map((i) => (i.kind === 'or' ? `(${formatFilter(i)})` : formatFilter(i)))
        .join(' OR ');
  }
}

/** Prints order-by terms as one order_by string (`metrics.auc DESC, name ASC`). */
export function formatOrderBy(terms: readonly OrderByTerm[]): string {
  return terms.map((t) => `${formatField(t.field)} ${t.direction.toUpperCase()}`).join(', ');
}
