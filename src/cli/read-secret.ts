/**
 * Reads a password for `login` and `user add|passwd`: all of stdin with --password-stdin
 * (one trailing newline dropped, so `echo "$PW" | mvault …` works), else a prompt on the
 * terminal with echo off. Without a terminal and without --password-stdin it refuses
 * rather than wait for input that will not come.
 */
import { InvalidArgumentError } from '../core/errors.js';

/** The largest secret read from stdin: a password or token, not a file. */
const MAX_SECRET_BYTES = 64 * 1024;

export async function readAllStdin(
  stdin: NodeJS.ReadableStream & { isTTY?: boolean } = process.stdin,
): Promise<string> {
  if (stdin.isTTY) process.stderr.write('reading the password from stdin (end with Ctrl-D)\n');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of stdin) {
    const b = Buffer.from(c as Uint8Array);
    size += b.length;
    if (size > MAX_SECRET_BYTES) {
      throw new InvalidArgumentError(
        `stdin holds more than ${MAX_SECRET_BYTES} bytes: not a password`,
      );
    }
    chunks.push(b);
  }
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

/** One line typed on the terminal; `hidden` turns echo off (passwords). */
export function promptLine(question: string, hidden: boolean): Promise<string> {
  const stdin = process.stdin;
  if (!stdin.isTTY) {
    throw new InvalidArgumentError(
      `no terminal to ask for the ${hidden ? 'password' : 'value'}: pass it with the options (see --help)`,
    );
  }
  process.stderr.write(question);
  return new Promise((resolve, reject) => {
    let line = '';
    stdin.setRawMode(true);
    stdin.resume();
    stdin.setEncoding('utf8');
    const done = (error?: Error) => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off('data', onData);
      process.stderr.write('\n');
      if (error) reject(error);
      else resolve(line);
    };
    const onData = (s: string) => {
      for (const ch of s) {
        if (ch === '\r' || ch === '\n') return done();
        if (ch === '\u0003') return done(new Error('interrupted'));
        if (ch === '\u007f' || ch === '\b') line = line.slice(0, -1);
        else {
          line += ch;
          if (!hidden) process.stderr.write(ch);
        }
      }
    };
    stdin.on('data', onData);
  });
}

export async function readPassword(
  fromStdin: boolean | undefined,
  question = 'Password: ',
  stdin?: NodeJS.ReadableStream & { isTTY?: boolean },
): Promise<string> {
  return fromStdin ? readAllStdin(stdin) : promptLine(question, true);
}
