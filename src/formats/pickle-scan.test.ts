import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  torchStateDictPickle,
  writeTorchZip,
  writeZip,
} from '../../test/fixtures/inspect-files.js';
import {
  INST_PICKLE,
  OS_SYSTEM_PICKLE,
  PLAIN_PICKLE,
  STACK_GLOBAL_EXEC_PICKLE,
  USER_CLASS_PICKLE,
  writeDeflatedZip,
} from '../../test/fixtures/pickle-files.js';
import { classifyGlobal, scanPickle } from './pickle-scan.js';
import { type FileSource, scanFile } from './scan-file.js';

/** Streams `bytes` in pieces of `piece` bytes, so opcodes straddle chunk boundaries. */
async function* pieces(bytes: Uint8Array, piece = 3): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += piece) yield bytes.subarray(i, i + piece);
}

function source(bytes: Uint8Array, piece = 5): FileSource {
  return {
    size: bytes.length,
    stream: (range) =>
      pieces(range ? bytes.subarray(range.offset, range.offset + range.length) : bytes, piece),
  };
}

describe('scanPickle', () => {
  it('flags os.system imported with GLOBAL and called by REDUCE', async () => {
    const s = await scanPickle(pieces(OS_SYSTEM_PICKLE));
    expect(s).toMatchObject({
      verdict: 'dangerous',
      globals: ['os.system'],
      dangerous: ['os.system'],
      calls: ['os.system'],
      reason: null,
      pickles: 1,
    });
  });

  it('resolves STACK_GLOBAL through memoised strings (builtins.exec)', async () => {
    const s = await scanPickle(pieces(STACK_GLOBAL_EXEC_PICKLE, 1));
    expect(s.verdict).toBe('dangerous');
    expect(s.globals).toEqual(['builtins.exec']);
    expect(s.calls).toEqual(['builtins.exec']);
  });

  it('lists INST imports (protocol 0)', async () => {
    const s = await scanPickle(pieces(INST_PICKLE));
    expect(s).toMatchObject({ verdict: 'dangerous', dangerous: ['subprocess.Popen'] });
  });

  it('passes plain data and torch reconstructors; flags unknown classes as suspicious', async () => {
    expect((await scanPickle(pieces(PLAIN_PICKLE))).verdict).toBe('safe');
    const torch = await scanPickle(
      pieces(torchStateDictPickle([{ name: 'w', storage: 'FloatStorage', shape: [2, 3] }])),
    );
    expect(torch.verdict).toBe('safe');
    expect(torch.globals).toEqual([
      'collections.OrderedDict',
      'torch._utils._rebuild_tensor_v2',
      'torch.FloatStorage',
    ]);
    const user = await scanPickle(pieces(USER_CLASS_PICKLE));
    expect(user).toMatchObject({
      verdict: 'suspicious',
      suspicious: ['sklearn.linear_model._logistic.LogisticRegression'],
      calls: ['sklearn.linear_model._logistic.LogisticRegression'],
    });
  });

  it('treats a STACK_GLOBAL of computed strings as dangerous', async () => {
    // STACK_GLOBAL over the results of two calls: the names are unknowable statically.
    const bytes = Uint8Array.from([0x80, 4, 0x29, 0x29, 0x93, 0x2e]);
    const s = await scanPickle(pieces(bytes));
    expect(s.verdict).toBe('dangerous');
    expect(s.dangerous).toEqual(['<computed>']);
  });

  it('follows concatenated pickles (legacy torch) and ignores trailing raw bytes', async () => {
    const bytes = Buffer.concat([PLAIN_PICKLE, OS_SYSTEM_PICKLE, Buffer.from([1, 2, 3, 4])]);
    const s = await scanPickle(pieces(bytes, 7));
    expect(s.pickles).toBe(2);
    expect(s.verdict).toBe('dangerous');
  });

  it('reports hostile input as unreadable with a reason', async () => {
    const truncated = await scanPickle(pieces(OS_SYSTEM_PICKLE.subarray(0, 20)));
    expect(truncated.verdict).toBe('dangerous'); // os.system was already imported
    expect(truncated.reason).toMatch(/truncated/);
    const cut = await scanPickle(pieces(PLAIN_PICKLE.subarray(0, 15)));
    expect(cut).toMatchObject({ verdict: 'unreadable' });
    expect(cut.reason).toMatch(/truncated/);
    // BINBYTES8 claiming 2^52 bytes: skipped lazily, ends as truncated, nothing buffered.
    const huge = Uint8Array.from([0x80, 4, 0x8e, 0, 0, 0, 0, 0, 0, 0x10, 0, 0x2e]);
    expect((await scanPickle(pieces(huge))).reason).toMatch(/truncated/);
    const unknown = await scanPickle(pieces(Uint8Array.from([0x80, 2, 0xff])));
    expect(unknown.reason).toMatch(/unknown pickle opcode 0xff/);
    // A deep memo: 2000 MEMOIZE ops against a limit of 1000.
    const deep = Uint8Array.from([0x80, 4, 0x4e, ...new Array(2000).fill(0x94), 0x2e]);
    expect((await scanPickle(pieces(deep, 64), { maxMemo: 1000 })).reason).toMatch(/memo/);
    const ops = Uint8Array.from([0x80, 4, ...new Array(100).fill(0x4e), 0x2e]);
    expect((await scanPickle(pieces(ops), { maxOps: 50 })).reason).toMatch(/more than 50/);
  });

  it('never throws on arbitrary bytes, and finds a denied global wherever it is spliced', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 400 }),
        fc.integer({ min: 1, max: 9 }),
        async (b, p) => {
          const s = await scanPickle(pieces(b, p), { maxOps: 10_000 });
          expect(['safe', 'suspicious', 'dangerous', 'unreadable']).toContain(s.verdict);
          if (s.verdict === 'unreadable') expect(s.reason).toBeTruthy();
        },
      ),
      { numRuns: 500 },
    );
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 60 }), async (tail) => {
        // A dangerous pickle followed by junk is still dangerous.
        const s = await scanPickle(pieces(Buffer.concat([OS_SYSTEM_PICKLE, tail])));
        expect(s.verdict).toBe('dangerous');
      }),
      { numRuns: 200 },
    );
  });
});

describe('classifyGlobal', () => {
  it('denies execution, process, file and network modules and allows reconstructors', () => {
    for (const g of [
      'os.system',
      'posix.system',
      'nt.system',
      'subprocess.check_output',
      'builtins.eval',
      'builtins.getattr',
      '__builtin__.__import__',
      'runpy._run_code',
      'webbrowser.open',
      'socket.create_connection',
      'shutil.rmtree',
    ]) {
      expect(classifyGlobal(g), g).toBe('dangerous');
    }
    for (const g of [
      'torch._utils._rebuild_tensor_v2',
      'torch.HalfStorage',
      'numpy.core.multiarray._reconstruct',
      'numpy.dtype',
      'numpy.float32',
      'collections.OrderedDict',
      'builtins.set',
    ]) {
      expect(classifyGlobal(g), g).toBe('safe');
    }
    expect(classifyGlobal('mypackage.Model')).toBe('suspicious');
  });
});

describe('scanFile', () => {
  it('scans every pickle member of a PyTorch zip checkpoint', async () => {
    const zip = writeTorchZip([{ name: 'w', storage: 'HalfStorage', shape: [4] }], 'archive');
    const r = await scanFile('model.pt', source(zip));
    expect(r).toMatchObject({ format: 'zip', verdict: 'safe', reason: null });
    expect(r?.members.map((m) => m.name)).toEqual(['archive/data.pkl']);
  });

  it('flags a malicious data.pkl inside a .bin zip, and pickles inside a deflated zip', async () => {
    const bad = writeZip([
      { name: 'archive/data.pkl', data: OS_SYSTEM_PICKLE },
      { name: 'archive/version', data: Buffer.from('3\n') },
    ]);
    const r = await scanFile('pytorch_model.bin', source(bad));
    expect(r).toMatchObject({ verdict: 'dangerous', dangerous: ['os.system'] });
    const deflated = writeDeflatedZip([
      { name: 'readme.txt', data: Buffer.from('hello') },
      { name: 'inner/model.pkl', data: STACK_GLOBAL_EXEC_PICKLE },
      { name: 'inner/ok.pickle', data: PLAIN_PICKLE },
    ]);
    const z = await scanFile('bundle.zip', source(deflated, 11));
    expect(z?.verdict).toBe('dangerous');
    expect(z?.members.map((m) => [m.name, m.verdict])).toEqual([
      ['inner/model.pkl', 'dangerous'],
      ['inner/ok.pickle', 'safe'],
    ]);
  });

  it('returns null for files that are not pickle-based', async () => {
    expect(await scanFile('model.safetensors', source(PLAIN_PICKLE))).toBeNull();
    expect(await scanFile('weights.bin', source(Buffer.from('raw tensor bytes')))).toBeNull();
    const noPickles = writeZip([{ name: 'a.txt', data: Buffer.from('x') }]);
    expect(await scanFile('data.zip', source(noPickles))).toBeNull();
  });

  it('scans legacy (non-zip) torch files and bare pickles; a damaged zip is unreadable', async () => {
    expect((await scanFile('old.pth', source(OS_SYSTEM_PICKLE)))?.verdict).toBe('dangerous');
    expect((await scanFile('m.joblib', source(USER_CLASS_PICKLE)))?.verdict).toBe('suspicious');
    const zip = writeTorchZip([{ name: 'w', storage: 'FloatStorage', shape: [2] }]);
    const damaged = await scanFile('m.pt', source(zip.subarray(0, zip.length - 5)));
    expect(damaged).toMatchObject({ verdict: 'unreadable' });
    expect(damaged?.reason).toBeTruthy();
  });

  it('never throws on damaged archives', async () => {
    const zip = writeZip([{ name: 'archive/data.pkl', data: OS_SYSTEM_PICKLE }]);
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: zip.length - 1 }),
        fc.integer({ min: 0, max: 255 }),
        async (at, value) => {
          const copy = Uint8Array.from(zip);
          copy[at] = value;
          const r = await scanFile('x.pt', source(copy));
          if (r) expect(['safe', 'suspicious', 'dangerous', 'unreadable']).toContain(r.verdict);
        },
      ),
      { numRuns: 300 },
    );
  });
});
