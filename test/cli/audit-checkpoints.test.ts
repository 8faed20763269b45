/**
 * Signed audit checkpoints: a server signs them (on demand and periodically) with the key
 * it made in its registry directory; `mvault audit export` includes them; `mvault audit
 * verify --file --key` checks an export offline and names the first broken link of a
 * tampered, rewritten, cut or foreign-signed export. Also the embedded `--key` path.
 */
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../src/core/errors.js';
import { computeEventHash } from '../../src/metadata/audit-chain.js';
import { checkpointKeyPaths } from '../../src/storage/store-layout.js';
import { startTestServer, type TestServer } from '../server/support/test-server.js';
import { mvault, mvaultOk } from '../support/cli.js';

const BROKEN = ERROR_CODES.VERIFICATION_FAILED.exit;
let cwd: string;
let server: TestServer;
let pub: string;

// biome-ignore lint/suspicious/noExplicitAny: export lines are read field by field
type Line = Record<string, any>;
const readLines = async (file: string): Promise<Line[]> =>
  (await readFile(join(cwd, file), 'utf8'))
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Line);
const writeLines = (file: string, lines: Line[]) =>
  writeFile(join(cwd, file), `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`);

/** Recomputes every event hash from `fromSeq` on, as a forger with database access would. */
function rehash(lines: Line[], fromSeq: number): Line[] {
  let prev: string | undefined;
  return lines.map((l) => {
    if (l.type === 'checkpoint') return l;
    if (l.seq < fromSeq) {
      prev = l.hash;
      return l;
    }
    const event = { ...l, prevHash: prev ?? l.prevHash, time: new Date(l.time).toISOString() };
    const hash = computeEventHash(event as never);
    prev = hash;
    return { ...l, prevHash: event.prevHash, hash };
  });
}

beforeAll(async () => {
  cwd = await mkdtemp(join(tmpdir(), 'mv-cli-checkpoints-'));
  server = await startTestServer({ checkpointEveryMs: 0 });
  pub = checkpointKeyPaths(join(server.dir, 'registry')).publicKey;
});
afterAll(async () => {
  await server?.close();
  await rm(cwd, { recursive: true, force: true });
});

describe('audit checkpoints', () => {
  const remote = (args: string[], expected = 0) =>
    mvaultOk(['--registry', server.url, ...args], { cwd }, expected);
  const verify = (file: string, key = pub) =>
    mvault(['audit', 'verify', '--file', file, '--key', key], { cwd });

  it('the server keeps its key in the registry directory, private key unreadable by others', async () => {
    const { privateKey } = checkpointKeyPaths(join(server.dir, 'registry'));
    expect((await stat(privateKey)).mode & 0o077).toBe(0);
    expect(await readFile(pub, 'utf8')).toMatch(/BEGIN PUBLIC KEY/);
  });

  it('exports checkpoints with the events and verifies the export offline', async () => {
    const client = server.client();
    for (const name of ['cp-a', 'cp-b', 'cp-c']) await client.createModel({ name });
    const first = (await remote(['--json', 'audit', 'checkpoint'])).json<{ checkpoint: Line }>();
    expect(first.checkpoint).toMatchObject({ seq: 3, keyId: expect.stringMatching(/^sha256:/) });
    // Nothing moved: the same checkpoint.
    expect((await remote(['--json', 'audit', 'checkpoint'])).json()).toEqual(first);
    for (const name of ['cp-d', 'cp-e']) await client.createModel({ name });
    await client.setModelTag('cp-a', 'k', 'v');
    await remote(['audit', 'checkpoint']); // seq 6
    await client.createModel({ name: 'cp-f' }); // seq 7: not yet attested

    const out = await remote(['audit', 'export', '--output', 'trail.jsonl']);
    expect(out.stdout).toBe(
      `exported 7 event(s) and 2 checkpoint(s) to ${join(cwd, 'trail.jsonl')}\n`,
    );
    const lines = await readLines('trail.jsonl');
    expect(lines.map((l) => (l.type === 'checkpoint' ? `cp${l.seq}` : l.seq))).toEqual([
      1,
      2,
      3,
      'cp3',
      4,
      5,
      6,
      'cp6',
      7,
    ]);
    const ok = await verify('trail.jsonl');
    expect(ok.code).toBe(0);
    expect(ok.stdout).toBe(
      'export verified: 7 events, 2 checkpoint(s), attested through seq 6 (1 later event(s) intact but not yet attested)\n',
    );
    // A filtered export has no checkpoints, so it is not attested.
    await remote(['audit', 'export', '--model', 'cp-a', '--output', 'partial.jsonl']);
    expect((await readLines('partial.jsonl')).some((l) => l.type === 'checkpoint')).toBe(false);
  });

  it('names the first broken link of a tampered export', async () => {
    const lines = await readLines('trail.jsonl');
    const event = (seq: number) => lines.findIndex((l) => l.seq === seq && l.type === undefined);

    // 1. An event's content changed.
    const changed = structuredClone(lines);
    (changed[event(2)] as Line).actor = 'mallory';
    await writeLines('changed.jsonl', changed);
    const r1 = await verify('changed.jsonl');
    expect(r1.code).toBe(BROKEN);
    expect(r1.stderr).toContain('audit export broken at seq 2: event 2 does not match its hash');

    // 2. The chain rewritten from seq 5 with every hash recomputed: the checkpoint at 6
    //    no longer matches (a plain hash chain could not tell).
    const rewritten = structuredClone(lines);
    (rewritten[event(5)] as Line).actor = 'mallory';
    await writeLines('rewritten.jsonl', rehash(rewritten, 5));
    const r2 = await verify('rewritten.jsonl');
    expect(r2.code).toBe(BROKEN);
    expect(r2.stderr).toContain('at seq 6: event 6 differs from the signed checkpoint at seq 6');

    // 3. Events removed from the middle.
    await writeLines(
      'gap.jsonl',
      lines.filter((_, i) => i !== event(4)),
    );
    expect((await verify('gap.jsonl')).stderr).toContain('at seq 5: events 4..4 are missing');

    // 4. The tail cut before a checkpoint (the checkpoint line kept).
    await writeLines(
      'cut.jsonl',
      lines.filter((l) => l.type === 'checkpoint' || l.seq <= 4),
    );
    const r4 = await verify('cut.jsonl');
    expect(r4.stderr).toContain(
      'at seq 5: the export ends at seq 4, before the signed checkpoint at seq 6',
    );

    // 5. A checkpoint whose signature was altered, and another key's export.
    const forged = structuredClone(lines);
    const cp = forged.find((l) => l.type === 'checkpoint' && l.seq === 3) as Line;
    cp.hash = (forged[event(2)] as Line).hash;
    await writeLines('forged.jsonl', forged);
    expect((await verify('forged.jsonl')).stderr).toContain(
      'at seq 3: the checkpoint at seq 3 (line 4) is not signed by this key',
    );
    await mvaultOk(['keygen', 'other'], { cwd });
    const other = await verify('trail.jsonl', 'other.pub');
    expect(other.code).toBe(BROKEN);
    expect(other.stderr).toContain('not signed by this key');

    // Usage: --file needs --key.
    expect((await mvault(['audit', 'verify', '--file', 'trail.jsonl'], { cwd })).code).toBe(2);
  });

  it('a server signs checkpoints periodically', async () => {
    const periodic = await startTestServer({ checkpointEveryMs: 20 });
    try {
      await periodic.client().createModel({ name: 'ticking' });
      const deadline = Date.now() + 20_000;
      let checkpoints = await periodic.client().auditCheckpoints();
      while (checkpoints.length === 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 25));
        checkpoints = await periodic.client().auditCheckpoints();
      }
      expect(checkpoints).toMatchObject([{ seq: 1 }]);
    } finally {
      await periodic.close();
    }
  });

  it('an embedded registry signs with --key, and without one says how', async () => {
    const dir = join(cwd, 'embedded');
    const local = (args: string[], expected = 0) =>
      mvaultOk(['--registry', dir, ...args], { cwd }, expected);
    await mvaultOk(['init', dir], { cwd });
    await mkdir(join(cwd, 'small'), { recursive: true });
    await writeFile(join(cwd, 'small', 'weights.bin'), 'not really weights');
    await mvaultOk(['keygen', 'embedded'], { cwd });
    const empty = await local(['audit', 'checkpoint', '--key', 'embedded.key']);
    expect(empty.stdout).toBe('the audit trail is empty: nothing to sign\n');
    await local(['push', 'small', 'small']);
    const { code, stderr } = await mvault(['--registry', dir, 'audit', 'checkpoint'], { cwd });
    expect(code).toBe(ERROR_CODES.UNSUPPORTED.exit);
    expect(stderr).toContain('no checkpoint key');
    expect((await local(['audit', 'checkpoint', '--key', 'embedded.key'])).stdout).toMatch(
      /^checkpoint at seq 2, head [0-9a-f]{64}, key sha256:/,
    );
    await local(['audit', 'export', '--output', 'embedded.jsonl']);
    const ok = await verify('embedded.jsonl', 'embedded.pub');
    expect(ok.stdout).toBe('export verified: 2 events, 1 checkpoint(s), attested through seq 2\n');
    // A remote registry signs with the server's key only.
    const refused = await mvault(
      ['--registry', server.url, 'audit', 'checkpoint', '--key', 'embedded.key'],
      { cwd },
    );
    expect(refused.code).toBe(2);
  });
});
