/**
 * Unsafe-pickle scanning: follows a pickle's opcodes (protocols 0–5) from a byte stream
 * WITHOUT executing anything, and lists the globals it would import (GLOBAL, INST,
 * STACK_GLOBAL with the strings pushed before it, memoised or not) and the ones it would
 * call (REDUCE, NEWOBJ, NEWOBJ_EX, OBJ, INST). Each global is classified against a
 * deny-list (code execution, processes, files, network) and an allow-list (the
 * reconstructors torch, numpy and the standard containers use); the pickle's verdict is
 * the worst of them:
 *
 *   dangerous    a denied global (os.system, builtins.eval, subprocess.Popen, …), or a
 *                STACK_GLOBAL whose module or name is computed rather than pushed
 *   suspicious   a global on neither list (a user class, sklearn, cloudpickle helpers…)
 *   safe         only allowed globals, or none
 *   unreadable   the opcodes could not be followed (truncated, unknown opcode, limits):
 *                the reason says why. Globals seen before the failure are still listed,
 *                and a denied one still makes the verdict `dangerous`.
 *
 * Bounded: the stream is read incrementally (bytes/string payloads are skipped, never
 * buffered beyond `maxString`), and opcode count, stack depth and memo size are capped,
 * so hostile input costs bounded memory and time. Only a failing byte source throws.
 * Several pickles in a row (PyTorch's legacy format) are followed while the next byte is
 * a PROTO opcode; other trailing bytes (raw storages) are ignored.
 */

import type { ScanVerdict } from '../core/registry-api.js';

export type { ScanVerdict };
export type GlobalClass = 'safe' | 'suspicious' | 'dangerous';

export interface PickleScan {
  readonly verdict: ScanVerdict;
  /** Every `module.name` imported, in first-seen order (at most `maxGlobals`). */
  readonly globals: readonly string[];
  /** The imported globals the deny-list matched (or `<computed>` for a dynamic import). */
  readonly dangerous: readonly string[];
  /** The imported globals on neither list. */
  readonly suspicious: readonly string[];
  /** Globals called by REDUCE/NEWOBJ/OBJ/INST, in first-seen order. */
  readonly calls: readonly string[];
  /** Why the verdict is `unreadable` (else null). */
  readonly reason: string | null;
  /** Pickles followed (more than one for PyTorch's legacy format). */
  readonly pickles: number;
  readonly opcodes: number;
}

export interface PickleScanLimits {
  readonly maxOps: number;
  readonly maxStack: number;
  readonly maxMemo: number;
  readonly maxString: number;
  readonly maxGlobals: number;
  readonly maxLine: number;
}

export const PICKLE_SCAN_LIMITS: PickleScanLimits = Object.freeze({
  maxOps: 50_000_000,
  maxStack: 1_000_000,
  maxMemo: 1_000_000,
  /** Longer strings are skipped (they cannot be module names) instead of decoded. */
  maxString: 4096,
  maxGlobals: 1000,
  /** A text opcode's argument line (GLOBAL, INST, INT, …). */
  maxLine: 4096,
});

// ------------------------------------------------------------------ classification

/** Modules whose every attribute gives code execution, processes, files or sockets. */
const DANGEROUS_MODULES = new Set([
  'os',
  'posix',
  'nt',
  'posixpath',
  'ntpath',
  'subprocess',
  'runpy',
  'webbrowser',
  'socket',
  'shutil',
  'pty',
  'commands',
  'ctypes',
  'importlib',
  'marshal',
  'code',
  'codeop',
  'multiprocessing',
  'sys',
  'pickle',
  '_pickle',
  'cPickle',
  'dill',
  'cloudpickle',
  'asyncio',
  'http',
  'urllib',
  'urllib2',
  'requests',
  'ftplib',
  'smtplib',
  'telnetlib',
  'pip',
  'setuptools',
  'pydoc',
  'timeit',
  'tempfile',
  'signal',
  'threading',
  '_thread',
  'bdb',
  'pdb',
  'imp',
  'zipimport',
]);

/** Individual dangerous callables in otherwise ordinary modules. */
const DANGEROUS_GLOBALS = new Set(
  [
    'eval',
    'exec',
    'execfile',
    'compile',
    'getattr',
    'setattr',
    'delattr',
    '__import__',
    'open',
    'input',
    'breakpoint',
    'globals',
    'locals',
    'vars',
    'help',
    'memoryview',
  ]
    .flatMap((n) => [`builtins.${n}`, `__builtin__.${n}`, `__builtins__.${n}`])
    .concat([
      'operator.attrgetter',
      'operator.methodcaller',
      'functools.partial',
      'functools.reduce',
      'numpy.testing._private.utils.runstring',
      'numpy.load',
      'numpy.lib.npyio.load',
      'torch.load',
      'torch.hub.load',
      'torch.hub.load_state_dict_from_url',
      'torch.serialization.load',
      'torch.jit.load',
      'torch._C._jit_compile',
      'types.CodeType',
      'types.FunctionType',
      'copyreg._reconstructor_from_code',
      'joblib.load',
    ]),
);

const SAFE_BUILTINS = [
  'set',
  'frozenset',
  'dict',
  'list',
  'tuple',
  'int',
  'float',
  'complex',
  'bool',
  'bytes',
  'bytearray',
  'str',
  'slice',
  'range',
  'object',
];
const TORCH_DTYPES = [
  'float16',
  'float32',
  'float64',
  'bfloat16',
  'half',
  'float',
  'double',
  'int8',
  'int16',
  'int32',
  'int64',
  'uint8',
  'bool',
  'complex64',
  'complex128',
  'float8_e4m3fn',
  'float8_e5m2',
];
const TORCH_STORAGES = [
  'Float',
  'Double',
  'Half',
  'BFloat16',
  'Long',
  'Int',
  'Short',
  'Char',
  'Byte',
  'Bool',
  'ComplexFloat',
  'ComplexDouble',
  'QInt8',
  'QUInt8',
  'QInt32',
].map((t) => `torch.${t}Storage`);

/** The reconstructors torch checkpoints, numpy arrays and plain containers pickle to. */
const SAFE_GLOBALS = new Set([
  ...SAFE_BUILTINS.flatMap((n) => [`builtins.${n}`, `__builtin__.${n}`]),
  ...TORCH_DTYPES.map((d) => `torch.${d}`),
  ...TORCH_STORAGES,
  'torch._utils._rebuild_tensor',
  'torch._utils._rebuild_tensor_v2',
  'torch._utils._rebuild_tensor_v3',
  'torch._utils._rebuild_parameter',
  'torch._utils._rebuild_parameter_with_state',
  'torch._utils._rebuild_sparse_tensor',
  'torch._utils._rebuild_sparse_csr_tensor',
  'torch._utils._rebuild_qtensor',
  'torch._utils._rebuild_device_tensor_from_numpy',
  'torch._utils._rebuild_meta_tensor_no_storage',
  'torch._utils._rebuild_wrapper_subclass',
  'torch._tensor._rebuild_from_type',
  'torch._tensor._rebuild_from_type_v2',
  'torch.storage.UntypedStorage',
  'torch.storage.TypedStorage',
  'torch.storage._load_from_bytes',
  'torch.Size',
  'torch.device',
  'torch.nn.parameter.Parameter',
  'torch.per_tensor_affine',
  'torch.contiguous_format',
  'torch.channels_last',
  'collections.OrderedDict',
  'collections.defaultdict',
  'collections.deque',
  'collections.Counter',
  'copy_reg._reconstructor',
  'copyreg._reconstructor',
  '_codecs.encode',
  'codecs.encode',
  'numpy.ndarray',
  'numpy.dtype',
  'numpy.core.multiarray._reconstruct',
  'numpy.core.multiarray.scalar',
  'numpy._core.multiarray._reconstruct',
  'numpy._core.multiarray.scalar',
  'numpy.core.numeric._frombuffer',
  'numpy._core.numeric._frombuffer',
  'joblib.numpy_pickle.NumpyArrayWrapper',
  'datetime.datetime',
  'datetime.date',
  'datetime.time',
  'datetime.timedelta',
  'datetime.timezone',
  'decimal.Decimal',
  'fractions.Fraction',
  'uuid.UUID',
  'argparse.Namespace',
  'pathlib.PosixPath',
  'pathlib.WindowsPath',
  'pathlib.PurePosixPath',
]);

/** Classifies one imported global, `module.name` (dotted module paths allowed). */
export function classifyGlobal(global: string): GlobalClass {
  if (DANGEROUS_GLOBALS.has(global)) return 'dangerous';
  if (SAFE_GLOBALS.has(global)) return 'safe';
  const dot = global.indexOf('.');
  const root = dot < 0 ? global : global.slice(0, dot);
  if (DANGEROUS_MODULES.has(root)) return 'dangerous';
  // numpy scalar types and dtype classes (numpy.float32, numpy.dtypes.Float32DType).
  if (/^numpy\.(dtypes\.)?[A-Za-z0-9_]+$/.test(global) && !/^numpy\.[a-z_]*load/.test(global)) {
    return /^numpy\.(dtypes\.[A-Za-z0-9]+DType|(u?int|float|complex)\d+|bool_?|str_|bytes_|object_)$/.test(
      global,
    )
      ? 'safe'
      : 'suspicious';
  }
  return 'suspicious';
}

// ------------------------------------------------------------------- byte reader

class Truncated extends Error {}
class Reject extends Error {}

/** Pull-based reader over an async byte stream, holding only what an opcode needs. */
class StreamReader {
  private buf = new Uint8Array(0);
  private pos = 0;
  /** Absolute offset of buf[0]. */
  private base = 0;
  private done = false;
  private readonly it: AsyncIterator<Uint8Array>;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.it = source[Symbol.asyncIterator]();
  }

  get offset(): number {
    return this.base + this.pos;
  }

  /** Ensures `n` bytes are buffered; false at end of stream. */
  async fill(n: number): Promise<boolean> {
    while (this.buf.length - this.pos < n) {
      if (this.done) return false;
      const r = await this.it.next();
      if (r.done) {
        this.done = true;
        return false;
      }
      const rest = this.buf.subarray(this.pos);
      const next = new Uint8Array(rest.length + r.value.length);
      next.set(rest, 0);
      next.set(r.value, rest.length);
      this.base += this.pos;
      this.buf = next;
      this.pos = 0;
    }
    return true;
  }

  async bytes(n: number): Promise<Uint8Array> {
    if (!(await this.fill(n))) throw new Truncated(`truncated pickle at offset ${this.offset}`);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  async byte(): Promise<number> {
    return (await this.bytes(1))[0]!;
  }

  /** Next byte without consuming it, or -1 at end of stream. */
  async peek(): Promise<number> {
    return (await this.fill(1)) ? this.buf[this.pos]! : -1;
  }

  /** Skips `n` bytes without buffering them. */
  async skip(n: number): Promise<void> {
    let left = n;
    while (left > 0) {
      const have = this.buf.length - this.pos;
      if (have === 0 && !(await this.fill(1))) {
        throw new Truncated(`truncated pickle at offset ${this.offset}`);
      }
      const take = Math.min(left, this.buf.length - this.pos);
      this.pos += take;
      left -= take;
    }
  }

  /** A newline-terminated argument (protocol 0 opcodes). */
  async line(max: number): Promise<string> {
    for (let i = 0; ; i++) {
      if (i > max) throw new Reject(`text argument longer than ${max} bytes at ${this.offset}`);
      if (!(await this.fill(i + 1))) {
        throw new Truncated(`truncated pickle at offset ${this.offset}`);
      }
      if (this.buf[this.pos + i] === 0x0a) {
        const s = Buffer.from(this.buf.subarray(this.pos, this.pos + i)).toString('latin1');
        this.pos += i + 1;
        return s;
      }
    }
  }

  async close(): Promise<void> {
    await this.it.return?.();
  }
}

// ------------------------------------------------------------------- the machine

const MARK = Symbol('mark');
const OTHER = Symbol('other');
/** A stack slot: only what imports depend on is tracked. */
type Slot =
  | typeof MARK
  | typeof OTHER
  | { readonly s: string }
  | { readonly g: string }
  | { readonly big: true };

const le = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.length);

/**
 * Scans the pickle(s) in `source`. Never throws for bad content (the verdict is then
 * `unreadable`); rethrows only the source's own errors.
 */
export async function scanPickle(
  source: AsyncIterable<Uint8Array>,
  limits: Partial<PickleScanLimits> = {},
): Promise<PickleScan> {
  const L = { ...PICKLE_SCAN_LIMITS, ...limits };
  const r = new StreamReader(source);
  const globals = new Map<string, GlobalClass>();
  const calls = new Set<string>();
  let computed = false;
  let ops = 0;
  let pickles = 0;
  let reason: string | null = null;

  const addGlobal = (module: string, name: string): Slot => {
    const g = `${module}.${name}`;
    if (!globals.has(g) && globals.size < L.maxGlobals) globals.set(g, classifyGlobal(g));
    return { g };
  };

  const scanOne = async (): Promise<void> => {
    const stack: Slot[] = [];
    const memo = new Map<number, Slot>();
    let memoNext = 0;
    const push = (v: Slot) => {
      if (stack.length >= L.maxStack) throw new Reject('pickle stack too deep');
      stack.push(v);
    };
    const pop = (): Slot => {
      const v = stack.pop();
      if (v === undefined) throw new Reject(`pickle stack underflow at offset ${r.offset}`);
      return v;
    };
    const popMark = (): Slot[] => {
      for (let i = stack.length - 1; i >= 0; i--) {
        if (stack[i] === MARK) {
          const items = stack.slice(i + 1);
          stack.length = i;
          return items;
        }
      }
      throw new Reject(`pickle mark missing at offset ${r.offset}`);
    };
    const put = (key: number) => {
      if (!memo.has(key) && memo.size >= L.maxMemo) throw new Reject('pickle memo too large');
      const top = stack[stack.length - 1];
      if (top === undefined || top === MARK) throw new Reject('memoising an empty stack');
      memo.set(key, top);
    };
    const get = (key: number) => {
      const v = memo.get(key);
      if (v === undefined) throw new Reject(`pickle memo key ${key} missing`);
      push(v);
    };
    const call = (fn: Slot) => {
      if (typeof fn === 'object' && 'g' in fn) calls.add(fn.g);
      push(OTHER);
    };
    /** A string payload: decoded when short enough to be a module or name. */
    const text = async (n: number, encoding: 'utf8' | 'latin1') => {
      if (n > L.maxString) {
        await r.skip(n);
        push({ big: true });
      } else {
        push({ s: Buffer.from(await r.bytes(n)).toString(encoding) });
      }
    };
    const u32 = async () => le(await r.bytes(4)).getUint32(0, true);
    const u64 = async () => {
      const v = le(await r.bytes(8));
      const n = v.getUint32(0, true) + v.getUint32(4, true) * 2 ** 32;
      if (!Number.isSafeInteger(n)) throw new Reject(`length ${n} is too large`);
      return n;
    };
    const pyString = (line: string) => {
      // STRING's argument is a quoted Python literal; only its text matters here.
      const m = /^(['"])(.*)\1$/s.exec(line);
      if (!m) throw new Reject(`bad STRING argument at offset ${r.offset}`);
      return m[2]!;
    };

    for (;;) {
      if (++ops > L.maxOps) throw new Reject(`more than ${L.maxOps} opcodes`);
      const at = r.offset;
      const op = await r.byte();
      switch (op) {
        case 0x80: // PROTO
          if ((await r.byte()) > 5) throw new Reject(`unsupported pickle protocol at ${at}`);
          break;
        case 0x95: // FRAME: a length prefix; the opcodes inside are read as usual
          await r.bytes(8);
          break;
        case 0x2e: // STOP
          return;
        case 0x28: // MARK
          push(MARK);
          break;
        case 0x7d: // EMPTY_DICT
        case 0x5d: // EMPTY_LIST
        case 0x29: // EMPTY_TUPLE
        case 0x8f: // EMPTY_SET
        case 0x4e: // NONE
        case 0x88: // NEWTRUE
        case 0x89: // NEWFALSE
          push(OTHER);
          break;
        case 0x74: // TUPLE
        case 0x6c: // LIST
        case 0x64: // DICT
        case 0x91: // FROZENSET
          popMark();
          push(OTHER);
          break;
        case 0x85: // TUPLE1
        case 0x86: // TUPLE2
        case 0x87: // TUPLE3
          for (let i = 0; i < op - 0x84; i++) pop();
          push(OTHER);
          break;
        case 0x73: // SETITEM
          pop();
          pop();
          break;
        case 0x61: // APPEND
        case 0x62: // BUILD
        case 0x30: // POP
          pop();
          break;
        case 0x75: // SETITEMS
        case 0x65: // APPENDS
        case 0x90: // ADDITEMS
        case 0x31: // POP_MARK
          popMark();
          break;
        case 0x32: {
          // DUP
          const top = stack[stack.length - 1];
          if (top === undefined) throw new Reject(`DUP on an empty stack at ${at}`);
          push(top);
          break;
        }
        case 0x71: // BINPUT
          put(await r.byte());
          break;
        case 0x72: // LONG_BINPUT
          put(await u32());
          break;
        case 0x70: // PUT
          put(Number.parseInt(await r.line(L.maxLine), 10));
          break;
        case 0x94: // MEMOIZE
          put(memoNext++);
          break;
        case 0x68: // BINGET
          get(await r.byte());
          break;
        case 0x6a: // LONG_BINGET
          get(await u32());
          break;
        case 0x67: // GET
          get(Number.parseInt(await r.line(L.maxLine), 10));
          break;
        case 0x4a: // BININT
          await r.bytes(4);
          push(OTHER);
          break;
        case 0x4b: // BININT1
          await r.bytes(1);
          push(OTHER);
          break;
        case 0x4d: // BININT2
          await r.bytes(2);
          push(OTHER);
          break;
        case 0x8a: // LONG1
          await r.skip(await r.byte());
          push(OTHER);
          break;
        case 0x8b: {
          // LONG4
          const n = le(await r.bytes(4)).getInt32(0, true);
          if (n < 0) throw new Reject(`negative LONG4 length at ${at}`);
          await r.skip(n);
          push(OTHER);
          break;
        }
        case 0x49: // INT
        case 0x4c: // LONG
        case 0x46: // FLOAT
          await r.line(L.maxLine);
          push(OTHER);
          break;
        case 0x47: // BINFLOAT
          await r.bytes(8);
          push(OTHER);
          break;
        case 0x58: // BINUNICODE
          await text(await u32(), 'utf8');
          break;
        case 0x8c: // SHORT_BINUNICODE
          await text(await r.byte(), 'utf8');
          break;
        case 0x8d: // BINUNICODE8
          await text(await u64(), 'utf8');
          break;
        case 0x55: // SHORT_BINSTRING
          await text(await r.byte(), 'latin1');
          break;
        case 0x54: {
          // BINSTRING
          const n = le(await r.bytes(4)).getInt32(0, true);
          if (n < 0) throw new Reject(`negative BINSTRING length at ${at}`);
          await text(n, 'latin1');
          break;
        }
        case 0x56: // UNICODE (raw-unicode-escape line)
          push({ s: await r.line(L.maxString) });
          break;
        case 0x53: // STRING
          push({ s: pyString(await r.line(L.maxString)) });
          break;
        case 0x42: // BINBYTES
          await r.skip(await u32());
          push(OTHER);
          break;
        case 0x43: // SHORT_BINBYTES
          await r.skip(await r.byte());
          push(OTHER);
          break;
        case 0x8e: // BINBYTES8
        case 0x96: // BYTEARRAY8
          await r.skip(await u64());
          push(OTHER);
          break;
        case 0x97: // NEXT_BUFFER (out-of-band data)
          push(OTHER);
          break;
        case 0x98: // READONLY_BUFFER
          break;
        case 0x63: {
          // GLOBAL module\nname\n
          const module = await r.line(L.maxLine);
          const name = await r.line(L.maxLine);
          push(addGlobal(module, name));
          break;
        }
        case 0x93: {
          // STACK_GLOBAL: module and name are the two strings below the top
          const name = pop();
          const module = pop();
          if (
            typeof name === 'object' &&
            's' in name &&
            typeof module === 'object' &&
            's' in module
          ) {
            push(addGlobal(module.s, name.s));
          } else {
            computed = true;
            push({ g: '<computed>' });
          }
          break;
        }
        case 0x69: {
          // INST module\nname\n: imports and calls the class with the marked items
          const module = await r.line(L.maxLine);
          const name = await r.line(L.maxLine);
          popMark();
          const g = addGlobal(module, name);
          call(g);
          break;
        }
        case 0x6f: {
          // OBJ: the first marked item is the class
          const items = popMark();
          if (items.length === 0) throw new Reject(`OBJ without a class at ${at}`);
          call(items[0]!);
          break;
        }
        case 0x52: {
          // REDUCE callable args
          pop();
          call(pop());
          break;
        }
        case 0x81: {
          // NEWOBJ cls args
          pop();
          call(pop());
          break;
        }
        case 0x92: {
          // NEWOBJ_EX cls args kwargs
          pop();
          pop();
          call(pop());
          break;
        }
        case 0x51: // BINPERSID
          pop();
          push(OTHER);
          break;
        case 0x50: // PERSID
          await r.line(L.maxLine);
          push(OTHER);
          break;
        case 0x82: // EXT1
          await r.bytes(1);
          push({ g: '<extension>' });
          computed = true;
          break;
        case 0x83: // EXT2
          await r.bytes(2);
          push({ g: '<extension>' });
          computed = true;
          break;
        case 0x84: // EXT4
          await r.bytes(4);
          push({ g: '<extension>' });
          computed = true;
          break;
        default:
          throw new Reject(`unknown pickle opcode 0x${op.toString(16)} at offset ${at}`);
      }
    }
  };

  try {
    do {
      await scanOne();
      pickles++;
    } while ((await r.peek()) === 0x80);
  } catch (e) {
    if (e instanceof Truncated || e instanceof Reject) reason = e.message;
    else throw e;
  } finally {
    await r.close();
  }

  const all = [...globals.keys()];
  const dangerous = all.filter((g) => globals.get(g) === 'dangerous');
  if (computed) dangerous.push('<computed>');
  const suspicious = all.filter((g) => globals.get(g) === 'suspicious');
  const verdict: ScanVerdict =
    dangerous.length > 0
      ? 'dangerous'
      : reason !== null
        ? 'unreadable'
        : suspicious.length > 0
          ? 'suspicious'
          : 'safe';
  return {
    verdict,
    globals: all,
    dangerous,
    suspicious,
    calls: [...calls].slice(0, L.maxGlobals),
    reason,
    pickles,
    opcodes: ops,
  };
}

/** The result for bytes that could not be scanned at all (e.g. a member that won't inflate). */
export function unreadableScan(reason: string): PickleScan {
  return {
    verdict: 'unreadable',
    globals: [],
    dangerous: [],
    suspicious: [],
    calls: [],
    reason,
    pickles: 0,
    opcodes: 0,
  };
}

/** Orders verdicts from best to worst, for combining several pickles' results. */
export const VERDICT_RANK: Readonly<Record<ScanVerdict, number>> = {
  safe: 0,
  suspicious: 1,
  unreadable: 2,
  dangerous: 3,
};

export function worstVerdict(verdicts: Iterable<ScanVerdict>): ScanVerdict {
  let worst: ScanVerdict = 'safe';
  for (const v of verdicts) if (VERDICT_RANK[v] > VERDICT_RANK[worst]) worst = v;
  return worst;
}
