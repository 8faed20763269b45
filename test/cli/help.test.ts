/** Every command's help exits 0 and ends with examples; --version prints the version. */
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { mvault } from '../support/cli.js';

const COMMANDS = [
  'init',
  'push',
  'pull',
  'ls',
  'show',
  'log',
  'diff',
  'alias',
  'alias set',
  'alias rm',
  'alias history',
  'rollback',
  'stage',
  'approve',
  'reject',
  'tag',
  'describe',
  'search',
  'rm',
  'restore',
  'gc',
  'fsck',
  'repair',
  'compact',
  'audit',
  'audit log',
  'audit verify',
  'audit export',
  'login',
  'logout',
  'user',
  'user add',
  'user ls',
  'user disable',
  'user enable',
  'user passwd',
  'token',
  'token create',
  'token ls',
  'token revoke',
  'perm',
  'perm grant',
  'perm revoke',
  'perm ls',
  'perm default',
];

describe('help', () => {
  it('mvault --help lists every command, with examples, exit codes and references', async () => {
    const r = await mvault(['--help'], { cwd: tmpdir() });
    expect(r.code).toBe(0);
    for (const c of COMMANDS.filter((c) => !c.includes(' '))) {
      expect(r.stdout).toMatch(new RegExp(`\\n  ${c}[ |]`));
    }
    expect(r.stdout).toContain('Examples:\n  $ mvault init\n');
    expect(r.stdout).toContain('Exit codes:  0 ok, 1 failure, 2 usage error, 3 not found, 4');
    expect(r.stdout).toContain('models:/NAME/4');
  });

  it('each command has help with examples', async () => {
    const results = await Promise.all(
      COMMANDS.map((c) => mvault([...c.split(' '), '--help'], { cwd: tmpdir() })),
    );
    results.forEach((r, i) => {
      const command = COMMANDS[i]!;
      expect(r.code, command).toBe(0);
      expect(r.stdout, command).toMatch(new RegExp(`^Usage: mvault ${command}[ |]`));
      expect(r.stdout, command).toMatch(
        new RegExp(`\\nExamples:\\n {2}\\$ mvault ${command.split(' ')[0]}`),
      );
      expect(r.stdout, command).toContain('--json');
    });
  });

  it('prints the package version', async () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
    const r = await mvault(['--version'], { cwd: tmpdir() });
    expect(r).toMatchObject({ code: 0, stdout: `${pkg.version}\n` });
  });
});
