/**
 * `mvault user add|ls|disable|enable|passwd`: users of a registry. On a local registry
 * these work on its database directly (the first user turns the server's authentication
 * on); with `--registry URL` they go through the API and need an admin (passwd: yourself).
 */
import type { Command } from 'commander';
import { type CommandKit, examples } from '../command-kit.js';
import { formatTime, table } from '../format.js';
import { readPassword } from '../read-secret.js';

export function registerUser(program: Command, kit: CommandKit): void {
  const user = program
    .command('user')
    .description('manage users (who can sign in to a server)')
    .addHelpText(
      'after',
      examples(
        'mvault user ls',
        'echo "$PW" | mvault user add alice --admin --password-stdin',
        'mvault user disable bob',
        'mvault user passwd alice',
      ),
    );

  user
    .command('add')
    .description('create a user (asks for the password)')
    .argument('<name>', 'user name: letters, digits, . _ @ + -')
    .option('--admin', 'a registry admin (manages users and every permission)')
    .option('--password-stdin', 'read the password from stdin instead of asking')
    .addHelpText(
      'after',
      examples(
        'mvault user add alice --admin',
        'echo "$PW" | mvault --registry http://registry:5000 user add ci-bot --password-stdin',
      ),
    )
    .action(
      kit.action(async (run, name: string, opts: { admin?: boolean; passwordStdin?: boolean }) => {
        const password = await readPassword(opts.passwordStdin, undefined, run.cli.stdin);
        const created = await (await run.access()).createUser({
          name,
          password,
          admin: opts.admin === true,
        });
        run.emit(created, () => `Created user ${created.name}${created.admin ? ' (admin)' : ''}`);
      }),
    );

  user
    .command('ls')
    .description('list users')
    .addHelpText('after', examples('mvault user ls', 'mvault --json user ls'))
    .action(
      kit.action(async (run) => {
        const users = await (await run.access()).listUsers();
        run.emit({ users }, () =>
          users.length === 0
            ? 'No users: the server does not ask anyone to sign in (add one with mvault user add)'
            : table(
                ['USER', 'ADMIN', 'CREATED', 'STATUS'],
                users.map((u) => [
                  u.name,
                  u.admin ? 'yes' : '',
                  formatTime(u.createdAt),
                  u.disabledAt === null ? 'active' : `disabled ${formatTime(u.disabledAt)}`,
                ]),
              ),
        );
      }),
    );

  for (const [verb, disabled] of [
    ['disable', true],
    ['enable', false],
  ] as const) {
    user
      .command(verb)
      .description(
        disabled
          ? 'disable a user: no sign-in, and their tokens stop working'
          : 're-enable a disabled user',
      )
      .argument('<name>', 'user name')
      .addHelpText('after', examples(`mvault user ${verb} bob`))
      .action(
        kit.action(async (run, name: string) => {
          const u = await (await run.access()).setUserDisabled(name, disabled);
          run.emit(u, () => `User ${u.name} is ${u.disabledAt === null ? 'active' : 'disabled'}`);
        }),
      );
  }

  user
    .command('passwd')
    .description("set a user's password (asks for it)")
    .argument('<name>', 'user name')
    .option('--password-stdin', 'read the password from stdin instead of asking')
    .addHelpText(
      'after',
      examples(
        'mvault user passwd alice',
        'echo "$PW" | mvault user passwd alice --password-stdin',
      ),
    )
    .action(
      kit.action(async (run, name: string, opts: { passwordStdin?: boolean }) => {
        const password = await readPassword(opts.passwordStdin, 'New password: ', run.cli.stdin);
        await (await run.access()).setPassword(name, password);
        run.emit({ user: name, passwordChanged: true }, () => `Password of ${name} changed`);
      }),
    );
}
