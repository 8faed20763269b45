/**
 * A Kysely plugin for SQLite: integer LIMIT and OFFSET values go into the SQL text as
 * literals (`limit 10`) instead of bound parameters (`limit ?`).
 *
 * Why: SQLite (3.53, as bundled by better-sqlite3) reads a bound LIMIT value while planning
 * and marks the statement to be prepared again whenever that parameter is bound — on every
 * run, even with the same value. A cached `select … limit ?` was parsed and planned anew
 * each time: ~15 µs against ~2 µs with `limit 1` (the "does any user exist" check runs on
 * every request). With literals each limit value is a statement text of its own, prepared
 * once by the statement cache.
 *
 * Only safe integers are inlined (a number or bigint, as Kysely's `.limit(n)` makes), of
 * the outermost SELECT; any other value — a PreparedQuery placeholder, an expression — is
 * left as it was.
 */
import {
  type KyselyPlugin,
  LimitNode,
  OffsetNode,
  type OperationNode,
  type PluginTransformQueryArgs,
  type PluginTransformResultArgs,
  type QueryResult,
  type RootOperationNode,
  SelectQueryNode,
  type UnknownRow,
  ValueNode,
} from 'kysely';

function inlined(node: OperationNode): OperationNode {
  if (!ValueNode.is(node) || node.immediate) return node;
  const v = node.value;
  const safe =
    (typeof v === 'number' && Number.isSafeInteger(v)) ||
    (typeof v === 'bigint' && v >= 0n && v <= BigInt(Number.MAX_SAFE_INTEGER));
  return safe ? ValueNode.createImmediate(v) : node;
}

export class SqliteInlineLimitsPlugin implements KyselyPlugin {
  /**
   * The outermost SELECT's LIMIT and OFFSET only (a subquery's stay parameters): the
   * query tree is not walked, so other queries cost nothing.
   */
  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    const node = args.node;
    if (!SelectQueryNode.is(node) || (!node.limit && !node.offset)) return node;
    return Object.freeze({
      ...node,
      ...(node.limit ? { limit: LimitNode.create(inlined(node.limit.limit)) } : {}),
      ...(node.offset ? { offset: OffsetNode.create(inlined(node.offset.offset)) } : {}),
    });
  }

  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return args.result;
  }
}
