import type { Command } from 'commander';
import type { AuditEvent } from '../../core/registry-api.js';
import { type CommandKit, examples } from '../command-kit.js';
import { eventTable } from '../views.js';

export function registerLog(program: Command, kit: CommandKit): void {
  program
    .command('log')
    .description("a model's history from the audit trail: versions, alias moves, stages, reviews")
    .argument('<name>', 'model name')
    .addHelpText('after', examples('mvault log fraud-detector', 'mvault log fraud-detector --json'))
    .action(
      kit.action(async (run, name: string) => {
        const registry = await run.registry();
        await registry.getModel(name, { includeDeleted: true }); // not found → exit 3
        const events: AuditEvent[] = [];
        for await (const e of registry.auditExport({ model: name })) events.push(e);
        run.emit({ model: name, events }, () => eventTable(events));
      }),
    );
}
