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
import type { OrderByTerm } from '../metadata/search/filter-ast.js';
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
  /** `query.runData: false` leaves metrics and params out (VersionSearch). */
  searchVersions(
    query?: SearchQuery & Pick<VersionSearch, 'runData'>,
    scope?: ReadScope,
  ): Promise<SearchResult<ModelVersion>>;
}

export class SearchService {
  /** Samples of key values for the version search's plan choice, kept across searches. */
  private readonly statistics = new KeyStatistics();
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
    const db = this.ctx.database.db;
    const { ast, terms, limit, offset, fingerprint } = this.parse('versions', query, {
      modelId: query.modelId,
      defaultOrder: query.defaultOrder,
      readableBy: scope?.user,
    });
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
    });
    return this.page(items, ids.length > limit, { offset, limit, fingerprint });
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
    const dialect = this.ctx.dialect;
    const fields = searchFields(target);
    const ast = parseFilter(query.filter ?? '', { fields });
    const terms: OrderByTerm[] = (query.orderBy ?? []).flatMap((text) =>
      parseOrderBy(text, { fields }),
    );
    // Compiled once here so a bad field is reported before any SQL runs.
    if (ast !== undefined) compileFilter(ast, target, { dialect });
    compileOrderBy(terms, target, { dialect });
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
