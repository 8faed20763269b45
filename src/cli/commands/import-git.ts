import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { stageGitCommit } from '../../registry/git-snapshot.js';
import { type CommandKit, examples } from '../command-kit.js';
import { formatBytes, shortDigest } from '../format.js';
import { addVersionOptions } from './push.js';

interface ImportOptions {
  readonly metric?: Record<string, number>;
  readonly param?: Record<string, string>;
  readonly tag?: Record<string, string>;
  readonly parent?: string[];
  readonly description?: string;
}

/**
 * `mvault import-git NAME REPO [REF]`: registers the files of a git commit (Git LFS files
 * resolved from their pointers) as a new version, with the commit as code lineage.
 */
export function registerImportGit(program: Command, kit: CommandKit): void {
  addVersionOptions(
    program
      .command('import-git')
      .description('register the files of a git commit (Git LFS files included) as a new version')
      .argument('<name>', 'model name (the model is created if it is new)')
      .argument('<repo>', 'path of a git repository (a clone, bare or not)')
      .argument('[ref]', 'branch, tag or commit', 'HEAD'),
  )
    .option('-m, --description <text>', 'what this version is')
    .addHelpText(
      'after',
      `${examples(
        'mvault import-git llama-ft ./llama-ft main',
        'mvault import-git llama-ft ./llama-ft v2.1 --metric eval_loss=1.82 --parent llama-ft@3',
      )}
LFS files come from the repository's .git/lfs/objects (hard-linked while staging, so not
copied), else from the registry when it already stores them (for example because the
repository's LFS server is this Modelvault); the registry stores only chunks it lacks.
The remote URL and commit are the version's code lineage; the ref is the tag git.ref.
`,
    )
    .action(
      kit.action(async (run, name: string, repo: string, ref: string, opts: ImportOptions) => {
        const registry = await run.registry();
        const stored = await run.storedFile();
        const staging = await mkdtemp(join(tmpdir(), 'mvault-import-'));
        try {
          const snap = await stageGitCommit(resolve(run.cli.cwd, repo), ref, staging, { stored });
          if (snap.skipped.length > 0) {
            run.note(`skipped ${snap.skipped.length} submodule(s) or symbolic link(s)`);
          }
          const bar = run.progress('importing');
          const { version, stats } = await registry.push(staging, {
            model: name,
            ...(opts.metric ? { metrics: opts.metric } : {}),
            ...(opts.param ? { params: opts.param } : {}),
            tags: { ...(opts.tag ?? {}), 'git.ref': snap.ref },
            description: opts.description ?? `imported from git ${snap.ref} at ${snap.commit}`,
            lineage: {
              ...(opts.parent ? { parents: opts.parent } : {}),
              code: {
                ...(snap.remote ? { gitRemote: snap.remote } : {}),
                gitCommit: snap.commit,
                gitDirty: false,
              },
            },
            ...(bar ? { onProgress: bar.onProgress } : {}),
            signal: run.signal(),
          });
          bar?.stop();
          run.emit({ version, stats, git: snap }, () => {
            const saved =
              stats.bytes === 0 ? 0 : Math.round((1 - stats.newBytes / stats.bytes) * 100);
            return `${version.model} v${version.version}  ${shortDigest(version.digest)}  ${snap.ref} ${snap.commit.slice(0, 12)}  ${snap.files} files (${snap.lfsFiles} LFS), ${formatBytes(stats.bytes)}, ${formatBytes(stats.newBytes)} new (${saved}% deduplicated)`;
          });
        } finally {
          await rm(staging, { recursive: true, force: true });
        }
      }),
    );
}
