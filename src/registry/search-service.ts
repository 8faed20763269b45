/**
 * Searching and listing models and versions: parses the filter and ORDER BY texts,
 * compiles them to parameterised SQL (metadata/search/compile-filter.ts), pages with
 * opaque offset tokens bound to the query, and hydrates the page. A ReadScope limits the
 * rows to what one user may READ inside the query (metadata/search/read-scope.ts), so
 * pages are full and a token's offset counts readable rows only.
 */
import type {
  ModelVersion,
  PageOptions,
  RegisteredModel,
  SearchQuery,
  SearchResult,
} from '../core/registry-api.js';
import {
  type CompiledOrderItem,
  compileFilter,
  compileOrderBy,
  orderByNullsLast,
  type SearchTarget,
  searchFields,
} from '../metadata/search/compile-filter.js';
import type { FilterExpr, OrderByTerm } from '../metadata/search/filter-ast.js';
import { parseFilter, parseOrderBy } from '../metadata/search/filter-parser.js';
import { findVersionPage } from '../metadata/search/find-version-page.js';
import { KeyStatistics } from '../metadata/search/key-statistics.js';
import { type ReadScope, readableBy } from '../metadata/search/read-scope.js';
import { hydrateModels, readVersions } from './hydrate.js';
import {
  decodePageToken,
  encodePageToken,
  queryFingerprint,
  resolveMaxResults,
} from './page-token.js';
import type { RegistryContext } from './registry-context.js';

export interface VersionSearch extends SearchQuery {
  /** Restrict to one model (by id): listVersions. */
  readonly modelId?: number;
  /** Used when `orderBy` is empty. Default name ascending, then version descending. */
  readonly defaultOrder?: 'name' | 'newest';
  /**
   * false: the versions' metrics and params are not read and come back empty (hydrate.ts,
   * HydrateOptions), for callers that do not show them (MLflow's search). Default true.
   */
  readonly runData?: boolean;
  /**
   * true: each version as MLflow's ModelVersion shows it — its row, tags and aliases only
   * (hydrate.ts, HydrateOptions `listing`). Default false.
   */
  readonly listing?: boolean;
}

/**
 * Lists and searches scoped to what one user may READ (full pages): what the server's list
 * routes need beyond RegistryApi. LocalRegistry implements it; without a scope each is the
 * RegistryApi operation.
 */
export interface ReadScopedSearch {
  listModels(
    options?: PageOptions & { includeDeleted?: boolean },
    scope?: ReadScope,
  ): Promise<SearchResult<RegisteredModel>>;
  searchModels(query?: SearchQuery, scope?: ReadScope): Promise<SearchResult<RegisteredModel>>;
  /** `query.runData: false` and `query.listing` leave details out (VersionSearch). */
  searchVersions(
    query?: SearchQuery & Pick<VersionSearch, 'runData' | 'listing'>,
    scope?: ReadScope,
  ): Promise<SearchResult<ModelVersion>>;
}

/** A filter and ORDER BY as parsed, checked against their target; never mutated. */
interface ParsedQuery {
  readonly ast: FilterExpr | undefined;
  readonly terms: readonly OrderByTerm[];
}

/** Parsed queries kept per service (least recently used dropped). */
const PARSED_QUERIES = 256;

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

export class SearchService {
  /** Samples of key values for the version search's plan choice, kept across searches. */
  private readonly statistics = new KeyStatistics();
  /** Recently parsed filter and ORDER BY texts, by target and texts (see `parsed`). */
  private readonly parsedQueries = new Map<string, ParsedQuery>();
  constructor(private readonly ctx: RegistryContext) {}

  /**
   * With `scope`, only models its user may READ, in full pages.
   * @throws InvalidArgumentError for a bad filter, order, page token or maxResults.
   */
  async searchModels(
    query: SearchQuery = {},
    scope?: ReadScope,
  ): Promise<SearchResult<RegisteredModel>> {
    const db = this.ctx.database.db;
    const { where, order, limit, offset, fingerprint } = this.prepare('models', query, {
      readableBy: scope?.user,
    });
    let q = db.selectFrom('registered_models as m').selectAll('m');
    if (!query.includeDeleted) q = q.where('m.deleted_at', 'is', null);
    if (where) q = q.where(where);
    if (scope) q = q.where(readableBy(scope, 'registered_model', 'm.id'));
    for (const item of order) q = orderByNullsLast(q, item);
    if (order.length === 0) q = q.orderBy('m.name', 'asc');
    const rows = await q
      .orderBy('m.id', 'asc')
      .limit(limit + 1)
      .offset(offset)
      .execute();
    return this.page(await hydrateModels(db, rows.slice(0, limit)), rows.length > limit, {
      offset,
      limit,
      fingerprint,
    });
  }

  /**
   * The page's ids come from findVersionPage (which picks filter-first or order-first by
   * an estimate); the page's rows are then read by id and hydrated (readVersions). With `scope`, only
   * versions of models its user may READ, in full pages.
   * @throws InvalidArgumentError for a bad filter, order, page token or maxResults.
   */
  async searchVersions(
    query: VersionSearch = {},
    scope?: ReadScope,
  ): Promise<SearchResult<ModelVersion>> {
    const { ast, terms, limit, offset, fingerprint } = this.parse('versions', query, {
      modelId: query.modelId,
      defaultOrder: query.defaultOrder,
      readableBy: scope?.user,
    });
    // Reads only (Database.reads): on SQLite its statements run directly on the connection.
    return this.ctx.database.reads(async (db) => {
      const { ids } = await findVersionPage(db, {
        ...(scope ? { scope } : {}),
        filter: ast,
        order: terms,
        ...(query.modelId !== undefined ? { modelId: query.modelId } : {}),
        includeDeleted: query.includeDeleted ?? false,
        ...(query.defaultOrder !== undefined ? { defaultOrder: query.defaultOrder } : {}),
        limit,
        offset,
        dialect: this.ctx.dialect,
        statistics: this.statistics,
      });
      const items = await readVersions(db, ids.slice(0, limit), this.ctx.dialect, {
        runData: query.runData ?? true,
        listing: query.listing ?? false,
      });
      return this.page(items, ids.length > limit, { offset, limit, fingerprint });
    });
  }

  private prepare(target: SearchTarget, query: SearchQuery, extra: Record<string, unknown>) {
    const dialect = this.ctx.dialect;
    const { ast, terms, ...rest } = this.parse(target, query, extra);
    const where = ast === undefined ? undefined : compileFilter(ast, target, { dialect });
    const order: CompiledOrderItem[] = compileOrderBy(terms, target, { dialect });
    return { where, order, ...rest };
  }

  /** Parses the filter and ORDER BY, checks them against the target, reads the page token. */
  private parse(target: SearchTarget, query: SearchQuery, extra: Record<string, unknown>) {
    const { ast, terms } = this.parsed(target, query.filter, query.orderBy);
    const limit = resolveMaxResults(query.maxResults);
    const fingerprint = queryFingerprint({
      target,
      filter: query.filter?.trim() ?? '',
      orderBy: query.orderBy ?? [],
      includeDeleted: query.includeDeleted ?? false,
      ...extra,
    });
    const offset = decodePageToken(query.pageToken, fingerprint).o ?? 0;
    return { ast, terms, limit, offset, fingerprint };
  }

  /**
   * The filter and ORDER BY parsed and checked against the target (compiled once, so a bad
   * field is reported before any SQL runs); the result of texts seen lately is reused
   * (ParsedQueries): a client paging or polling sends the same texts again and again.
   */
  private parsed(
    target: SearchTarget,
    filter: string | undefined,
    orderBy: readonly string[] | undefined,
  ): ParsedQuery {
    // Only well-typed input is cached; anything else is parsed (and refused) every time.
    const cacheable =
      (filter === undefined || typeof filter === 'string') &&
      (orderBy === undefined ||
        (Array.isArray(orderBy) && orderBy.every((o) => typeof o === 'string')));
    const key = cacheable ? JSON.stringify([target, filter ?? '', orderBy ?? []]) : undefined;
    const cache = this.parsedQueries;
    const hit = key === undefined ? undefined : cache.get(key);
    if (hit) {
      cache.delete(key!); // re-insert: Map order is recency order
      cache.set(key!, hit);
      return hit;
    }
    const dialect = this.ctx.dialect;
    const fields = searchFields(target);
    const ast = parseFilter(filter ?? '', { fields });
    const terms: OrderByTerm[] = (orderBy ?? []).flatMap((text) => parseOrderBy(text, { fields }));
    if (ast !== undefined) compileFilter(ast, target, { dialect });
    compileOrderBy(terms, target, { dialect });
    const parsed: ParsedQuery = deepFreeze({ ast, terms });
    if (key !== undefined) {
      if (cache.size >= PARSED_QUERIES) cache.delete(cache.keys().next().value as string);
      cache.set(key, parsed);
    }
    return parsed;
  }

  private page<T>(
    items: T[],
    more: boolean,
    p: { offset: number; limit: number; fingerprint: string },
  ): SearchResult<T> {
    return more
      ? { items, nextPageToken: encodePageToken({ o: p.offset + p.limit }, p.fingerprint) }
      : { items };
  }
}
