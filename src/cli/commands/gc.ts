import type { Command } from 'commander';
import { DEFAULT_UPLOAD_TTL_MS } from '../../registry/artifact-service.js';
import { describePeriod } from '../../registry/retention.js';
import { type CommandKit, examples } from '../command-kit.js';
import { formatBytes } from '../format.js';
import { parseDuration } from '../parse-args.js';

export function registerGc(program: Command, kit: CommandKit): void {
  program
    .command('gc')
    .description(
      'reclaim the space of files no live or restorable version uses; purge runs deleted long ago',
    )
    .option('--dry-run', 'report what would be reclaimed and purged, change nothing')
    .option('--grace <duration>', 'keep anything stored more recently (default 1h)', parseDuration)
    .addHelpText(
      'after',
      `${examples('mvault gc --dry-run', 'mvault gc', 'mvault gc --grace 10m')}
Kept: the files of every version that is not deleted, or was deleted (or whose model was)
less than 30 days ago — those can still be restored. Safe to run while others push.
Purged first (as MLflow's 'mlflow gc'): MLflow runs deleted more than 30 days (plus the
grace period) ago, with their metrics, params, tags and artifacts, then experiments deleted
that long ago with no run left; their names become free. A run restored before then keeps
everything. Versions registered from a purged run keep their files, metrics and params.
Each purge is recorded in the audit trail (run.purged, experiment.purged).
MLflow multipart uploads that received no part for 24 hours are dropped with their parts.
`,
    )
    .action(
      kit.action(async (run, opts: { dryRun?: boolean; grace?: number }) => {
        const result = await (await run.registry()).gc({
          dryRun: opts.dryRun === true,
          ...(opts.grace !== undefined ? { graceMs: opts.grace } : {}),
        });
        run.emit(result, () => {
          const would = result.dryRun ? 'would remove' : 'removed';
          const purge = result.dryRun ? 'would purge' : 'purged';
          return [
            `${purge} ${result.runsPurged} MLflow run(s) and ${result.experimentsPurged} experiment(s) deleted more than ${describePeriod(result.retentionMs)} ago`,
            result.uploadsExpired > 0
              ? `${result.dryRun ? 'would drop' : 'dropped'} ${result.uploadsExpired} MLflow multipart upload(s) that received no part for ${describePeriod(DEFAULT_UPLOAD_TTL_MS)}`
              : '',
            `kept ${result.liveManifests} manifest(s) of live versions and of versions deleted less than ${describePeriod(result.retentionMs)} ago`,
            `${would} ${result.manifestsDeleted} manifest(s), ${result.filesDeleted} file(s), ${result.chunksTombstoned} chunk(s) marked dead`,
            result.dryRun
              ? ''
              : `deleted ${result.packsDeleted} pack(s), repacked ${result.packsRepacked}; freed ${formatBytes(result.bytesFreed)}`,
          ]
            .filter((l) => l !== '')
            .join('\n');
        });
      }),
    );
}
