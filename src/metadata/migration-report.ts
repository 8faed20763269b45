/**
 * Lines for people about a database upgrade, from the events opening a database publishes
 * on MIGRATION_CHANNEL: which migrations an upgrade applies, then each one's start and
 * duration, so that a server or CLI that seems to hang at start-up while a large registry
 * is migrated says why (migration 0305 copies ~1 million metric points per 1.3–1.6 s of
 * CPU). Creating a database (every migration pending) prints nothing: it takes well under
 * a second.
 */
import { MIGRATION_CHANNEL, type MigrationEvent } from './dialects/migrate.js';

/** The line for one event. */
export function migrationLine(event: MigrationEvent): string {
  switch (event.phase) {
    case 'plan': {
      const n = event.pending.length;
      return `upgrading the metadata database: ${n} migration${n === 1 ? '' : 's'} to apply (${event.pending.join(', ')}); on a large registry this can take minutes`;
    }
    case 'start':
      return `applying migration ${event.name}…`;
    case 'done':
      return `applied migration ${event.name} in ${(event.ms / 1000).toFixed(1)} s`;
  }
}

/**
 * Prints every upgrade's lines with `print` until the returned function is called.
 * Events of a database being created are skipped.
 */
export function reportMigrations(print: (line: string) => void): () => void {
  let creating = false;
  const onEvent = (message: unknown) => {
    const event = message as MigrationEvent;
    if (event.phase === 'plan') creating = event.fresh;
    if (!creating) print(migrationLine(event));
  };
  MIGRATION_CHANNEL.subscribe(onEvent);
  return () => {
    MIGRATION_CHANNEL.unsubscribe(onEvent);
  };
}

/** Runs `open` (what opens a database), printing its upgrade's lines with `print`. */
export async function reportingMigrations<T>(
  print: ((line: string) => void) | undefined,
  open: () => Promise<T>,
): Promise<T> {
  const stop = print ? reportMigrations(print) : undefined;
  try {
    return await open();
  } finally {
    stop?.();
  }
}
