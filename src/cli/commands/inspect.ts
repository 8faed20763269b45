import type { Command } from 'commander';
import { type CommandKit, examples } from '../command-kit.js';
import { inspectionText } from '../inspect-views.js';

export function registerInspect(program: Command, kit: CommandKit): void {
  program
    .command('inspect')
    .description(
      "what a version's files are, from their headers: format, tensors, dtypes, parameters, metadata",
    )
    .argument('<ref>', 'version: NAME (the latest), NAME@4, NAME@ALIAS, models:/NAME/4, …')
    .argument('[file]', 'one file of the version (path as in the manifest): list its tensors')
    .addHelpText(
      'after',
      examples(
        'mvault inspect llama-tiny@3',
        'mvault inspect llama-tiny@3 model.safetensors',
        'mvault inspect llama-tiny@production model.onnx --json',
      ),
    )
    .action(
      kit.action(async (run, ref: string, file: string | undefined) => {
        const registry = await run.registry();
        const result = await registry.inspectVersion(ref, file === undefined ? {} : { path: file });
        run.emit(result, () => inspectionText(result));
      }),
    );
}
