/**
 * What every registry service shares: the database, the clock, who acts by default, the
 * SQL dialect the search compiler targets, and how long deleted things stay restorable.
 */
import type { MutationOptions } from '../core/registry-api.js';
import type { Database } from '../metadata/database.js';
import type { RegistryDB } from '../metadata/schema.js';
import type { SqlDialectName } from '../metadata/search/compile-filter.js';
import { checkActor } from './input-checks.js';

export interface RegistryContext {
  readonly database: Database<RegistryDB>;
  /** Milliseconds since the epoch; injectable so tests control time. */
  readonly now: () => number;
  /** The actor of a mutation whose options name none. */
  readonly defaultActor: string;
  readonly dialect: SqlDialectName;
  /** How long a soft-deleted version or model stays restorable (retention.ts). */
  readonly retentionMs: number;
}

/** The validated actor of a mutation. @throws InvalidArgumentError */
export function actorOf(ctx: RegistryContext, options: MutationOptions | undefined): string {
  return checkActor(options?.actor ?? ctx.defaultActor);
}
