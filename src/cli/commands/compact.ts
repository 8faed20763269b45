/**
 * `mvault compact`: the metadata database's free space back to the file system
 * (RegistryMaintenance.compact; docs/cli.md).
 */
import type { Command } from 'commander';
import { type CommandKit, examples } from '../command-kit.js';
import { formatBytes } from '../format.js';

export function registerCompact(program: Command, kit: CommandKit): void {
  program
    .command('compact')
    .description("give the metadata database's free space back to the file system")
    .addHelpText(
      'after',
      `${examples('mvault compact', 'mvault compact --json')}
SQLite keeps the pages of dropped tables and deleted rows in metadata.db as free space
(after an upgrade that rewrote a table, or after gc): compact rewrites the file without
them. It needs free disk space of about twice the database's size while it runs, and holds
the database's write lock until it ends: run it while the server is stopped or quiet (its
writes wait up to 30 s for the lock, then fail as busy). On PostgreSQL it runs
VACUUM ANALYZE on the registry's tables, which blocks no one.
`,
    )
    .action(
      kit.action(async (run) => {
        const registry = await run.registry();
        run.note('compacting the metadata database…');
        const result = await registry.compact();
        run.emit(result, () => {
          const free =
            result.freeBytesBefore !== undefined
              ? ` (${formatBytes(result.freeBytesBefore)} of it free)`
              : '';
          return [
            `${result.location}: ${formatBytes(result.bytesBefore)}${free} → ${formatBytes(result.bytesAfter)} in ${took(result.durationMs)}`,
            `freed ${formatBytes(Math.max(0, result.bytesBefore - result.bytesAfter))}`,
          ].join('\n');
        });
      }),
    );
}

/** `850 ms`, `12.3 s`. */
function took(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}
