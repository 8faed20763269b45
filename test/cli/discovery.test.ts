/**
 * Where the CLI finds the registry: --registry, else MODELVAULT_REGISTRY, else the
 * nearest .modelvault walking up from the working directory, else a message saying to
 * run `mvault init`.
 */
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { METADATA_DB_FILE } from '../../src/storage/store-layout.js';
import { mvault, mvaultOk } from '../support/cli.js';
import { writeModelDir } from '../support/model-dir.js';

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'mv-cli-discovery-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

describe('registry discovery', () => {
  it('uses the nearest .modelvault above the working directory', async () => {
    const project = join(root, 'project');
    const deep = join(project, 'src', 'training');
    await mkdir(deep, { recursive: true });
    await mvaultOk(['init'], { cwd: project });
    await writeModelDir(join(deep, 'model'), 1);
    await mvaultOk(['push', 'm', './model'], { cwd: deep });
    const listed = await mvaultOk(['ls', '--json'], { cwd: join(project, 'src') });
    expect(listed.json()).toMatchObject({ items: [{ name: 'm' }] });
    // A nearer registry wins.
    await mvaultOk(['init'], { cwd: deep });
    expect((await mvaultOk(['ls', '--json'], { cwd: deep })).json()).toEqual({ items: [] });
  });

  it('says to run mvault init when there is none, and init PATH creates PATH/.modelvault', async () => {
    // Precondition: no registry above the temp directory, or this test means nothing.
    for (let d = root; d !== dirname(d); d = dirname(d)) {
      expect(await exists(join(d, '.modelvault')), `stray registry in ${d}`).toBe(false);
    }
    const none = await mvault(['ls'], { cwd: root });
    expect(none.code).toBe(3);
    expect(none.stderr).toBe(
      `error: no Modelvault registry found in '${root}' or any parent directory: run 'mvault init' to create one here, or pass --registry PATH (or set MODELVAULT_REGISTRY)\n`,
    );
    const created = await mvaultOk(['init', 'elsewhere'], { cwd: root });
    expect(created.stdout).toBe(
      `created an empty registry at ${join(root, 'elsewhere', '.modelvault')}\n`,
    );
  });

  it('says on stderr which migrations an upgrade applies while opening, and nothing once current', async () => {
    const created = await mvaultOk(['init'], { cwd: root });
    expect(created.stderr).toBe('');
    // The registry as it was before migration 0401 (frozen history, so this stays true).
    const db = new Database(join(root, '.modelvault', METADATA_DB_FILE));
    db.exec(`delete from kysely_migration where name = '0401-capability-epoch';
      alter table users drop column capability_epoch`);
    db.close();
    const upgraded = await mvaultOk(['ls', '--json'], { cwd: root });
    expect(upgraded.json()).toEqual({ items: [] });
    const lines = upgraded.stderr.split('\n');
    expect(lines[0]).toBe(
      'upgrading the metadata database: 1 migration to apply (0401-capability-epoch); on a large registry this can take minutes',
    );
    expect(lines[1]).toBe('applying migration 0401-capability-epoch…');
    expect(lines[2]).toMatch(/^applied migration 0401-capability-epoch in \d+\.\d s$/);
    expect((await mvaultOk(['ls'], { cwd: root })).stderr).toBe('');
  });

  it('prefers --registry, then MODELVAULT_REGISTRY, over discovery', async () => {
    const a = join(root, 'a');
    const b = join(root, 'b');
    await mvaultOk(['--registry', a, 'init'], { cwd: root });
    expect(await exists(join(a, 'modelvault.json'))).toBe(true);
    await mvaultOk(['init', b], { cwd: root });
    await writeModelDir(join(root, 'model'), 1);
    await mvaultOk(['push', 'in-a', './model', '--registry', a], { cwd: root });
    await mvaultOk(['push', 'in-b', './model'], { cwd: root, env: { MODELVAULT_REGISTRY: b } });
    // --registry may name the registry directory or a directory holding .modelvault.
    const names = async (env: Record<string, string>, ...flag: string[]) =>
      (await mvaultOk(['ls', '--json', ...flag], { cwd: root, env }))
        .json<{ items: { name: string }[] }>()
        .items.map((m) => m.name);
    expect(await names({}, '--registry', a)).toEqual(['in-a']);
    expect(await names({ MODELVAULT_REGISTRY: b })).toEqual(['in-b']);
    expect(await names({ MODELVAULT_REGISTRY: b }, '--registry', a)).toEqual(['in-a']);
    const missing = await mvault(['ls', '--registry', join(root, 'nowhere')], { cwd: root });
    expect(missing.code).toBe(3);
    expect(missing.stderr).toMatch(
      /^error: no Modelvault registry at '.*nowhere': run 'mvault init/,
    );
  });
});
