/**
 * A symbolic pickle machine: it follows a pickle's opcodes (protocols 0–5) and builds a
 * description of what the pickle *would* construct — globals are names, calls
 * (REDUCE/NEWOBJ) are records of callable and arguments, persistent ids are records —
 * without importing or calling anything. It is how PyTorch checkpoints' tensor lists are
 * read safely. Hostile input is bounded: opcode count, stack size, memo size, container
 * items and bytes held are capped, and anything unexpected is a FormatReject.
 */
import { FormatReject } from '../range-cursor.js';

export type PickleValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | PickleBytes
  | PickleGlobal
  | PickleCall
  | PicklePid
  | PickleList
  | PickleDict;

export interface PickleBytes {
  readonly k: 'bytes';
  readonly length: number;
}
export interface PickleGlobal {
  readonly k: 'global';
  readonly module: string;
  readonly name: string;
}
/** An object made by calling `fn(*args)`; SETITEM(S)/APPEND(S)/BUILD on it are recorded. */
export interface PickleCall {
  readonly k: 'call';
  readonly fn: PickleValue;
  readonly args: PickleValue;
  readonly entries: [PickleValue, PickleValue][];
  readonly items: PickleValue[];
  state?: PickleValue;
}
export interface PicklePid {
  readonly k: 'pid';
  readonly pid: PickleValue;
}
export interface PickleList {
  readonly k: 'list' | 'tuple' | 'set';
  readonly items: PickleValue[];
}
export interface PickleDict {
  readonly k: 'dict';
  readonly entries: [PickleValue, PickleValue][];
}

export const PICKLE_LIMITS = Object.freeze({
  maxOps: 20_000_000,
  maxStack: 1_000_000,
  maxMemo: 2_000_000,
  maxItems: 20_000_000,
  maxString: 1024 * 1024,
});

const MARK = Symbol('mark');
type Slot = PickleValue | typeof MARK;

export interface PickleWalk {
  readonly value: PickleValue;
  /** Every `module.name` the pickle refers to, in first-seen order (at most 1000). */
  readonly globals: readonly string[];
}

/** Walks the pickle in `bytes` to its STOP. @throws FormatReject */
export function walkPickle(bytes: Uint8Array): PickleWalk {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const decoder = new TextDecoder('utf-8');
  const stack: Slot[] = [];
  const memo = new Map<number, PickleValue>();
  const globals = new Set<string>();
  let items = 0;
  let pos = 0;
  let ops = 0;

  const need = (n: number) => {
    if (n < 0 || pos + n > bytes.length)
      throw new FormatReject(`truncated pickle at offset ${pos}`);
  };
  const push = (v: Slot) => {
    if (stack.length >= PICKLE_LIMITS.maxStack) throw new FormatReject('pickle stack too deep');
    stack.push(v);
  };
  const pop = (): PickleValue => {
    const v = stack.pop();
    if (v === undefined) throw new FormatReject(`pickle stack underflow at offset ${pos}`);
    if (v === MARK) throw new FormatReject(`unexpected mark at offset ${pos}`);
    return v;
  };
  const top = (): PickleValue => {
    const v = stack[stack.length - 1];
    if (v === undefined || v === MARK)
      throw new FormatReject(`pickle stack underflow at offset ${pos}`);
    return v;
  };
  const popMark = (): PickleValue[] => {
    for (let i = stack.length - 1; i >= 0; i--) {
      if (stack[i] === MARK) {
        const out = stack.slice(i + 1) as PickleValue[];
        stack.length = i;
        return out;
      }
    }
    throw new FormatReject(`pickle mark missing at offset ${pos}`);
  };
  const count = (n: number) => {
    items += n;
    if (items > PICKLE_LIMITS.maxItems) throw new FormatReject('pickle builds too many items');
  };
  const str = (n: number): string => {
    need(n);
    if (n > PICKLE_LIMITS.maxString)
      throw new FormatReject(`pickle string of ${n} bytes exceeds the limit`);
    const s = decoder.decode(bytes.subarray(pos, pos + n));
    pos += n;
    return s;
  };
  const blob = (n: number): PickleBytes => {
    need(n);
    pos += n;
    return { k: 'bytes', length: n };
  };
  const line = (): string => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0 || end - pos > 4096)
      throw new FormatReject(`bad pickle text argument at offset ${pos}`);
    const s = decoder.decode(bytes.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  const put = (key: number) => {
    if (!memo.has(key) && memo.size >= PICKLE_LIMITS.maxMemo)
      throw new FormatReject('pickle memo too large');
    memo.set(key, top());
  };
  const get = (key: number) => {
    const v = memo.get(key);
    if (v === undefined) throw new FormatReject(`pickle memo key ${key} missing`);
    push(v);
  };
  const global = (module: string, name: string): PickleGlobal => {
    if (globals.size < 1000) globals.add(`${module}.${name}`);
    return { k: 'global', module, name };
  };
  const call = (fn: PickleValue, args: PickleValue): PickleCall => ({
    k: 'call',
    fn,
    args,
    entries: [],
    items: [],
  });
  const entriesOf = (target: PickleValue): [PickleValue, PickleValue][] => {
    if (
      target !== null &&
      typeof target === 'object' &&
      (target.k === 'dict' || target.k === 'call')
    )
      return target.entries;
    throw new FormatReject(`pickle SETITEM on a non-dict at offset ${pos}`);
  };
  const itemsOf = (target: PickleValue): PickleValue[] => {
    if (
      target !== null &&
      typeof target === 'object' &&
      (target.k === 'list' || target.k === 'call' || target.k === 'set')
    )
      return target.items;
    throw new FormatReject(`pickle APPEND on a non-list at offset ${pos}`);
  };
  const pairs = (flat: PickleValue[]): [PickleValue, PickleValue][] => {
    if (flat.length % 2 !== 0) throw new FormatReject(`odd number of dict items at offset ${pos}`);
    const out: [PickleValue, PickleValue][] = [];
    for (let i = 0; i < flat.length; i += 2) out.push([flat[i]!, flat[i + 1]!]);
    return out;
  };
  const int = (text: string): number | bigint | boolean => {
    if (text === '00') return false;
    if (text === '01') return true;
    const t = text.endsWith('L') ? text.slice(0, -1) : text;
    if (!/^-?\d{1,400}$/.test(t)) throw new FormatReject(`bad pickle integer at offset ${pos}`);
    const b = BigInt(t);
    return b >= BigInt(Number.MIN_SAFE_INTEGER) && b <= BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(b)
      : b;
  };
  const long = (n: number): number | bigint => {
    need(n);
    if (n > 1024) throw new FormatReject(`pickle long of ${n} bytes exceeds the limit`);
    let v = 0n;
    for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[pos + i]!);
    if (n > 0 && (bytes[pos + n - 1]! & 0x80) !== 0) v -= 1n << BigInt(8 * n);
    pos += n;
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(v)
      : v;
  };
  const u32 = () => {
    need(4);
    const v = view.getUint32(pos, true);
    pos += 4;
    return v;
  };
  const u64 = () => {
    need(8);
    const v = view.getUint32(pos, true) + view.getUint32(pos + 4, true) * 2 ** 32;
    pos += 8;
    return v;
  };
  const u8 = () => {
    need(1);
    return bytes[pos++]!;
  };

  for (;;) {
    if (++ops > PICKLE_LIMITS.maxOps) throw new FormatReject('pickle has too many opcodes');
    const at = pos;
    const op = u8();
    switch (op) {
      case 0x80: // PROTO
        u8();
        break;
      case 0x95: // FRAME
        u64();
        break;
      case 0x2e: // STOP
        if (stack.length !== 1)
          throw new FormatReject(`pickle stops with ${stack.length} items on the stack`);
        return { value: pop(), globals: [...globals] };
      case 0x28: // MARK
        push(MARK);
        break;
      case 0x7d: // EMPTY_DICT
        push({ k: 'dict', entries: [] });
        break;
      case 0x5d: // EMPTY_LIST
        push({ k: 'list', items: [] });
        break;
      case 0x29: // EMPTY_TUPLE
        push({ k: 'tuple', items: [] });
        break;
      case 0x8f: // EMPTY_SET
        push({ k: 'set', items: [] });
        break;
      case 0x74: // TUPLE
        push({ k: 'tuple', items: popMark() });
        break;
      case 0x85: // TUPLE1
      case 0x86: // TUPLE2
      case 0x87: {
        // TUPLE3
        const n = op - 0x84;
        const t: PickleValue[] = [];
        for (let i = 0; i < n; i++) t.unshift(pop());
        push({ k: 'tuple', items: t });
        break;
      }
      case 0x6c: // LIST
        push({ k: 'list', items: popMark() });
        break;
      case 0x91: // FROZENSET
        push({ k: 'set', items: popMark() });
        break;
      case 0x64: // DICT
        push({ k: 'dict', entries: pairs(popMark()) });
        break;
      case 0x73: {
        // SETITEM
        const v = pop();
        const k = pop();
        count(1);
        entriesOf(top()).push([k, v]);
        break;
      }
      case 0x75: {
        // SETITEMS
        const flat = popMark();
        count(flat.length);
        entriesOf(top()).push(...pairs(flat));
        break;
      }
      case 0x61: {
        // APPEND
        const v = pop();
        count(1);
        itemsOf(top()).push(v);
        break;
      }
      case 0x65: // APPENDS
      case 0x90: {
        // ADDITEMS
        const flat = popMark();
        count(flat.length);
        for (const v of flat) itemsOf(top()).push(v);
        break;
      }
      case 0x71: // BINPUT
        put(u8());
        break;
      case 0x72: // LONG_BINPUT
        put(u32());
        break;
      case 0x70: // PUT
        put(Number(int(line())));
        break;
      case 0x94: // MEMOIZE
        put(memo.size);
        break;
      case 0x68: // BINGET
        get(u8());
        break;
      case 0x6a: // LONG_BINGET
        get(u32());
        break;
      case 0x67: // GET
        get(Number(int(line())));
        break;
      case 0x4a: // BININT
        need(4);
        push(view.getInt32(pos, true));
        pos += 4;
        break;
      case 0x4b: // BININT1
        push(u8());
        break;
      case 0x4d: // BININT2
        need(2);
        push(view.getUint16(pos, true));
        pos += 2;
        break;
      case 0x8a: // LONG1
        push(long(u8()));
        break;
      case 0x8b: // LONG4
        push(long(u32()));
        break;
      case 0x49: // INT
      case 0x4c: // LONG
        push(int(line()));
        break;
      case 0x47: // BINFLOAT
        need(8);
        push(view.getFloat64(pos, false));
        pos += 8;
        break;
      case 0x46: {
        // FLOAT
        const f = Number(line());
        push(f);
        break;
      }
      case 0x58: // BINUNICODE
        push(str(u32()));
        break;
      case 0x8c: // SHORT_BINUNICODE
        push(str(u8()));
        break;
      case 0x8d: // BINUNICODE8
        push(str(u64()));
        break;
      case 0x55: // SHORT_BINSTRING
        push(str(u8()));
        break;
      case 0x54: // BINSTRING
        push(str(u32()));
        break;
      case 0x56: // UNICODE (raw-unicode-escape line; kept as text)
      case 0x53: // STRING
        push(line());
        break;
      case 0x42: // BINBYTES
        push(blob(u32()));
        break;
      case 0x43: // SHORT_BINBYTES
        push(blob(u8()));
        break;
      case 0x8e: // BINBYTES8
      case 0x96: // BYTEARRAY8
        push(blob(u64()));
        break;
      case 0x4e: // NONE
        push(null);
        break;
      case 0x88: // NEWTRUE
        push(true);
        break;
      case 0x89: // NEWFALSE
        push(false);
        break;
      case 0x63: {
        // GLOBAL
        const module = line();
        push(global(module, line()));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') {
          throw new FormatReject(`STACK_GLOBAL without strings at offset ${at}`);
        }
        push(global(module, name));
        break;
      }
      case 0x52: {
        // REDUCE
        const args = pop();
        push(call(pop(), args));
        break;
      }
      case 0x81: {
        // NEWOBJ
        const args = pop();
        push(call(pop(), args));
        break;
      }
      case 0x92: {
        // NEWOBJ_EX
        pop(); // kwargs
        const args = pop();
        push(call(pop(), args));
        break;
      }
      case 0x62: {
        // BUILD
        const state = pop();
        const target = top();
        if (target !== null && typeof target === 'object' && target.k === 'call')
          target.state = state;
        break;
      }
      case 0x51: // BINPERSID
        push({ k: 'pid', pid: pop() });
        break;
      case 0x50: // PERSID
        push({ k: 'pid', pid: line() });
        break;
      case 0x30: // POP
        if (stack.pop() === undefined)
          throw new FormatReject(`pickle stack underflow at offset ${at}`);
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        push(top());
        break;
      case 0x97: // NEXT_BUFFER
      case 0x98: // READONLY_BUFFER
        throw new FormatReject(`out-of-band pickle buffers are not supported (offset ${at})`);
      default:
        throw new FormatReject(`unsupported pickle opcode 0x${op.toString(16)} at offset ${at}`);
    }
  }
}
