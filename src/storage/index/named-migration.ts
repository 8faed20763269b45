import type { Kysely } from 'kysely';

/**
 * Structural twin of metadata's NamedMigration, so storage can ship its DDL without
 * importing the metadata layer; the registry passes both lists to openDatabase.
 */
export interface NamedMigrationLike {
  readonly name: string;
  // biome-ignore lint/suspicious/noExplicitAny: migrations run before the typed schema exists
  up(db: Kysely<any>): Promise<void>;
}
