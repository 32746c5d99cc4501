// Compiles a type-checked cel-js AST into one JavaScript function (the fast path); throws Unsupported for the rest.
import { DYN, elementType, hasDyn, hidesIntOrDuration, kindOfType, MACROS, type CelNode, type CelType, type Kind } from './ast.js';
import * as R from './runtime.js';
import { UNKNOWN } from './runtime.js';
import { compileRegex, isRegex } from './re2.js';

/** Raised at compile time for a construct the compiler leaves to the interpreter. */
export class Unsupported extends Error {}

function unsupported(why: string): never {
  throw new Unsupported(why);
}

/** A compiled sub-expression: a JS expression (a temporary or a literal) and what is known about it statically. */
interface Val {
  js: string;
  type: CelType;
  k: Kind;
  /**
   * The value was built by compiled code, so it has its static type all the way down.
   * Values read from the activation are checked against their declared type when read.
   */
  trusted: boolean;
  /** The value may hold a CEL int (or duration) where its static type says dyn. */
  taint: boolean;
  /** For duration literals: the cel-js Duration, so timestamp +/- duration stays exact. */
  dur?: { seconds: bigint; nanos: number };
  /** A literal: never UNKNOWN, its JS type is its static type. */
  lit?: boolean;
}

export interface FastOptions {
  /** Declared variables and their (normalized) CEL types. */
  variables: ReadonlyMap<string, CelType>;
  /** Evaluates a constant expression with the reference interpreter (for duration literals). */
  constant(source: string): unknown;
}

export type FastFn = (activation: object) => unknown;

const TYPE_CODE: Partial<Record<Kind, number>> = {
  dyn: R.T_DYN,
  string: R.T_STRING,
  double: R.T_DOUBLE,
  bool: R.T_BOOL,
  null: R.T_NULL,
  list: R.T_LIST,
  map: R.T_MAP,
  time: R.T_TIME,
};

/** JS condition that holds when `x` conforms to type code `t`. */
function conformsJs(x: string, t: number): string {
  switch (t) {
    case R.T_DYN:
      return 'true';
    case R.T_STRING:
      return `typeof ${x} === "string"`;
    case R.T_DOUBLE:
      return `typeof ${x} === "number"`;
    case R.T_BOOL:
      return `typeof ${x} === "boolean"`;
    case R.T_NULL:
      return `${x} === null`;
    case R.T_LIST:
      return `isArray(${x})`;
    case R.T_MAP:
      return `isPlainMap(${x})`;
    case R.T_TIME:
      return `isDate(${x})`;
  }
  return 'false';
}

/**
 * A key no JSON-like value (nor UNKNOWN, a Date, a Map...) has unless it is an own
 * property: then `v?.[key]` is undefined for every such value except a map holding
 * the key, and compiled code may read first and check the receiver's type only when
 * the read finds nothing. Numeric keys (`"0"` on a string) and inherited names
 * (`constructor`, `length`, `description` on a symbol...) take the checked path.
 */
const SAMPLES: unknown[] = [{}, [], '', 0, false, Symbol('x'), () => 0, new Date(0), new Map(), new Set(), /x/];
function safeKey(k: string): boolean {
  if (k === '__proto__' || /^(\d|-\d|NaN$|Infinity$|-Infinity$)/.test(k)) return false;
  return !SAMPLES.some((v) => k in Object(v));
}

const BANNED_MAP_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

const NUM: ReadonlySet<Kind> = new Set(['int', 'double']);

class Gen {
  private lines: string[] = [];
  private ntmp = 0;
  readonly consts: unknown[] = [];
  private scope = new Map<string, Val>();

  constructor(private readonly opts: FastOptions) {}

  tmp(): string {
    return `t${this.ntmp++}`;
  }

  temps(): string[] {
    return Array.from({ length: this.ntmp }, (_, i) => `t${i}`);
  }

  emit(line: string): void {
    this.lines.push(line);
  }

  body(): string {
    return this.lines.join('\n');
  }

  konst(v: unknown): string {
    this.consts.push(v);
    return `C[${this.consts.length - 1}]`;
  }

  val(js: string, type: CelType, extra: Partial<Val> = {}): Val {
    return { js, type, k: kindOfType(type), trusted: true, taint: false, ...extra };
  }

  /** `typeof x === "t"` for each side, except literals of that type (a literal of another type: never). */
  guard(t: 'string' | 'number' | 'boolean', ...vals: Val[]): string {
    const jsType = (k: Kind) => (k === 'string' ? 'string' : k === 'bool' ? 'boolean' : NUM.has(k) ? 'number' : null);
    if (vals.some((v) => v.lit && jsType(v.k) !== t)) return 'false';
    const parts = vals.filter((v) => !v.lit).map((v) => `typeof ${v.js} === "${t}"`);
    return parts.length ? parts.join(' && ') : 'true';
  }

  /** `x === U || y === U` for each side that may be UNKNOWN. */
  anyUnknown(...vals: Val[]): string {
    const parts = vals.filter((v) => !v.lit).map((v) => `${v.js} === U`);
    return parts.length ? parts.join(' || ') : 'false';
  }

  /** Puts an expression into a fresh temporary. */
  let(js: string): string {
    const t = this.tmp();
    this.emit(`${t} = ${js};`);
    return t;
  }

  typeOf(n: CelNode): CelType {
    if (n.checkedType) return n.checkedType;
    return unsupported(`unchecked node ${n.op}`);
  }

  gen(n: CelNode): Val {
    switch (n.op) {
      case 'value':
        return this.literal(n);
      case 'id':
        return this.ident(n);
      case '.':
        return this.field(n, this.receiver(n.args[0]), n.args[1] as string);
      case '[]':
        return this.index(n);
      case '&&':
      case '||':
        return this.logical(n);
      case '!_':
        return this.not(n);
      case '?:':
        return this.ternary(n);
      case '==':
      case '!=':
        return this.equality(n);
      case '<':
      case '<=':
      case '>':
      case '>=':
        return this.compare(n);
      case 'in':
        return this.membership(n);
      case '+':
      case '-':
      case '*':
      case '/':
      case '%':
        return this.arith(n);
      case '-_':
        return this.negate(n);
      case 'call':
        return this.call(n);
      case 'rcall':
        return this.method(n);
      case 'list':
        return this.list(n);
      case 'map':
        return this.mapLiteral(n);
    }
    return unsupported(`operator ${n.op}`);
  }

  // ---------------------------------------------------------------- leaves

  literal(n: CelNode): Val {
    const v: unknown = n.args;
    const type = this.typeOf(n);
    switch (typeof v) {
      case 'bigint':
        if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) unsupported('an integer literal beyond 2^53');
        return this.val(String(Number(v)), type, { lit: true });
      case 'number':
        return this.val(Object.is(v, -0) ? '(-0)' : `(${String(v)})`, type, { lit: true });
      case 'string':
        return this.val(JSON.stringify(v), type, { lit: true });
      case 'boolean':
        return this.val(String(v), type, { lit: true });
      case 'object':
        if (v === null) return this.val('null', type, { lit: true });
    }
    return unsupported('a bytes or uint literal');
  }

  ident(n: CelNode, asReceiver = false): Val {
    const name = n.args as string;
    const bound = this.scope.get(name);
    if (bound) return bound;
    const type = this.opts.variables.get(name);
    if (!type) return unsupported(`identifier ${name}`);
    const k = kindOfType(type);
    const t = this.let(`a[${JSON.stringify(name)}]`);
    switch (k) {
      case 'map':
        if (!asReceiver) this.emit(`if (!isPlainMap(${t})) ${t} = badMap(${t});`);
        break;
      case 'list':
        this.emit(`if (!isArray(${t})) ${t} = badList(${t});`);
        break;
      case 'dyn':
        this.emit(`if (${t} === undefined) ${t} = U;`);
        break;
      default: {
        const code = TYPE_CODE[k];
        if (code === undefined) return unsupported(`a variable of type ${type.name}`);
        this.emit(`if (!(${conformsJs(t, code)})) ${t} = checkVar(${t}, ${code});`);
      }
    }
    return this.val(t, type, { trusted: false });
  }

  /** Type code that a value read out of container `c` must conform to (dyn when it is trusted). */
  readCode(c: Val, elem: CelType): number {
    const k = kindOfType(elem);
    if (c.trusted || k === 'dyn') return R.T_DYN;
    const code = TYPE_CODE[k];
    return code === undefined ? unsupported(`values of type ${elem.name} in the activation`) : code;
  }

  field(n: CelNode, r: Val, key: string): Val {
    const type = n.checkedType ?? (r.k === 'map' ? (r.type.valueType ?? DYN) : DYN);
    const out = { trusted: r.trusted, taint: r.taint };
    const K = JSON.stringify(key);
    const t = this.tmp();
    if (r.k !== 'map' && r.k !== 'dyn') return unsupported(`field access on ${r.type.name}`);
    const code = r.k === 'map' ? this.readCode(r, r.type.valueType ?? DYN) : R.T_DYN;
    const slow = r.k === 'map' ? `mapGet(${r.js}, ${K}, ${code})` : `dynGet(${r.js}, ${K})`;
    if (safeKey(key)) {
      const x = this.tmp();
      const ok = code === R.T_DYN ? '' : ` && ${conformsJs(x, code)}`;
      this.emit(`${t} = (${x} = ${r.js}?.[${K}]) !== undefined${ok} ? ${x} : ${slow};`);
    } else {
      this.emit(`${t} = ${slow};`);
    }
    return this.val(t, type, out);
  }

  /** A field's receiver: a map variable is not checked when read, the field read checks it. */
  receiver(n: CelNode): Val {
    return n.op === 'id' ? this.ident(n, true) : this.gen(n);
  }

  index(n: CelNode): Val {
    const keyNode = n.args[1] as CelNode;
    const r = keyNode.op === 'value' && typeof keyNode.args === 'string' ? this.receiver(n.args[0]) : this.gen(n.args[0]);
    if (keyNode.op === 'value' && typeof keyNode.args === 'string' && (r.k === 'map' || r.k === 'dyn')) {
      return this.field(n, r, keyNode.args);
    }
    const i = this.gen(keyNode);
    const type = this.typeOf(n);
    const out = { trusted: r.trusted, taint: r.taint };
    if (r.k === 'list') {
      const code = this.readCode(r, r.type.valueType ?? DYN);
      const x = this.tmp();
      return this.val(
        this.let(
          `typeof ${i.js} === "number" && (${x} = ${r.js}[${i.js}]) !== undefined${code === R.T_DYN ? '' : ` && ${conformsJs(x, code)}`} ? ${x} : listAt(${r.js}, ${i.js}, ${code})`,
        ),
        type,
        out,
      );
    }
    if (r.k === 'map') return this.val(this.let(`mapGet(${r.js}, ${i.js}, ${this.readCode(r, r.type.valueType ?? DYN)})`), type, out);
    if (r.k === 'dyn') return this.val(this.let(`dynGet(${r.js}, ${i.js})`), type, out);
    return unsupported(`indexing ${r.type.name}`);
  }

  // ---------------------------------------------------------------- logic

  logical(n: CelNode): Val {
    const and = n.op === '&&';
    const l = this.gen(n.args[0]);
    const t = this.tmp();
    // CEL's commutative absorption: false && X and X && false are false even if X is unknown.
    this.emit(`if (${l.js} === ${!and}) ${t} = ${!and}; else {`);
    const r = this.gen(n.args[1]);
    this.emit(`${t} = ${r.js} === ${!and} ? ${!and} : ${l.js} === ${and} && ${r.js} === ${and} ? ${and} : U;`);
    this.emit('}');
    return this.val(t, this.typeOf(n));
  }

  not(n: CelNode): Val {
    const x = this.gen(n.args);
    return this.val(this.let(`${x.js} === true ? false : ${x.js} === false ? true : U`), this.typeOf(n));
  }

  ternary(n: CelNode): Val {
    const type = this.typeOf(n);
    const c = this.gen(n.args[0]);
    const t = this.tmp();
    this.emit(`if (${c.js} === true) {`);
    const a = this.gen(n.args[1]);
    this.emit(`${t} = ${a.js};`);
    this.emit(`} else if (${c.js} === false) {`);
    const b = this.gen(n.args[2]);
    this.emit(`${t} = ${b.js};`);
    this.emit(`} else ${t} = U;`);
    if (a.k === 'dur' || b.k === 'dur') {
      if (a.k !== 'dur' || b.k !== 'dur') unsupported('a duration in a dynamic position');
    }
    return this.val(t, type, {
      trusted: a.trusted && b.trusted,
      taint: hasDyn(type) && (a.taint || b.taint || hidesIntOrDuration(a.type) || hidesIntOrDuration(b.type)),
    });
  }

  // ---------------------------------------------------------------- comparisons

  equality(n: CelNode): Val {
    const l = this.gen(n.args[0]);
    const r = this.gen(n.args[1]);
    const type = this.typeOf(n);
    const ne = n.op === '!=';
    const prim = (k: Kind) => NUM.has(k) || k === 'string' || k === 'bool' || k === 'null';
    if (l.k === 'dur' || r.k === 'dur') unsupported('duration equality');
    let js: string;
    if (prim(l.k) && prim(r.k)) {
      js = `${this.anyUnknown(l, r)} ? U : ${l.js} ${ne ? '!==' : '==='} ${r.js}`;
    } else if (l.k === 'time' && r.k === 'time') {
      js = `${this.anyUnknown(l, r)} ? U : ${l.js}.getTime() ${ne ? '!==' : '==='} ${r.js}.getTime()`;
    } else {
      const fn = ne ? 'ne' : 'eq';
      const staticSide = prim(l.k) && l.k !== 'null' ? l : prim(r.k) && r.k !== 'null' ? r : null;
      if (staticSide) {
        // The other side has the static side's JS type: then CEL equality is ===.
        const other = staticSide === l ? r : l;
        const t = staticSide.k === 'string' ? 'string' : staticSide.k === 'bool' ? 'boolean' : 'number';
        const known = staticSide.lit ? '' : ` && ${staticSide.js} !== U`;
        js = `${this.guard(t, other)}${known} ? ${l.js} ${ne ? '!==' : '==='} ${r.js} : ${fn}(${l.js}, ${r.js})`;
      } else {
        js = `${fn}(${l.js}, ${r.js})`;
      }
    }
    return this.val(this.let(js), type);
  }

  compare(n: CelNode): Val {
    const op = n.op as '<' | '<=' | '>' | '>=';
    const fn = { '<': 'lt', '<=': 'le', '>': 'gt', '>=': 'ge' }[op];
    const l = this.gen(n.args[0]);
    const r = this.gen(n.args[1]);
    const type = this.typeOf(n);
    const same = (a: Kind, b: Kind) => (NUM.has(a) && NUM.has(b)) || (a === b && (a === 'string' || a === 'bool' || a === 'time' || a === 'dur'));
    if (same(l.k, r.k)) return this.val(this.let(`${this.anyUnknown(l, r)} ? U : ${l.js} ${op} ${r.js}`), type);
    if (l.k === 'dur' || r.k === 'dur') return unsupported('a duration compared with a dynamic value');
    const ok = (k: Kind) => NUM.has(k) || k === 'string' || k === 'bool' || k === 'time' || k === 'dyn';
    if (!ok(l.k) || !ok(r.k)) return unsupported(`comparison of ${l.type.name} and ${r.type.name}`);
    // The fast case: both sides have the JS type of the statically typed side (numbers when both are dyn).
    const js = l.k === 'string' || r.k === 'string' ? 'string' : l.k === 'bool' || r.k === 'bool' ? 'boolean' : 'number';
    return this.val(this.let(`${this.guard(js, l, r)} ? ${l.js} ${op} ${r.js} : ${fn}(${l.js}, ${r.js})`), type);
  }

  membership(n: CelNode): Val {
    const type = this.typeOf(n);
    const l = this.gen(n.args[0]);
    const listNode = n.args[1] as CelNode;
    const consts =
      listNode.op === 'list' &&
      (listNode.args as CelNode[]).every((e) => e.op === 'value' && ['string', 'boolean', 'bigint', 'number'].includes(typeof e.args));
    if (consts) {
      // `x in ["a", "b"]` with literal elements: comparisons against constants, no list built.
      const items = (listNode.args as CelNode[]).map((e) => this.literal(e).js);
      const values = (listNode.args as CelNode[]).map((e) => (typeof e.args === 'bigint' ? Number(e.args) : e.args));
      const any = items.length ? items.map((i) => `${l.js} === ${i}`).join(' || ') : 'false';
      return this.val(
        this.let(
          `typeof ${l.js} === "string" || typeof ${l.js} === "number" || typeof ${l.js} === "boolean" ? (${any}) : inList(${l.js}, ${this.konst(values)})`,
        ),
        type,
      );
    }
    const r = this.gen(listNode);
    if (r.k === 'list') return this.val(this.let(`inList(${l.js}, ${r.js})`), type);
    if (r.k === 'map') return this.val(this.let(`inMap(${l.js}, ${r.js})`), type);
    if (r.k === 'dyn') return this.val(this.let(`inDyn(${l.js}, ${r.js})`), type);
    return unsupported(`"in" on ${r.type.name}`);
  }

  // ---------------------------------------------------------------- arithmetic

  arith(n: CelNode): Val {
    const op = n.op as '+' | '-' | '*' | '/' | '%';
    const l = this.gen(n.args[0]);
    const r = this.gen(n.args[1]);
    const type = this.typeOf(n);
    if (l.taint || r.taint) unsupported('an int may reach arithmetic through a dynamic value');
    const either = this.anyUnknown(l, r);
    const zero = op === '/' || op === '%' ? ` || ${r.js} === 0` : '';
    if (l.k === 'int' && r.k === 'int') {
      const js = {
        '+': `isafe(${l.js} + ${r.js})`,
        '-': `isafe(${l.js} - ${r.js})`,
        '*': `imul(${l.js}, ${r.js})`,
        '/': `Math.trunc(${l.js} / ${r.js}) + 0`,
        '%': `(${l.js} % ${r.js}) + 0`,
      }[op];
      return this.val(this.let(`${either}${zero} ? U : ${js}`), type);
    }
    if (NUM.has(l.k) && NUM.has(r.k)) return this.val(this.let(`${either}${zero} ? U : ${l.js} ${op} ${r.js}`), type);
    if (l.k === 'string' && r.k === 'string' && op === '+') return this.val(this.let(`${either} ? U : ${l.js} + ${r.js}`), type);
    if (l.k === 'time' || r.k === 'time' || l.k === 'dur' || r.k === 'dur') return this.timeArith(op, l, r, type);
    const ok = (k: Kind) => NUM.has(k) || k === 'dyn' || (op === '+' && k === 'string');
    if (!ok(l.k) || !ok(r.k)) return unsupported(`${l.type.name} ${op} ${r.type.name}`);
    const fn = { '+': 'add', '-': 'sub', '*': 'mul', '/': 'div', '%': 'mod' }[op];
    const js = l.k === 'string' || r.k === 'string' ? 'string' : 'number';
    const nz = zero ? ` && ${r.js} !== 0` : '';
    return this.val(this.let(`${this.guard(js, l, r)}${nz} ? ${l.js} ${op} ${r.js} : ${fn}(${l.js}, ${r.js})`), type);
  }

  /** Timestamps are Dates; durations are milliseconds (what cel-js compares them by). */
  timeArith(op: string, l: Val, r: Val, type: CelType): Val {
    if (l.k === 'time' && r.k === 'time' && op === '-') return this.val(this.let(`${l.js} === U || ${r.js} === U ? U : tsDiff(${l.js}, ${r.js})`), type);
    const offset = (d: { seconds: bigint; nanos: number }) => Number(d.seconds) * 1000 + Math.floor(d.nanos / 1_000_000);
    if (l.k === 'time' && r.k === 'dur' && r.dur && (op === '+' || op === '-')) {
      const off = op === '+' ? offset(r.dur) : -(Number(r.dur.seconds) * 1000) - Math.floor(r.dur.nanos / 1_000_000);
      return this.val(this.let(`${l.js} === U ? U : tsAdd(${l.js}, ${off})`), type);
    }
    // duration + timestamp: cel-js types the result as a duration but returns a timestamp; left to it.
    return unsupported(`${l.type.name} ${op} ${r.type.name}`);
  }

  negate(n: CelNode): Val {
    const x = this.gen(n.args);
    const type = this.typeOf(n);
    if (x.taint) unsupported('an int may reach arithmetic through a dynamic value');
    if (x.k === 'int') return this.val(this.let(`${x.js} === U ? U : 0 - ${x.js}`), type);
    if (x.k === 'double') return this.val(this.let(`${x.js} === U ? U : -${x.js}`), type);
    if (x.k === 'dyn') return this.val(this.let(`typeof ${x.js} === "number" ? -${x.js} : neg(${x.js})`), type);
    return unsupported(`-${x.type.name}`);
  }

  // ---------------------------------------------------------------- functions

  call(n: CelNode): Val {
    const name = n.args[0] as string;
    const argNodes = n.args[1] as CelNode[];
    const type = this.typeOf(n);
    if (name === 'has') return this.has(argNodes[0]!, type);
    if (argNodes.length !== 1) return unsupported(`function ${name}/${argNodes.length}`);
    if (name === 'duration') return this.durationLiteral(argNodes[0]!, type);
    const x = this.gen(argNodes[0]!);
    const u = `${x.js} === U ? U : `;
    switch (name) {
      case 'size':
        return this.size(x, type);
      case 'dyn':
        if (x.k === 'dur') unsupported('a duration in a dynamic position');
        return { ...x, type, k: kindOfType(type), taint: x.taint || hidesIntOrDuration(x.type) };
      case 'int':
        if (x.k === 'int') return { ...x, type, k: 'int' };
        if (x.k === 'double' || x.k === 'string' || x.k === 'dyn') return this.val(this.let(`intOf(${x.js})`), type);
        break;
      case 'double':
        if (x.k === 'int' || x.k === 'double') return { ...x, type, k: 'double' };
        if (x.k === 'string' || x.k === 'dyn') return this.val(this.let(`doubleOf(${x.js})`), type);
        break;
      case 'string':
        if (x.k === 'string') return { ...x, type, k: 'string' };
        if (x.k === 'int' || x.k === 'bool') return this.val(this.let(`${u}\`\${${x.js}}\``), type);
        if (x.k === 'double' || x.k === 'dyn') return this.val(this.let(`str(${x.js})`), type);
        break;
      case 'bool':
        if (x.k === 'bool') return { ...x, type, k: 'bool' };
        if (x.k === 'string' || x.k === 'dyn') return this.val(this.let(`boolOf(${x.js})`), type);
        break;
      case 'timestamp':
        if (x.taint) break;
        if (x.k === 'string' || x.k === 'dyn') return this.val(this.let(`tsOfString(${x.js})`), type);
        if (x.k === 'int') return this.val(this.let(`tsOfInt(${x.js})`), type);
        break;
    }
    return unsupported(`function ${name}(${x.type.name})`);
  }

  durationLiteral(arg: CelNode, type: CelType): Val {
    if (arg.op !== 'value' || typeof arg.args !== 'string') return unsupported('duration() of a computed string');
    let d: unknown;
    try {
      d = this.opts.constant(`duration(${JSON.stringify(arg.args)})`);
    } catch {
      return this.val('U', type);
    }
    const dur = d as { seconds: bigint; nanos: number; valueOf(): number };
    // CEL's range: int64 nanoseconds, about ±292 years (the interpreter makes the literal an error).
    const ns = dur.seconds * 1_000_000_000n + BigInt(dur.nanos);
    if (ns > 9223372036854775807n || ns < -9223372036854775808n) return this.val('U', type);
    return this.val(`(${dur.valueOf()})`, type, { dur: { seconds: dur.seconds, nanos: dur.nanos }, lit: true });
  }

  size(x: Val, type: CelType): Val {
    if (x.k === 'string') return this.val(this.let(`${x.js} === U ? U : strSize(${x.js})`), type);
    if (x.k === 'list') return this.val(this.let(`${x.js} === U ? U : ${x.js}.length`), type);
    if (x.k === 'map') return this.val(this.let(`isPlainMap(${x.js}) ? Object.keys(${x.js}).length : size(${x.js})`), type);
    if (x.k === 'dyn') return this.val(this.let(`${x.js} === U ? U : isArray(${x.js}) ? ${x.js}.length : size(${x.js})`), type);
    return unsupported(`size(${x.type.name})`);
  }

  has(arg: CelNode, type: CelType): Val {
    if (arg.op !== '.') return unsupported('has() of a non-field');
    const r = this.hasReceiver(arg.args[0] as CelNode);
    const key = arg.args[1] as string;
    const code = r.k === 'map' ? this.readCode(r, r.type.valueType ?? DYN) : R.T_DYN;
    return this.val(this.let(`has(${r.js}, ${JSON.stringify(key)}, ${code})`), type);
  }

  /** Inside has(), cel-js type-checks only the root: types of the inner selections follow from it. */
  hasReceiver(n: CelNode): Val {
    if (n.op === '.') return this.field(n, this.hasReceiver(n.args[0]), n.args[1] as string);
    if (n.op === 'id') return this.ident(n, true);
    return unsupported('has() of a non-field');
  }

  method(n: CelNode): Val {
    const name = n.args[0] as string;
    const recvNode = n.args[1] as CelNode;
    const argNodes = n.args[2] as CelNode[];
    if (MACROS.has(name) && argNodes[0]?.op === 'id') return this.macro(n, name, recvNode, argNodes);
    const type = this.typeOf(n);
    const r = this.gen(recvNode);
    const args = argNodes.map((a) => this.gen(a));
    if (r.k !== 'string' && r.k !== 'dyn' && !(r.k === 'list' && (name === 'size' || name === 'join')) && !(r.k === 'map' && name === 'size')) {
      return unsupported(`${r.type.name}.${name}()`);
    }
    for (const a of args) if (a.k !== 'string' && a.k !== 'dyn') return unsupported(`${name}() with a ${a.type.name} argument`);
    const [a0] = args;
    const both = (js: string) => (r.k === 'string' && a0!.k === 'string' ? `${r.js} === U || ${a0!.js} === U ? U : ${js}` : null);
    switch (`${name}/${args.length}`) {
      case 'size/0':
        return this.size(r, type);
      case 'contains/1':
        return this.val(this.let(both(`${r.js}.includes(${a0!.js})`) ?? `contains(${r.js}, ${a0!.js})`), type);
      case 'startsWith/1':
        return this.val(this.let(both(`${r.js}.startsWith(${a0!.js})`) ?? `startsWith(${r.js}, ${a0!.js})`), type);
      case 'endsWith/1':
        return this.val(this.let(both(`${r.js}.endsWith(${a0!.js})`) ?? `endsWith(${r.js}, ${a0!.js})`), type);
      case 'indexOf/1':
        return this.val(this.let(`indexOf(${r.js}, ${a0!.js})`), type);
      case 'lastIndexOf/1':
        return this.val(this.let(`lastIndexOf(${r.js}, ${a0!.js})`), type);
      case 'split/1':
        return this.val(this.let(`split(${r.js}, ${a0!.js})`), type);
      case 'lowerAscii/0':
        return this.val(this.let(`lowerAscii(${r.js})`), type);
      case 'upperAscii/0':
        return this.val(this.let(`upperAscii(${r.js})`), type);
      case 'trim/0':
        return this.val(this.let(`trim(${r.js})`), type);
      case 'join/0':
        return this.val(this.let(`join(${r.js}, "")`), type);
      case 'join/1':
        return this.val(this.let(`join(${r.js}, ${a0!.js})`), type);
      case 'matches/1': {
        const p = argNodes[0]!;
        if (p.op === 'value' && typeof p.args === 'string') {
          const re = compileRegex(p.args);
          if (!isRegex(re)) return this.val(this.let(`(${r.js}, U)`), type);
          return this.val(this.let(`matchesRe(${r.js}, ${this.konst(re)})`), type);
        }
        return this.val(this.let(`matches(${r.js}, ${a0!.js})`), type);
      }
    }
    return unsupported(`method ${name}/${args.length}`);
  }

  // ---------------------------------------------------------------- macros

  macro(n: CelNode, name: string, recvNode: CelNode, argNodes: CelNode[]): Val {
    const type = this.typeOf(n);
    const it = this.gen(recvNode);
    if (it.k !== 'list' && it.k !== 'map' && it.k !== 'dyn') return unsupported(`${name}() over ${it.type.name}`);
    const elemType = elementType(it.type);
    const elemKind = kindOfType(elemType);
    const code = it.k === 'map' ? R.T_DYN : this.readCode(it, elemType);
    const varName = argNodes[0]!.args as string;
    const items = this.tmp();
    const i = this.tmp();
    const x = this.tmp();
    const res = this.tmp();
    const err = this.tmp();
    const elem: Val = { js: x, type: elemType, k: elemKind, trusted: it.trusted || it.k === 'map', taint: it.taint };
    const outer = this.scope.get(varName);
    this.scope.set(varName, elem);

    this.emit(`${items} = ${it.k === 'list' ? `isArray(${it.js}) ? ${it.js} : range(${it.js})` : `range(${it.js})`};`);
    this.emit(`if (${items} === null) ${res} = U; else {`);
    const init = { all: 'true', exists: 'false', exists_one: '0', map: '[]', filter: '[]' }[name];
    this.emit(`${res} = ${init}; ${err} = false;`);
    this.emit(`for (${i} = 0; ${i} < ${items}.length; ${i}++) {`);
    this.emit(`${x} = ${items}[${i}];`);
    // cel-js checks each element against the iteration variable's type before the step:
    // a mismatch fails the whole macro, even all() and exists().
    this.emit(
      code === R.T_DYN
        ? `if (${x} === undefined) { ${res} = U; ${err} = false; break; }`
        : `if (!(${conformsJs(x, code)})) { ${res} = U; ${err} = false; break; }`,
    );
    let resultTaint = false;
    let resultTrusted = true;
    switch (name) {
      case 'all':
      case 'exists': {
        const stop = name === 'all' ? 'false' : 'true';
        const go = name === 'all' ? 'true' : 'false';
        const p = this.gen(argNodes[1]!);
        this.emit(`if (${p.js} === ${stop}) { ${res} = ${stop}; break; }`);
        this.emit(`if (${p.js} !== ${go}) ${err} = true;`);
        this.emit('}');
        this.emit(`if (${err} && ${res} === ${go}) ${res} = U;`);
        break;
      }
      case 'exists_one': {
        const p = this.gen(argNodes[1]!);
        this.emit(`if (${p.js} === true) ${res}++; else if (${p.js} !== false) { ${res} = U; break; }`);
        this.emit('}');
        this.emit(`if (${res} !== U) ${res} = ${res} === 1;`);
        break;
      }
      case 'filter': {
        const p = this.gen(argNodes[1]!);
        this.emit(`if (${p.js} === true) ${res}.push(${x}); else if (${p.js} !== false) { ${res} = U; break; }`);
        this.emit('}');
        resultTaint = it.taint;
        resultTrusted = elem.trusted;
        break;
      }
      case 'map': {
        const transform = argNodes.length === 3 ? argNodes[2]! : argNodes[1]!;
        if (argNodes.length === 3) {
          const p = this.gen(argNodes[1]!);
          this.emit(`if (${p.js} === false) continue; if (${p.js} !== true) { ${res} = U; break; }`);
        }
        const v = this.gen(transform);
        if (v.k === 'dur') unsupported('a list of durations');
        this.emit(`if (${v.js} === U) { ${res} = U; break; }`);
        this.emit(`${res}.push(${v.js});`);
        this.emit('}');
        resultTaint = hasDyn(type) && (v.taint || hidesIntOrDuration(v.type));
        resultTrusted = v.trusted;
        break;
      }
    }
    this.emit('}');
    if (outer) this.scope.set(varName, outer);
    else this.scope.delete(varName);
    return this.val(res, type, { taint: resultTaint, trusted: resultTrusted });
  }

  // ---------------------------------------------------------------- literals of lists and maps

  list(n: CelNode): Val {
    const type = this.typeOf(n);
    const elems = (n.args as CelNode[]).map((e) => this.gen(e));
    if (elems.some((e) => e.k === 'dur')) unsupported('a list of durations');
    const anyU = elems.length ? `${elems.map((e) => `${e.js} === U`).join(' || ')} ? U : ` : '';
    return this.val(this.let(`${anyU}[${elems.map((e) => e.js).join(', ')}]`), type, {
      taint: hasDyn(type) && elems.some((e) => e.taint || hidesIntOrDuration(e.type)),
      trusted: elems.every((e) => e.trusted),
    });
  }

  mapLiteral(n: CelNode): Val {
    const type = this.typeOf(n);
    const entries = n.args as [CelNode, CelNode][];
    const seen = new Set<string>();
    const parts: string[] = [];
    const vals: Val[] = [];
    for (const [k, v] of entries) {
      if (k.op !== 'value' || typeof k.args !== 'string' || BANNED_MAP_KEYS.has(k.args) || seen.has(k.args))
        unsupported('a map literal with computed, repeated or reserved keys');
      seen.add(k.args);
      const val = this.gen(v);
      if (val.k === 'dur') unsupported('a map of durations');
      vals.push(val);
      parts.push(`${JSON.stringify(k.args)}: ${val.js}`);
    }
    const anyU = vals.length ? `${vals.map((e) => `${e.js} === U`).join(' || ')} ? U : ` : '';
    return this.val(this.let(`${anyU}{${parts.join(', ')}}`), type, {
      taint: hasDyn(type) && vals.some((e) => e.taint || hidesIntOrDuration(e.type)),
      trusted: vals.every((e) => e.trusted),
    });
  }
}

const HELPERS = [
  'isArray',
  'isPlainMap',
  'isDate',
  'badMap',
  'badList',
  'checkVar',
  'mapGet',
  'dynGet',
  'listAt',
  'has',
  'eq',
  'ne',
  'lt',
  'le',
  'gt',
  'ge',
  'add',
  'sub',
  'mul',
  'div',
  'mod',
  'neg',
  'isafe',
  'imul',
  'inList',
  'inMap',
  'inDyn',
  'strSize',
  'size',
  'str',
  'intOf',
  'doubleOf',
  'boolOf',
  'tsOfString',
  'tsOfInt',
  'tsDiff',
  'tsAdd',
  'contains',
  'startsWith',
  'endsWith',
  'indexOf',
  'lastIndexOf',
  'split',
  'matches',
  'matchesRe',
  'lowerAscii',
  'upperAscii',
  'trim',
  'join',
  'range',
] as const;

export interface FastCompiled {
  fn: FastFn;
  /** The generated JavaScript, for debugging and tests. */
  code: string;
}

/** Compiles a checked AST; throws Unsupported when some part is left to the interpreter. */
export function compileFast(ast: CelNode, opts: FastOptions): FastCompiled {
  const g = new Gen(opts);
  const result = g.gen(ast);
  // Durations leave CEL as seconds (a JS number), in both paths.
  const ret = result.k === 'dur' ? `${result.js} === U ? U : ${result.js} / 1000` : result.js;
  const temps = g.temps();
  const code = `${temps.length ? `let ${temps.join(', ')};\n` : ''}${g.body()}\nreturn ${ret};`;
  const helpers: Record<string, unknown> = { ...R, isArray: Array.isArray };
  const factory = new Function('H', 'U', 'C', `"use strict";\nconst { ${HELPERS.join(', ')} } = H;\nreturn function celFast(a) {\n${code}\n};`) as (
    h: Record<string, unknown>,
    u: symbol,
    c: unknown[],
  ) => FastFn;
  return { fn: factory(helpers, UNKNOWN, g.consts), code };
}
