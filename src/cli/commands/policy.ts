/**
 * `mvault policy set|ls|rm|check`: promotion policies (docs/cli.md, docs/security.md).
 * Rules come from flags or from a YAML/JSON file (`--file`), flags winning:
 *
 *     require: metrics.auc >= 0.9 AND tags.validated = 'true'
 *     signedBy: [release.pub, 3f2a…64 hex…]   # key files or key ids
 *     scan: no-dangerous                        # or: safe
 *     approval: other-than-creator              # or: approved
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import { ERROR_CODES, InvalidArgumentError } from '../../core/errors.js';
import { keyIdOf, loadPublicKey } from '../../core/model-signing.js';
import type {
  PolicyCheck,
  PolicyRules,
  PromotionPolicy,
  PromotionTarget,
} from '../../core/registry-api.js';
import { type CommandKit, examples } from '../command-kit.js';
import { formatTime, table } from '../format.js';
import { collectList } from '../parse-args.js';
import type { Run } from '../run.js';
import { readKeyFile } from './sign.js';

const KEY_ID = /^[0-9a-f]{64}$/;

interface TargetOptions {
  readonly alias?: string;
  readonly stage?: string;
  readonly default?: boolean;
}

interface RuleOptions {
  readonly file?: string;
  readonly require?: string;
  readonly signedBy?: string[];
  readonly scan?: string;
  readonly approval?: string;
}

/** A key id as given, or the id of the public key in the file it names. */
function keyIdArg(run: Run, text: string): string {
  if (KEY_ID.test(text)) return text;
  return keyIdOf(loadPublicKey(readKeyFile(run, text)));
}

function readRulesFile(run: Run, path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(resolve(run.cli.cwd, path), 'utf8');
  } catch (e) {
    throw new InvalidArgumentError(`cannot read rules file '${path}': ${(e as Error).message}`);
  }
  let value: unknown;
  try {
    value = parseYaml(text); // YAML is a superset of JSON
  } catch (e) {
    throw new InvalidArgumentError(
      `rules file '${path}' is not YAML/JSON: ${(e as Error).message}`,
    );
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new InvalidArgumentError(`rules file '${path}' must hold a mapping of rules`);
  }
  return value as Record<string, unknown>;
}

/** The rules of `policy set`: the file's, overridden by flags; key files become key ids. */
function rulesOf(run: Run, opts: RuleOptions): PolicyRules {
  const rules: Record<string, unknown> = opts.file ? readRulesFile(run, opts.file) : {};
  if (opts.require !== undefined) rules.require = opts.require;
  if (opts.signedBy !== undefined) rules.signedBy = opts.signedBy;
  if (opts.scan !== undefined) rules.scan = opts.scan;
  if (opts.approval !== undefined) rules.approval = opts.approval;
  if (Array.isArray(rules.signedBy)) {
    rules.signedBy = rules.signedBy.map((k) => (typeof k === 'string' ? keyIdArg(run, k) : k));
  }
  return rules as PolicyRules;
}

/** MODEL or --default, and exactly one of --alias and --stage. */
function scopeOf(model: string | undefined, opts: TargetOptions) {
  if ((model === undefined) === (opts.default !== true)) {
    throw new InvalidArgumentError(
      'give a MODEL or --default (the registry-wide policy), not both',
    );
  }
  if ((opts.alias === undefined) === (opts.stage === undefined)) {
    throw new InvalidArgumentError('give exactly one of --alias and --stage');
  }
  const target: PromotionTarget =
    opts.alias !== undefined ? { alias: opts.alias } : { stage: opts.stage as string };
  return { model: model ?? null, ...target };
}

function targetText(p: { alias: string | null; stage: string | null }): string {
  return p.alias !== null ? `alias ${p.alias}` : `stage ${p.stage}`;
}

export function rulesText(rules: PolicyRules): string[] {
  const lines: string[] = [];
  if (rules.require !== undefined) lines.push(`require ${rules.require}`);
  if (rules.signedBy !== undefined) lines.push(`signed by one of ${rules.signedBy.join(', ')}`);
  if (rules.scan !== undefined) lines.push(`scan ${rules.scan}`);
  if (rules.approval !== undefined) lines.push(`approval ${rules.approval}`);
  return lines;
}

function policiesText(policies: readonly PromotionPolicy[]): string {
  if (policies.length === 0) return 'no promotion policies';
  return table(
    ['MODEL', 'TARGET', 'RULES', 'UPDATED'],
    policies.map((p) => [
      p.model ?? '(default)',
      targetText(p),
      rulesText(p.rules).join('; '),
      `${formatTime(p.updatedAt)} by ${p.updatedBy}`,
    ]),
  );
}

export function checkText(c: PolicyCheck): string {
  const head = `${c.model} v${c.version} → ${targetText(c)}: ${c.ok ? 'allowed' : 'REFUSED'}`;
  if (!c.policy) return `${head} (no policy)`;
  const whose = c.policy.model === null ? 'registry-wide default' : `policy of ${c.policy.model}`;
  return [
    `${head} (${whose})`,
    ...c.results.map((r) => `  ${r.ok ? 'ok  ' : 'FAIL'}  ${r.rule}: ${r.message}`),
  ].join('\n');
}

const RULE_HELP = `
Rules (every rule given must hold; a model's policy replaces the registry-wide default
for the same alias or stage):
  --require FILTER     the version matches a search filter, e.g. "metrics.auc >= 0.9"
  --signed-by KEY      a valid signature by this key (id or public key file); repeatable
  --scan MODE          no-dangerous (scanned, nothing dangerous or unreadable) or safe
  --approval MODE      approved, or other-than-creator (approved by someone else)
  --file FILE          the same rules as YAML or JSON: require, signedBy, scan, approval
`;

export function registerPolicy(program: Command, kit: CommandKit): void {
  const policy = program
    .command('policy')
    .description('promotion policies: rules a version must meet to get an alias or a stage')
    .addHelpText(
      'after',
      examples(
        `mvault policy set fraud-detector --alias production --require "metrics.auc >= 0.9" --signed-by release.pub --scan no-dangerous --approval other-than-creator`,
        'mvault policy set --default --stage Production --file production-policy.yaml',
        'mvault policy check fraud-detector@5 production',
        'mvault policy ls',
      ),
    );

  policy
    .command('set')
    .description('create or replace the policy of an alias or a stage')
    .argument('[model]', 'the model (or --default for every model without its own)')
    .option('--default', 'the registry-wide default policy')
    .option('--alias <alias>', 'guard this alias')
    .option('--stage <stage>', 'guard this stage (None, Staging, Production, Archived)')
    .option('--file <file>', 'rules as YAML or JSON')
    .option('--require <filter>', 'a search filter the version must match')
    .option('--signed-by <key>', 'a key id or public key file; repeatable', collectList)
    .option('--scan <mode>', 'no-dangerous or safe')
    .option('--approval <mode>', 'approved or other-than-creator')
    .addHelpText('after', RULE_HELP)
    .action(
      kit.action(async (run, model: string | undefined, opts: TargetOptions & RuleOptions) => {
        const scope = scopeOf(model, opts);
        const result = await (await run.registry()).setPolicy({
          ...scope,
          rules: rulesOf(run, opts),
        });
        run.emit(result, () =>
          [
            `policy of ${result.model ?? 'every model (default)'}, ${targetText(result)}:`,
            ...rulesText(result.rules).map((l) => `  ${l}`),
          ].join('\n'),
        );
      }),
    );

  policy
    .command('ls')
    .description('list promotion policies (registry-wide defaults first)')
    .argument('[model]', "only this model's policies")
    .action(
      kit.action(async (run, model: string | undefined) => {
        const policies = await (await run.registry()).listPolicies(
          model === undefined ? {} : { model },
        );
        run.emit({ policies }, () => policiesText(policies));
      }),
    );

  policy
    .command('rm')
    .description('delete the policy of an alias or a stage')
    .argument('[model]', 'the model (or --default)')
    .option('--default', 'the registry-wide default policy')
    .option('--alias <alias>', 'the alias')
    .option('--stage <stage>', 'the stage')
    .addHelpText('after', examples('mvault policy rm fraud-detector --alias production'))
    .action(
      kit.action(async (run, model: string | undefined, opts: TargetOptions) => {
        const scope = scopeOf(model, opts);
        const deleted = await (await run.registry()).deletePolicy(scope);
        run.emit({ deleted }, () =>
          deleted
            ? `deleted the policy of ${targetText({ alias: null, stage: null, ...scope })}`
            : 'no such policy',
        );
      }),
    );

  policy
    .command('check')
    .description('would promoting a version to an alias (or --stage) be allowed now?')
    .argument('<ref>', 'version: NAME@5, NAME@candidate, models:/NAME/5, …')
    .argument('[alias]', 'the alias to check (or --stage)')
    .option('--stage <stage>', 'check the stage instead of an alias')
    .addHelpText(
      'after',
      `${examples(
        'mvault policy check fraud-detector@5 production',
        'mvault policy check fraud-detector@5 --stage Production --json',
      )}
Exit code 0 when the promotion would be allowed (or no policy applies), 5 when a rule
fails (each failed rule is listed): gate a deployment pipeline on it.
`,
    )
    .action(
      kit.action(async (run, ref: string, alias: string | undefined, opts: { stage?: string }) => {
        if ((alias === undefined) === (opts.stage === undefined)) {
          throw new InvalidArgumentError('give exactly one of ALIAS and --stage');
        }
        const target: PromotionTarget =
          alias !== undefined ? { alias } : { stage: opts.stage as string };
        const result = await (await run.registry()).checkPolicy(ref, target);
        run.emit(result, () => checkText(result));
        if (!result.ok) {
          run.fail(
            ERROR_CODES.POLICY_VIOLATION.exit,
            `policy refuses ${result.model}@${result.version} for ${targetText(result)}: ${result.results
              .filter((r) => !r.ok)
              .map((r) => `${r.rule}: ${r.message}`)
              .join('; ')}`,
          );
        }
      }),
    );
}
