// A small reader for the protobuf text format of cel-spec's conformance files (SimpleTestFile), enough for its tests.

/** A message: each field name maps to the values it was given, in order (fields repeat). */
export interface Message {
  [field: string]: Field[];
}
export type Field = string | number | bigint | boolean | Message;

interface Tok {
  t: 'id' | 'str' | 'num' | 'sym';
  v: string;
  line: number;
}

function tokens(src: string, file: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  let line = 1;
  while (i < src.length) {
    const c = src[i]!;
    if (c === '\n') {
      line++;
      i++;
    } else if (c === ' ' || c === '\t' || c === '\r') i++;
    else if (c === '#') {
      while (i < src.length && src[i] !== '\n') i++;
    } else if (c === '"' || c === "'") {
      // Protobuf text strings: C escapes; the bytes they spell are UTF-8.
      const bytes: number[] = [];
      i++;
      while (i < src.length && src[i] !== c) {
        if (src[i] === '\\') {
          const e = src[i + 1]!;
          i += 2;
          const simple: Record<string, number> = { n: 10, t: 9, r: 13, a: 7, b: 8, f: 12, v: 11, '\\': 92, "'": 39, '"': 34, '?': 63 };
          if (e in simple) bytes.push(simple[e]!);
          else if (e >= '0' && e <= '7') {
            let o = e;
            while (o.length < 3 && src[i]! >= '0' && src[i]! <= '7') o += src[i++];
            bytes.push(Number.parseInt(o, 8));
          } else if (e === 'x') {
            let h = '';
            while (h.length < 2 && /[0-9a-fA-F]/.test(src[i]!)) h += src[i++];
            bytes.push(Number.parseInt(h, 16));
          } else if (e === 'u' || e === 'U') {
            const n = e === 'u' ? 4 : 8;
            const cp = Number.parseInt(src.slice(i, i + n), 16);
            i += n;
            bytes.push(...Buffer.from(String.fromCodePoint(cp), 'utf8'));
          } else throw new Error(`${file}:${line}: unknown escape \\${e}`);
        } else {
          const cp = src.codePointAt(i)!;
          const ch = String.fromCodePoint(cp);
          bytes.push(...Buffer.from(ch, 'utf8'));
          i += ch.length;
        }
      }
      i++;
      out.push({ t: 'str', v: Buffer.from(bytes).toString('utf8'), line });
    } else if (/[-0-9.]/.test(c)) {
      const m = /^-?(?:0x[0-9a-fA-F]+|[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?|inf|nan)[fFuU]?/i.exec(src.slice(i));
      if (!m) throw new Error(`${file}:${line}: bad number`);
      out.push({ t: 'num', v: m[0], line });
      i += m[0].length;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_.]*/.exec(src.slice(i))!;
      out.push({ t: 'id', v: m[0], line });
      i += m[0].length;
    } else if (c === '[') {
      // An Any's type URL: [type.googleapis.com/google.protobuf.Duration]
      const j = src.indexOf(']', i);
      out.push({ t: 'id', v: src.slice(i, j + 1), line });
      i = j + 1;
    } else {
      out.push({ t: 'sym', v: c, line });
      i++;
    }
  }
  return out;
}

/** Parses a textproto file into nested messages (numbers stay text-exact as bigint or number). */
export function parseTextproto(src: string, file = 'textproto'): Message {
  const toks = tokens(src, file);
  let p = 0;
  const peek = () => toks[p];
  function message(close: string | null): Message {
    const m: Message = {};
    while (p < toks.length) {
      const t = toks[p]!;
      if (close && t.t === 'sym' && t.v === close) {
        p++;
        return m;
      }
      if (t.t === 'sym' && (t.v === ',' || t.v === ';')) {
        p++;
        continue;
      }
      if (t.t !== 'id') throw new Error(`${file}:${t.line}: expected a field name, got ${t.v}`);
      p++;
      let nt = peek();
      if (nt?.t === 'sym' && nt.v === ':') {
        p++;
        nt = peek();
      }
      let v: Field;
      if (nt?.t === 'sym' && (nt.v === '{' || nt.v === '<')) {
        p++;
        v = message(nt.v === '{' ? '}' : '>');
      } else if (nt?.t === 'sym' && nt.v === '[') {
        // A list of scalars: [1, 2]
        p++;
        const items: Field[] = [];
        while (!(peek()?.t === 'sym' && peek()!.v === ']')) {
          const x = toks[p++]!;
          if (x.t !== 'sym') items.push(scalar(x));
        }
        p++;
        (m[t.v] ??= []).push(...items);
        continue;
      } else {
        const x = toks[p++]!;
        v = scalar(x);
        // Adjacent strings concatenate.
        while (typeof v === 'string' && peek()?.t === 'str') v += toks[p++]!.v;
      }
      (m[t.v] ??= []).push(v);
    }
    if (close) throw new Error(`${file}: missing ${close}`);
    return m;
  }
  function scalar(x: Tok): Field {
    if (x.t === 'str') return x.v;
    if (x.t === 'num') {
      const s = x.v.replace(/[uU]$/, '');
      if (/^-?\d+$/.test(s)) return BigInt(s);
      if (/^-?inf$/i.test(s)) return s.startsWith('-') ? -Infinity : Infinity;
      if (/nan/i.test(s)) return Number.NaN;
      return Number(s.replace(/[fF]$/, ''));
    }
    if (/^(inf|infinity)$/i.test(x.v)) return Infinity;
    if (/^nan$/i.test(x.v)) return Number.NaN;
    if (x.v === 'true') return true;
    if (x.v === 'false') return false;
    return x.v; // an enum name such as NULL_VALUE
  }
  return message(null);
}

/** The one value of a field (or undefined). */
export function one<T extends Field>(m: Message, field: string): T | undefined {
  return m[field]?.[0] as T | undefined;
}
