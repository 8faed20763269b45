/**
 * Promotion policies: rules a version must meet before an alias may point at it or it may
 * move to a stage (docs/security.md, "Promotion policies"). A model's own policy for a
 * target replaces the registry-wide default for that target; with neither, anything goes.
 *
 * Enforcement lives here and is called by the services that move aliases and stages
 * (AliasService.set/rollback, VersionService.transitionStage) inside their write
 * transaction, so every path — native API, MLflow API, CLI, rollback — obeys the same
 * rules, evaluated against the state being changed. A refusal is a PolicyViolationError
 * whose details list every failed rule.
 *
 * Rules (PolicyRules): `require`, a filter in the search syntax run against the version
 * with the search compiler (so its meaning is exactly search's), reported per top-level
 * AND term; `signedBy`, a signature by one of the key ids that verifies now (not only
 * when it was attached) and records this version's digest — checked against the digest,
 * not the files, because the files live in the store, which a write transaction on the
 * shared embedded database must not wait for (model-signing.ts `checkBundleDigest`);
 * `scan`; `approval`.
 */
import type { Kysely } from 'kysely';
import { canonicalJson } from '../core/canonical-json.js';
import { InvalidArgumentError, PolicyViolationError } from '../core/errors.js';
import { checkBundleDigest, keyIdOf, loadPublicKey } from '../core/model-signing.js';
import { validateAlias } from '../core/names.js';
import type {
  ModelVersion,
  MutationOptions,
  PolicyCheck,
  PolicyRuleResult,
  PolicyRules,
  PromotionPolicy,
  PromotionTarget,
  SetPolicyInput,
  Stage,
} from '../core/registry-api.js';
import type { ModelVersionRow, RegisteredModelRow, RegistryDB } from '../metadata/schema.js';
import { compileFilter, searchFields } from '../metadata/search/compile-filter.js';
import type { FieldRef, FilterExpr } from '../metadata/search/filter-ast.js';
import { formatField, formatFilter, parseFilter } from '../metadata/search/filter-parser.js';
import type { AuditService } from './audit-service.js';
import { detailReadsFor, hydrateVersion } from './hydrate.js';
import { findModel, resolveVersion, versionLabel } from './lookups.js';
import { actorOf, type RegistryContext } from './registry-context.js';
import { parseStage } from './version-service.js';

/** `model_id` of registry-wide defaults. */
const DEFAULT_SCOPE = 0;
/** Audit subject of registry-wide policies. */
export const DEFAULT_POLICY_SUBJECT = '*';

const SCAN_MODES = ['no-dangerous', 'safe'] as const;
const APPROVAL_MODES = ['approved', 'other-than-creator'] as const;
const KEY_ID = /^[0-9a-f]{64}$/;
const MAX_KEY_IDS = 100;
const RULE_KEYS = new Set(['require', 'signedBy', 'scan', 'approval']);

/** A checked target: what the table stores. */
export interface ResolvedTarget {
  readonly kind: 'alias' | 'stage';
  readonly name: string;
}

/** @throws InvalidArgumentError unless exactly one of alias and stage is given and valid. */
export function resolveTarget(target: PromotionTarget | null | undefined): ResolvedTarget {
  const t = (target ?? {}) as PromotionTarget;
  const hasAlias = t.alias !== undefined && t.alias !== null;
  const hasStage = t.stage !== undefined && t.stage !== null;
  if (hasAlias === hasStage) {
    throw new InvalidArgumentError('a policy target is exactly one of an alias and a stage');
  }
  return hasAlias
    ? { kind: 'alias', name: validateAlias(t.alias) }
    : { kind: 'stage', name: parseStage(t.stage as string) };
}

function describeTarget(t: ResolvedTarget): string {
  return t.kind === 'alias' ? `alias '${t.name}'` : `stage '${t.name}'`;
}

/**
 * Checks and normalises rules (sorted, deduplicated key ids; trimmed filter).
 * @throws InvalidArgumentError naming the bad rule.
 */
export function checkRules(rules: unknown, dialect: RegistryContext['dialect']): PolicyRules {
  if (rules === null || typeof rules !== 'object' || Array.isArray(rules)) {
    throw new InvalidArgumentError('policy rules must be an object');
  }
  const r = rules as Record<string, unknown>;
  for (const key of Object.keys(r)) {
    if (!RULE_KEYS.has(key)) {
      throw new InvalidArgumentError(
        `unknown policy rule '${key.slice(0, 50)}': expected ${[...RULE_KEYS].join(', ')}`,
      );
    }
  }
  const out: { -readonly [K in keyof PolicyRules]: PolicyRules[K] } = {};
  if (r.require !== undefined) {
    if (typeof r.require !== 'string') throw new InvalidArgumentError('require must be a filter');
    const ast = parseFilter(r.require, { fields: searchFields('versions') });
    if (ast === undefined) throw new InvalidArgumentError('require must not be empty');
    compileFilter(ast, 'versions', { dialect }); // unknown fields, type mismatches
    out.require = r.require.trim();
  }
  if (r.signedBy !== undefined) {
    const ids = r.signedBy;
    if (!Array.isArray(ids) || ids.length === 0 || ids.length > MAX_KEY_IDS) {
      throw new InvalidArgumentError(`signedBy must list 1 to ${MAX_KEY_IDS} key ids`);
    }
    for (const id of ids) {
      if (typeof id !== 'string' || !KEY_ID.test(id)) {
        throw new InvalidArgumentError(
          `signedBy: '${String(id).slice(0, 80)}' is not a key id (64 lowercase hex, see mvault sign)`,
        );
      }
    }
    out.signedBy = [...new Set(ids as string[])].sort();
  }
  if (r.scan !== undefined) {
    if (!SCAN_MODES.includes(r.scan as (typeof SCAN_MODES)[number])) {
      throw new InvalidArgumentError(`scan must be one of ${SCAN_MODES.join(', ')}`);
    }
    out.scan = r.scan as PolicyRules['scan'];
  }
  if (r.approval !== undefined) {
    if (!APPROVAL_MODES.includes(r.approval as (typeof APPROVAL_MODES)[number])) {
      throw new InvalidArgumentError(`approval must be one of ${APPROVAL_MODES.join(', ')}`);
    }
    out.approval = r.approval as PolicyRules['approval'];
  }
  if (Object.keys(out).length === 0) {
    throw new InvalidArgumentError('a policy needs at least one rule');
  }
  return out;
}

/** The top-level AND terms of a filter: each is checked and reported on its own. */
function conjuncts(expr: FilterExpr): readonly FilterExpr[] {
  return expr.kind === 'and' ? expr.items.flatMap(conjuncts) : [expr];
}

function fieldsOf(expr: FilterExpr): FieldRef[] {
  return expr.kind === 'and' || expr.kind === 'or' ? expr.items.flatMap(fieldsOf) : [expr.field];
}

/** What the version has for a field, for the refusal message (`metrics.auc is 0.85`). */
function actual(v: ModelVersion, f: FieldRef): string | undefined {
  const show = (map: Readonly<Record<string, string | number>>) =>
    Object.hasOwn(map, f.key) ? JSON.stringify(map[f.key]) : 'absent';
  switch (f.scope) {
    case 'metric':
      return show(v.metrics);
    case 'param':
      return show(v.params);
    case 'tag':
      return show(v.tags);
    case 'alias':
      return JSON.stringify(v.aliases);
    case 'attribute':
      return undefined;
  }
}

interface PolicyRow {
  model_id: number;
  target_kind: string;
  target_name: string;
  rules: string;
  updated_by: string;
  updated_at: number;
}

export class PolicyService {
  constructor(
    private readonly ctx: RegistryContext,
    private readonly audit: AuditService,
  ) {}

  /** See RegistryApi.setPolicy. */
  async set(input: SetPolicyInput): Promise<PromotionPolicy> {
    if (input === null || typeof input !== 'object') {
      throw new InvalidArgumentError('policy input {model, alias|stage, rules} is required');
    }
    const actor = actorOf(this.ctx, input);
    const target = resolveTarget(input);
    const rules = checkRules(input.rules, this.ctx.dialect);
    const text = canonicalJson(rules as Record<string, unknown>);
    return this.ctx.database.writeTransaction(async (trx) => {
      const m = await this.scope(trx, input.model);
      const now = this.ctx.now();
      const existing = await this.row(trx, m?.id ?? DEFAULT_SCOPE, target);
      if (existing?.rules === text) return toPolicy(existing, m?.name ?? null);
      const row: PolicyRow = {
        model_id: m?.id ?? DEFAULT_SCOPE,
        target_kind: target.kind,
        target_name: target.name,
        rules: text,
        updated_by: actor,
        updated_at: now,
      };
      if (existing) {
        await this.where(trx.updateTable('promotion_policies'), row.model_id, target)
          .set({ rules: text, updated_by: actor, updated_at: now })
          .execute();
      } else {
        await trx.insertInto('promotion_policies').values(row).execute();
      }
      await this.audit.append(trx, {
        actor,
        action: 'policy.set',
        subject: m?.name ?? DEFAULT_POLICY_SUBJECT,
        time: now,
        data: {
          [target.kind]: target.name,
          rules: { ...rules },
          previous: existing ? (JSON.parse(existing.rules) as unknown) : null,
        },
      });
      return toPolicy(row, m?.name ?? null);
    });
  }

  /** See RegistryApi.listPolicies. */
  async list(options: { readonly model?: string } = {}): Promise<PromotionPolicy[]> {
    const db = this.ctx.database.db;
    let q = db
      .selectFrom('promotion_policies as p')
      .leftJoin('registered_models as m', 'm.id', 'p.model_id')
      .selectAll('p')
      .select('m.name as model_name');
    if (options.model !== undefined) {
      const m = await findModel(db, options.model, { includeDeleted: true });
      q = q.where('p.model_id', '=', m.id);
    }
    const rows = await q
      .orderBy('p.model_id')
      .orderBy('p.target_kind')
      .orderBy('p.target_name')
      .execute();
    return rows
      .map((r) => toPolicy(r, r.model_name ?? null))
      .sort((a, b) => (a.model ?? '').localeCompare(b.model ?? ''));
  }

  /** See RegistryApi.deletePolicy. */
  async delete(
    target: PromotionTarget & { readonly model?: string | null },
    options?: MutationOptions,
  ): Promise<boolean> {
    const actor = actorOf(this.ctx, options);
    const t = resolveTarget(target);
    return this.ctx.database.writeTransaction(async (trx) => {
      const m = await this.scope(trx, target?.model, { includeDeleted: true });
      const existing = await this.row(trx, m?.id ?? DEFAULT_SCOPE, t);
      if (!existing) return false;
      await this.where(trx.deleteFrom('promotion_policies'), existing.model_id, t).execute();
      await this.audit.append(trx, {
        actor,
        action: 'policy.deleted',
        subject: m?.name ?? DEFAULT_POLICY_SUBJECT,
        time: this.ctx.now(),
        data: { [t.kind]: t.name, rules: JSON.parse(existing.rules) as unknown },
      });
      return true;
    });
  }

  /** See RegistryApi.checkPolicy. */
  async check(ref: string, target: PromotionTarget): Promise<PolicyCheck> {
    const t = resolveTarget(target);
    const db = this.ctx.database.db;
    const r = await resolveVersion(db, ref);
    return this.evaluate(db, r.model, r.version, t);
  }

  /**
   * Refuses moving `version` to `target` unless the policy that applies holds. Run it in
   * the moving transaction (`trx`), before the change.
   * @throws PolicyViolationError listing every failed rule.
   */
  async enforce(
    trx: Kysely<RegistryDB>,
    model: RegisteredModelRow,
    version: ModelVersionRow,
    target: ResolvedTarget,
  ): Promise<void> {
    const check = await this.evaluate(trx, model, version, target);
    if (check.ok) return;
    const failed = check.results.filter((x) => !x.ok);
    const label = versionLabel(model.name, version.version);
    throw new PolicyViolationError(
      `${describeTarget(target)} of '${model.name}' refuses ${label}: ${failed.map((f) => `${f.rule}: ${f.message}`).join('; ')}`,
      {
        model: model.name,
        version: version.version,
        [target.kind]: target.name,
        policy: check.policy?.model === null ? 'default' : 'model',
        failed: failed.map((f) => ({ rule: f.rule, message: f.message })),
      },
    );
  }

  /** The policy that applies (the model's, else the default) and each rule's outcome. */
  async evaluate(
    db: Kysely<RegistryDB>,
    model: RegisteredModelRow,
    version: ModelVersionRow,
    target: ResolvedTarget,
  ): Promise<PolicyCheck> {
    const row =
      (await this.row(db, model.id, target)) ?? (await this.row(db, DEFAULT_SCOPE, target));
    const policy = row ? toPolicy(row, row.model_id === DEFAULT_SCOPE ? null : model.name) : null;
    const base = {
      model: model.name,
      version: version.version,
      alias: target.kind === 'alias' ? target.name : null,
      stage: target.kind === 'stage' ? (target.name as Stage) : null,
      policy,
    };
    if (!policy) return { ...base, ok: true, results: [] };
    const v = await hydrateVersion(db, version, model.name, detailReadsFor(this.ctx.dialect));
    const rules = policy.rules;
    const results: PolicyRuleResult[] = [];
    if (rules.require !== undefined)
      results.push(...(await this.requireRule(db, v, version, rules.require)));
    if (rules.signedBy !== undefined)
      results.push(await this.signatureRule(db, version, rules.signedBy));
    if (rules.scan !== undefined) results.push(await this.scanRule(db, version, rules.scan));
    if (rules.approval !== undefined) results.push(approvalRule(v, rules.approval));
    return { ...base, ok: results.every((x) => x.ok), results };
  }

  private async requireRule(
    db: Kysely<RegistryDB>,
    v: ModelVersion,
    row: ModelVersionRow,
    filter: string,
  ): Promise<PolicyRuleResult[]> {
    const ast = parseFilter(filter, { fields: searchFields('versions') });
    if (ast === undefined) return [];
    const out: PolicyRuleResult[] = [];
    for (const term of conjuncts(ast)) {
      const where = compileFilter(term, 'versions', { dialect: this.ctx.dialect });
      const hit = await db
        .selectFrom('model_versions as v')
        .innerJoin('registered_models as m', 'm.id', 'v.model_id')
        .select('v.id')
        .where('v.id', '=', row.id)
        .where(where)
        .executeTakeFirst();
      const seen = [...new Map(fieldsOf(term).map((f) => [formatField(f), f])).entries()]
        .map(([name, f]) => [name, actual(v, f)] as const)
        .filter(([, value]) => value !== undefined)
        .map(([name, value]) => `${name} is ${value}`);
      out.push({
        rule: `require: ${formatFilter(term)}`,
        ok: hit !== undefined,
        message: `${hit ? 'met' : 'not met'}${seen.length ? ` (${seen.join(', ')})` : ''}`,
      });
    }
    return out;
  }

  private async signatureRule(
    db: Kysely<RegistryDB>,
    row: ModelVersionRow,
    keyIds: readonly string[],
  ): Promise<PolicyRuleResult> {
    const rule = 'signedBy';
    const short = (id: string) => id.slice(0, 16);
    const rows = await db
      .selectFrom('version_signatures')
      .selectAll()
      .where('version_id', '=', row.id)
      .where('key_id', 'in', keyIds)
      .orderBy('key_id')
      .execute();
    const wanted = `one of key(s) ${keyIds.map(short).join(', ')}`;
    if (rows.length === 0) {
      return { rule, ok: false, message: `no signature by ${wanted}` };
    }
    const problems: string[] = [];
    for (const s of rows) {
      try {
        const key = loadPublicKey(s.public_key);
        if (keyIdOf(key) !== s.key_id) throw new Error('the stored key is not the key id’s');
        const check = checkBundleDigest(JSON.parse(s.bundle), key, row.manifest_digest);
        if (check.ok) return { rule, ok: true, message: `signed by key ${short(s.key_id)}` };
        problems.push(`key ${short(s.key_id)}: ${check.problems.join('; ')}`);
      } catch (e) {
        problems.push(`key ${short(s.key_id)}: ${(e as Error).message}`);
      }
    }
    return { rule, ok: false, message: `no valid signature by ${wanted} (${problems.join('; ')})` };
  }

  private async scanRule(
    db: Kysely<RegistryDB>,
    row: ModelVersionRow,
    mode: NonNullable<PolicyRules['scan']>,
  ): Promise<PolicyRuleResult> {
    const rule = `scan: ${mode}`;
    const scan = await db
      .selectFrom('version_scans')
      .select('verdict')
      .where('version_id', '=', row.id)
      .executeTakeFirst();
    if (!scan) return { rule, ok: false, message: 'the version was not scanned' };
    const allowed = mode === 'safe' ? ['none', 'safe'] : ['none', 'safe', 'suspicious'];
    if (allowed.includes(scan.verdict)) {
      return { rule, ok: true, message: `scan verdict ${scan.verdict}` };
    }
    const flagged = await db
      .selectFrom('version_scan_files')
      .select('path')
      .where('version_id', '=', row.id)
      .where('verdict', 'not in', allowed)
      .orderBy('path')
      .limit(10)
      .execute();
    return {
      rule,
      ok: false,
      message: `scan verdict ${scan.verdict}: ${flagged.map((f) => f.path).join(', ')}`,
    };
  }

  private async scope(
    db: Kysely<RegistryDB>,
    model: string | null | undefined,
    options: { includeDeleted?: boolean } = {},
  ): Promise<RegisteredModelRow | undefined> {
    return model === undefined || model === null ? undefined : findModel(db, model, options);
  }

  private row(
    db: Kysely<RegistryDB>,
    modelId: number,
    target: ResolvedTarget,
  ): Promise<PolicyRow | undefined> {
    return this.where(
      db.selectFrom('promotion_policies').selectAll(),
      modelId,
      target,
    ).executeTakeFirst();
  }

  // biome-ignore lint/suspicious/noExplicitAny: the three builders share only `where`
  private where<Q extends { where: (...args: any[]) => any }>(
    q: Q,
    modelId: number,
    target: ResolvedTarget,
  ): Q {
    return q
      .where('model_id', '=', modelId)
      .where('target_kind', '=', target.kind)
      .where('target_name', '=', target.name) as Q;
  }
}

function approvalRule(
  v: ModelVersion,
  mode: NonNullable<PolicyRules['approval']>,
): PolicyRuleResult {
  const rule = `approval: ${mode}`;
  const a = v.approval;
  if (a.state !== 'approved') {
    return { rule, ok: false, message: `the version is ${a.state}` };
  }
  if (mode === 'other-than-creator' && a.reviewer !== null && a.reviewer === v.createdBy) {
    return { rule, ok: false, message: `approved by its creator ${a.reviewer}` };
  }
  return { rule, ok: true, message: `approved by ${a.reviewer ?? 'unknown'}` };
}

function toPolicy(row: PolicyRow, model: string | null): PromotionPolicy {
  return {
    model,
    alias: row.target_kind === 'alias' ? row.target_name : null,
    stage: row.target_kind === 'stage' ? (row.target_name as Stage) : null,
    rules: JSON.parse(row.rules) as PolicyRules,
    updatedBy: row.updated_by,
    updatedAt: row.updated_at,
  };
}
