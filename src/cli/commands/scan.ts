import type { Command } from 'commander';
import { type CommandKit, examples } from '../command-kit.js';
import { formatTime } from '../format.js';

export function registerScan(program: Command, kit: CommandKit): void {
  program
    .command('scan')
    .description(
      "show a version's unsafe-pickle scan: each pickle-based file's verdict and imports",
    )
    .argument('<ref>', 'version: NAME@4, NAME@ALIAS, models:/NAME/4, …')
    .addHelpText(
      'after',
      `${examples('mvault scan fraud-detector@4', 'mvault scan fraud-detector@4 --json')}
Verdicts: safe (only known reconstructors), suspicious (other imports), dangerous (code
execution, processes, files, network), unreadable (could not be followed). Dangerous
files are flagged, not refused. Exit code 0 whatever the verdict.
`,
    )
    .action(
      kit.action(async (run, ref: string) => {
        const registry = await run.registry();
        const version = await registry.getVersion(ref);
        const scan = await registry.getScan(`${version.model}@${version.version}`);
        run.emit({ model: version.model, version: version.version, scan }, () => {
          if (!scan) return `${version.model} v${version.version}: not scanned`;
          const head = `${version.model} v${version.version}: ${scan.verdict} (${scan.files} pickle-based file${scan.files === 1 ? '' : 's'}, ${scan.scanner}, ${formatTime(scan.scannedAt)})`;
          return [
            head,
            ...scan.fileScans.flatMap((f) => [
              `  ${f.verdict.padEnd(10)} ${f.path}`,
              ...(f.dangerous.length ? [`    dangerous: ${f.dangerous.join(', ')}`] : []),
              ...(f.suspicious.length ? [`    suspicious: ${f.suspicious.join(', ')}`] : []),
              ...(f.reason ? [`    reason: ${f.reason}`] : []),
            ]),
          ].join('\n');
        });
      }),
    );
}
