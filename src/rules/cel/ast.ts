// The parts of cel-js's parsed and type-checked AST that the compiler and the reference walker read.

/** A type as cel-js's checker records it on each node (`checkedType`). */
export interface CelType {
  readonly name: string;
  readonly kind: string;
  readonly type?: string;
  readonly valueType?: CelType;
  readonly keyType?: CelType;
  readonly hasDynType?: boolean;
}

/** A node of cel-js's AST (its runtime shape, wider than the published typings). */
export interface CelNode {
  readonly op: string;
  // The payload depends on `op`: a literal, a name, child nodes, or [name, receiver, args].
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly args: any;
  /** Offset of the node's text; for `a.b` the offset of `b`. */
  readonly pos: number;
  readonly start: number;
  readonly end: number;
  readonly checkedType?: CelType;
  handle?: (...args: unknown[]) => unknown;
}

export const DYN: CelType = { name: 'dyn', kind: 'dyn' };

/** The simplified static kinds the compiler works with. */
export type Kind = 'int' | 'double' | 'string' | 'bool' | 'null' | 'list' | 'map' | 'dyn' | 'time' | 'dur' | 'other';

export function kindOfType(t: CelType | undefined): Kind {
  if (!t) return 'dyn';
  switch (t.kind) {
    case 'dyn':
    case 'param':
      return 'dyn';
    case 'list':
      return 'list';
    case 'map':
      return 'map';
    case 'message':
      if (t.name === 'google.protobuf.Timestamp') return 'time';
      if (t.name === 'google.protobuf.Duration') return 'dur';
      return 'other';
  }
  switch (t.name) {
    case 'int':
    case 'double':
    case 'string':
    case 'bool':
    case 'null':
      return t.name;
  }
  return 'other';
}

/** The element type of a list (or the key type of a map) a macro iterates. */
export function elementType(t: CelType | undefined): CelType {
  if (!t) return DYN;
  if (t.kind === 'list') return t.valueType ?? DYN;
  if (t.kind === 'map') return t.keyType ?? DYN;
  return DYN;
}

/** Does a value of this type hide a CEL int or duration where the static type says dyn? */
export function hidesIntOrDuration(t: CelType | undefined): boolean {
  return !!t && /\b(u?int|google\.protobuf\.Duration)\b/.test(t.name);
}

export function hasDyn(t: CelType | undefined): boolean {
  return !t || t.kind === 'dyn' || t.kind === 'param' || /\bdyn\b|<[A-Z]>|[<, ][A-Z][,>]/.test(t.name);
}

export const MACROS = new Set(['all', 'exists', 'exists_one', 'map', 'filter']);

/** Child nodes in source order (macro iteration variables excluded). */
export function children(n: CelNode): CelNode[] {
  const a = n.args;
  switch (n.op) {
    case 'value':
    case 'id':
      return [];
    case '.':
    case '.?':
      return [a[0]];
    case '!_':
    case '-_':
      return [a];
    case 'call':
      return n.args[0] === 'has' ? [a[1][0]] : [...a[1]];
    case 'rcall':
      return MACROS.has(a[0]) && a[2][0]?.op === 'id' ? [a[1], ...a[2].slice(1)] : [a[1], ...a[2]];
    case 'list':
      return [...a];
    case 'map':
      return (a as CelNode[][]).flat();
    default:
      return Array.isArray(a) ? [...a] : [];
  }
}
