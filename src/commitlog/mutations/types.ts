/**
 * CQL types as the mutation reader needs them: how a value of the type is written inside a cell or a
 * clustering (AbstractType.writeValue: a type with `valueLengthIfFixed() >= 0` is written bare, every
 * other type as an unsigned vint length then the bytes), and whether a column of the type holds many
 * cells (non-frozen collections and UDTs, each cell with a CellPath).
 *
 * Fixed lengths read in cassandra-all-5.0.9.jar (`javap -c -p org.apache.cassandra.db.marshal.<T>`,
 * method valueLengthIfFixed): Int32Type 4, LongType 8, TimestampType 8, DateType 8, BooleanType 1,
 * DoubleType 8, FloatType 4, UUIDType 16, LexicalUUIDType 16, AbstractTimeUUIDType (timeuuid) 16,
 * EmptyType 0, ReversedType = its base type, VectorType = element length x dimension when the element
 * is fixed, else variable. Everything else inherits AbstractType's -1 (variable): ShortType
 * (smallint), ByteType (tinyint), SimpleDateType (date), TimeType (time), CounterColumnType, DurationType,
 * DecimalType, IntegerType (varint), InetAddressType, text/ascii/blob, and collections, tuples and UDTs
 * (frozen or not). A multi-cell column's cell values are written with the column's type
 * (SerializationHeader.getType), a collection or UDT type, hence always vint-length-prefixed.
 */

/** How values of one CQL type are serialized. */
export interface ValueType {
  /** The type as written in the schema, normalised (lowercase keywords, single spaces). */
  readonly cql: string;
  /** Bytes of a value written without a length prefix, or -1 when the value is vint-length-prefixed. */
  readonly fixedLength: number;
  /** A non-frozen collection or UDT: one cell per element, each with a cell path. */
  readonly multiCell: boolean;
}

const FIXED: Readonly<Record<string, number>> = {
  int: 4,
  bigint: 8,
  timestamp: 8,
  boolean: 1,
  double: 8,
  float: 4,
  uuid: 16,
  timeuuid: 16,
};

const VARIABLE = new Set([
  "smallint",
  "tinyint",
  "date",
  "time",
  "counter",
  "duration",
  "decimal",
  "varint",
  "inet",
  "text",
  "varchar",
  "ascii",
  "blob",
]);

const COLLECTIONS = new Set(["list", "set", "map"]);

/** A type text that is not a CQL type this reader knows; `at` is the character offset in the text. */
export class CqlTypeSyntaxError extends Error {
  override name = "CqlTypeSyntaxError";
  constructor(
    message: string,
    readonly at: number,
  ) {
    super(message);
  }
}

interface TypeNode {
  readonly name: string;
  readonly args: readonly (TypeNode | number)[];
}

/**
 * Parses a CQL type such as `frozen<map<int, text>>`, `vector<float, 3>` or a UDT name. `userTypes`
 * holds the UDT names the schema defines (bare and keyspace-qualified, lowercase unless quoted).
 */
export function parseCqlType(text: string, userTypes: ReadonlySet<string>): ValueType {
  const p = new TypeParser(text);
  const node = p.parse();
  const cql = render(node);
  const multiCell = isMultiCell(node, userTypes);
  return { cql, fixedLength: multiCell ? -1 : fixedLengthOf(node, userTypes, p), multiCell };
}

function isMultiCell(node: TypeNode, userTypes: ReadonlySet<string>): boolean {
  return COLLECTIONS.has(node.name) || userTypes.has(node.name);
}

function fixedLengthOf(node: TypeNode, userTypes: ReadonlySet<string>, p: TypeParser): number {
  const fixed = FIXED[node.name];
  if (fixed !== undefined) return fixed;
  if (node.name === "vector") {
    const [element, dimension] = node.args;
    if (typeof element !== "object" || typeof dimension !== "number" || dimension <= 0) {
      throw new CqlTypeSyntaxError("vector needs an element type and a positive dimension", p.length);
    }
    const elementLength = fixedLengthOf(element, userTypes, p);
    return elementLength >= 0 ? elementLength * dimension : -1;
  }
  if (node.name === "frozen" || node.name === "tuple" || COLLECTIONS.has(node.name)) {
    for (const arg of node.args) if (typeof arg === "object") fixedLengthOf(arg, userTypes, p);
    return -1;
  }
  if (VARIABLE.has(node.name) || userTypes.has(node.name) || node.name.startsWith("'")) return -1;
  throw new CqlTypeSyntaxError(`unknown type "${node.name}"`, p.length);
}

function render(node: TypeNode): string {
  if (node.args.length === 0) return node.name;
  return `${node.name}<${node.args.map((a) => (typeof a === "number" ? String(a) : render(a))).join(", ")}>`;
}

class TypeParser {
  private at = 0;
  constructor(private readonly text: string) {}

  get length(): number {
    return this.text.length;
  }

  parse(): TypeNode {
    const node = this.type();
    this.space();
    if (this.at !== this.text.length)
      throw new CqlTypeSyntaxError(`unexpected "${this.text.slice(this.at)}" after the type`, this.at);
    return node;
  }

  private type(): TypeNode {
    this.space();
    const name = this.name();
    this.space();
    if (this.text[this.at] !== "<") return { name, args: [] };
    this.at++;
    const args: (TypeNode | number)[] = [];
    for (;;) {
      this.space();
      const digits = /^\d+/.exec(this.text.slice(this.at));
      if (digits) {
        args.push(Number(digits[0]));
        this.at += digits[0].length;
      } else {
        args.push(this.type());
      }
      this.space();
      const c = this.text[this.at++];
      if (c === ">") break;
      if (c !== ",") throw new CqlTypeSyntaxError(`expected "," or ">" in type arguments`, this.at - 1);
    }
    return { name, args };
  }

  /** An identifier (lowercased), a "quoted" identifier (kept), a ks.name pair, or a 'custom' class. */
  private name(): string {
    const rest = this.text.slice(this.at);
    const m =
      /^(?:"(?:[^"]|"")+"|'(?:[^']|'')*'|[A-Za-z_][A-Za-z0-9_]*)(?:\.(?:"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_]*))?/.exec(
        rest,
      );
    if (!m) throw new CqlTypeSyntaxError(`expected a type name at "${rest.slice(0, 20)}"`, this.at);
    this.at += m[0].length;
    return normaliseIdentifier(m[0]);
  }

  private space(): void {
    while (this.at < this.text.length && /\s/.test(this.text[this.at]!)) this.at++;
  }
}

/** CQL identifiers: unquoted ones are case-insensitive (lowercased), quoted ones keep their case. */
export function normaliseIdentifier(text: string): string {
  if (text.startsWith("'")) return text;
  return text
    .split(/\.(?=(?:[^"]*"[^"]*")*[^"]*$)/)
    .map((part) => (part.startsWith('"') ? part.slice(1, -1).replace(/""/g, '"') : part.toLowerCase()))
    .join(".");
}
