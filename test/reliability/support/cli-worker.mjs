/**
 * Child process of concurrency.test.ts (plain JS over the built dist/): runs `mvault`
 * command lines in-process through runCli, exactly as the binary does (each command opens
 * the registry, acts and closes it), so many commands cost one process start.
 *
 *   node cli-worker.mjs push CWD REGISTRY WORKER COUNT
 *     pushes COUNT versions of model `shared`, moving `production` to each one (and
 *     rolling `staging` back now and then), then prints {numbers, files} as JSON
 *   node cli-worker.mjs gc CWD REGISTRY_DIR STOPFILE
 *     runs `mvault gc --grace 30s` until STOPFILE exists, then prints {runs}
 */
import { createHash } from 'node:crypto';
import { access, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { runCli } from '../../../dist/cli/program.js';

const [mode, cwd, registry, ...rest] = process.argv.slice(2);

async function mvault(args, user, accept = [0]) {
  let stdout = '';
  let stderr = '';
  const sink = (add) =>
    new Writable({
      write(chunk, _enc, done) {
        add(String(chunk));
        done();
      },
    });
  const code = await runCli([...args, '--registry', registry], {
    env: { MODELVAULT_USER: user, NO_COLOR: '1' },
    cwd,
    stdout: sink((s) => {
      stdout += s;
    }),
    stderr: sink((s) => {
      stderr += s;
    }),
  });
  if (!accept.includes(code)) {
    throw new Error(`mvault ${args.join(' ')} exited ${code}: ${stderr}`);
  }
  return { code, stdout, stderr };
}

function bytes(label, size) {
  const out = Buffer.alloc(size);
  for (let off = 0, i = 0; off < size; off += 32, i++) {
    createHash('sha256').update(`${label}:${i}`).digest().copy(out, off);
  }
  return out;
}
const sha = (b) => createHash('sha256').update(b).digest('hex');

if (mode === 'push') {
  const [worker, count] = rest;
  const user = `worker-${worker}`;
  const dir = join(cwd, `w${worker}`);
  await mkdir(dir, { recursive: true });
  const base = bytes('base', 64 * 1024);
  await writeFile(join(dir, 'base.bin'), base);
  const numbers = [];
  const files = {};
  for (let i = 0; i < Number(count); i++) {
    const delta = bytes(`delta-${worker}-${i}`, 16 * 1024 + i);
    await writeFile(join(dir, 'delta.bin'), delta);
    const pushed = await mvault(['push', 'shared', dir, '--metric', `step=${i}`, '--json'], user);
    const n = JSON.parse(pushed.stdout).version.version;
    numbers.push(n);
    files[n] = { 'base.bin': sha(base), 'delta.bin': sha(delta) };
    await mvault(['alias', 'set', 'shared', 'production', String(n)], user);
    await mvault(['alias', 'set', 'shared', 'staging', String(n)], user);
    // Racing rollbacks: may find nothing to roll back to (exit 1), never anything worse.
    if (i % 3 === 2) await mvault(['rollback', 'shared', 'staging'], user, [0, 1]);
  }
  process.stdout.write(`${JSON.stringify({ numbers, files })}\n`);
} else if (mode === 'gc') {
  const [stopFile] = rest;
  let runs = 0;
  for (;;) {
    if (
      await access(stopFile).then(
        () => true,
        () => false,
      )
    )
      break;
    await mvault(['gc', '--grace', '30s'], 'gc');
    runs++;
  }
  process.stdout.write(`${JSON.stringify({ runs })}\n`);
} else {
  throw new Error(`unknown mode ${mode}`);
}
