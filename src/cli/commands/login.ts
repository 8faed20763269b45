/**
 * `mvault login URL` and `mvault logout [URL]`: sign in to a server once, with a user name
 * and password, and keep an API token for it (credentials.ts), so later commands with
 * `--registry URL` are signed in. logout revokes the token on the server and forgets it.
 */
import { hostname } from 'node:os';
import type { Command } from 'commander';
import { InvalidArgumentError } from '../../core/errors.js';
import { type CommandKit, examples } from '../command-kit.js';
import { forgetLogin, saveLogin, serverKey } from '../credentials.js';
import { promptLine, readPassword } from '../read-secret.js';
import { namedLocation } from '../registry-location.js';
import { parseDays } from './token.js';

export function registerLogin(program: Command, kit: CommandKit): void {
  program
    .command('login')
    .description('sign in to a server and keep an API token for it')
    .argument('<url>', 'the server, e.g. http://registry:5000')
    .option('-u, --username <name>', 'user name (default: asked)')
    .option('--password-stdin', 'read the password from stdin instead of asking')
    .option('--token-name <name>', 'name of the token created (default: mvault-cli@HOST)')
    .option('--expires-in <days>', 'the token stops working after this many days')
    .addHelpText(
      'after',
      examples(
        'mvault login http://registry:5000',
        'echo "$PASSWORD" | mvault login http://registry:5000 -u ci-bot --password-stdin',
        'mvault --registry http://registry:5000 ls',
      ),
    )
    .action(
      kit.action(
        async (
          run,
          url: string,
          opts: {
            username?: string;
            passwordStdin?: boolean;
            tokenName?: string;
            expiresIn?: string;
          },
        ) => {
          const server = serverKey(url);
          const user = opts.username ?? (await promptLine('Username: ', false));
          const password = await readPassword(opts.passwordStdin, undefined, run.cli.stdin);
          const { HttpClient } = await import('../../client/http-client.js');
          const basic = Buffer.from(`${user}:${password}`).toString('base64');
          const http = new HttpClient(server, { headers: { authorization: `Basic ${basic}` } });
          const created = await http.json<{ id: string; token: string; user: string }>(
            'POST',
            '/api/v1/tokens',
            {
              json: {
                name: opts.tokenName ?? `mvault-cli@${hostname()}`,
                ...(opts.expiresIn !== undefined ? { expiresInMs: parseDays(opts.expiresIn) } : {}),
              },
            },
          );
          await saveLogin(run.cli.env, server, {
            user: created.user,
            token: created.token,
            tokenId: created.id,
          });
          run.emit({ server, user: created.user, tokenId: created.id }, () => {
            return `Logged in to ${server} as ${created.user} (token ${created.id})`;
          });
        },
      ),
    );

  program
    .command('logout')
    .description('revoke the stored token of a server and forget it')
    .argument('[url]', 'the server (default: --registry or MODELVAULT_REGISTRY)')
    .addHelpText(
      'after',
      examples(
        'mvault logout http://registry:5000',
        'mvault --registry http://registry:5000 logout',
      ),
    )
    .action(
      kit.action(async (run, url: string | undefined) => {
        const named =
          url ?? namedLocation({ flag: run.globals.registry, env: run.cli.env, cwd: run.cli.cwd });
        if (named === undefined) throw new InvalidArgumentError('name the server to log out of');
        const server = serverKey(named);
        const login = await forgetLogin(run.cli.env, server);
        let revoked = false;
        if (login) {
          const { HttpClient } = await import('../../client/http-client.js');
          const http = new HttpClient(server, { token: login.token, retries: 0 });
          revoked = await http
            .request('DELETE', `/api/v1/tokens/${encodeURIComponent(login.tokenId)}`)
            .then(
              () => true,
              () => false,
            );
          if (!revoked) run.note(`note: could not revoke token ${login.tokenId} on ${server}`);
        }
        run.emit({ server, loggedOut: login !== undefined, revoked }, () =>
          login ? `Logged out of ${server}` : `Not logged in to ${server}`,
        );
      }),
    );
}
