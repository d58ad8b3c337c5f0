/**
 * Reads the tables of a snapshot's schema.cql, as Cassandra 4.1/5.0 write it next to every snapshotted
 * table (SchemaCQLHelper via TableCQLHelper): `CREATE TYPE IF NOT EXISTS` for each UDT the table uses,
 * `CREATE TABLE IF NOT EXISTS ks.t (...) WITH ID = <uuid> AND ...`, then, for each dropped column,
 * `ALTER TABLE ks.t DROP c USING TIMESTAMP <µs>` (the column is listed in the CREATE TABLE with its
 * type, so old mutations that still carry it can be read) and `ALTER TABLE ks.t ADD c <type>` when a
 * column of that name was added again. Index statements are accepted and ignored. Evidence:
 * fixtures/mutations/5.0.9/<kind>/schema/*.cql. Several files may be concatenated.
 */
import { PitrError } from "../../errors/base.js";
import { CqlTypeSyntaxError, normaliseIdentifier, parseCqlType, type ValueType } from "./types.js";

export type ColumnKind = "partition_key" | "clustering" | "regular" | "static";

export interface ColumnSchema {
  readonly name: string;
  readonly kind: ColumnKind;
  readonly type: ValueType;
  /** The drop timestamp (µs) of a dropped column; such a column is read only from old mutations. */
  readonly droppedAt?: bigint;
}

export interface TableSchema {
  readonly keyspace: string;
  readonly table: string;
  /** Dashed lowercase UUID, as in `WITH ID =`. */
  readonly id: string;
  /** Clustering columns in clustering order, then the others. */
  readonly columns: readonly ColumnSchema[];
}

/** schema.cql that this reader cannot parse: which file, which line, what. */
export class SchemaCqlError extends PitrError {
  override name = "SchemaCqlError";
  constructor(
    readonly source: string,
    readonly line: number,
    what: string,
  ) {
    super("E_SCHEMA_CQL", `schema "${source}" line ${line}: ${what}`, {
      hint: "give the schema.cql files of the snapshot exactly as Cassandra wrote them",
    });
  }
}

interface Token {
  readonly text: string;
  readonly line: number;
  /** Character offset in the source. */
  readonly at: number;
}

const TOKEN =
  /\s+|--[^\n]*|\/\/[^\n]*|\/\*[\s\S]*?\*\/|"(?:[^"]|"")*"|'(?:[^']|'')*'|[A-Za-z0-9_.+-]+|[(){}<>,;=:[\]]/y;

function tokenize(text: string, source: string): Token[] {
  const tokens: Token[] = [];
  let line = 1;
  TOKEN.lastIndex = 0;
  while (TOKEN.lastIndex < text.length) {
    const at = TOKEN.lastIndex;
    const m = TOKEN.exec(text);
    if (!m) throw new SchemaCqlError(source, line, `unexpected character "${text[at]}"`);
    const t = m[0];
    if (!/^\s|^--|^\/\/|^\/\*/.test(t)) tokens.push({ text: t, line, at });
    line += t.split("\n").length - 1;
  }
  return tokens;
}

/** The statements of the text, each a list of tokens without its `;`. */
function statements(tokens: readonly Token[]): Token[][] {
  const out: Token[][] = [];
  let current: Token[] = [];
  for (const t of tokens) {
    if (t.text === ";") {
      if (current.length > 0) out.push(current);
      current = [];
    } else current.push(t);
  }
  if (current.length > 0) out.push(current);
  return out;
}

interface MutableTable {
  keyspace: string;
  table: string;
  id: string | undefined;
  columns: { name: string; kind: ColumnKind; type: ValueType; droppedAt?: bigint }[];
  clusteringOrder: string[];
}

/** Every table defined in `text`; `source` names the file in errors. */
export function parseSchemaCql(text: string, source: string): TableSchema[] {
  const ctx = new SchemaReader(text, source);
  for (const st of statements(tokenize(text, source))) ctx.statement(st);
  return ctx.tables();
}

class SchemaReader {
  private readonly userTypes = new Set<string>();
  private readonly byName = new Map<string, MutableTable>();

  constructor(
    private readonly text: string,
    private readonly source: string,
  ) {}

  statement(st: Token[]): void {
    const words = st.slice(0, 4).map((t) => t.text.toUpperCase());
    if (words[0] === "CREATE" && words[1] === "TYPE") this.createType(new Cursor(st, this));
    else if (words[0] === "CREATE" && words[1] === "TABLE") this.createTable(new Cursor(st, this));
    else if (words[0] === "ALTER" && words[1] === "TABLE") this.alterTable(new Cursor(st, this));
    else if (
      words[0] === "CREATE" &&
      (words[1] === "INDEX" || (words[1] === "CUSTOM" && words[2] === "INDEX"))
    )
      return;
    else
      throw this.error(
        st[0]!,
        `unsupported statement "${st
          .slice(0, 3)
          .map((t) => t.text)
          .join(" ")}"`,
      );
  }

  tables(): TableSchema[] {
    return [...this.byName.values()].map((t) => {
      if (t.id === undefined)
        throw new SchemaCqlError(this.source, 1, `table ${t.keyspace}.${t.table} has no "WITH ID ="`);
      const rank = (c: { name: string; kind: ColumnKind }) =>
        c.kind === "clustering" ? t.clusteringOrder.indexOf(c.name) : 1000;
      const columns = [...t.columns].sort((a, b) => rank(a) - rank(b));
      return { keyspace: t.keyspace, table: t.table, id: t.id, columns };
    });
  }

  error(at: Token | undefined, what: string): SchemaCqlError {
    return new SchemaCqlError(this.source, at?.line ?? this.lastLine(), what);
  }

  private lastLine(): number {
    return this.text.split("\n").length;
  }

  private createType(c: Cursor): void {
    c.expect("CREATE", "TYPE");
    c.optional("IF", "NOT", "EXISTS");
    const name = c.qualifiedName();
    c.expect("(");
    c.skipBalanced(")");
    this.userTypes.add(name.name);
    this.userTypes.add(`${name.keyspace}.${name.name}`);
  }

  private createTable(c: Cursor): void {
    c.expect("CREATE", "TABLE");
    c.optional("IF", "NOT", "EXISTS");
    const { keyspace, name } = c.qualifiedName();
    const table: MutableTable = { keyspace, table: name, id: undefined, columns: [], clusteringOrder: [] };
    c.expect("(");
    for (;;) {
      if (c.peekWord("PRIMARY")) this.primaryKey(c, table);
      else this.columnDefinition(c, table);
      if (c.take(")")) break;
      c.expect(",");
    }
    if (c.take("WITH")) this.tableOptions(c, table);
    if (!c.done()) throw this.error(c.peek(), `unexpected "${c.peek()!.text}" after the table definition`);
    this.byName.set(`${keyspace}.${name}`, table);
  }

  private columnDefinition(c: Cursor, table: MutableTable): void {
    const nameToken = c.next();
    const name = normaliseIdentifier(nameToken.text);
    const type = this.type(c);
    let kind: ColumnKind = "regular";
    if (c.takeWord("STATIC")) kind = "static";
    if (c.takeWord("PRIMARY")) {
      c.expect("KEY");
      kind = "partition_key";
    }
    table.columns.push({ name, kind, type });
  }

  private primaryKey(c: Cursor, table: MutableTable): void {
    c.expect("PRIMARY", "KEY", "(");
    const partition: string[] = [];
    if (c.take("(")) {
      do partition.push(normaliseIdentifier(c.next().text));
      while (c.take(","));
      c.expect(")");
    } else partition.push(normaliseIdentifier(c.next().text));
    while (c.take(",")) table.clusteringOrder.push(normaliseIdentifier(c.next().text));
    c.expect(")");
    for (const col of table.columns) {
      if (partition.includes(col.name)) col.kind = "partition_key";
      else if (table.clusteringOrder.includes(col.name)) col.kind = "clustering";
    }
  }

  private tableOptions(c: Cursor, table: MutableTable): void {
    do {
      if (c.takeWord("ID")) {
        c.expect("=");
        const id = c.next();
        if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id.text))
          throw this.error(id, `table id "${id.text}" is not a UUID`);
        table.id = id.text.toLowerCase();
      } else if (c.takeWord("CLUSTERING")) {
        c.expect("ORDER", "BY", "(");
        c.skipBalanced(")"); // order does not change how values are written (ReversedType keeps the base's length)
      } else if (c.takeWord("COMPACT")) {
        throw this.error(c.peek(), "COMPACT STORAGE tables are not supported");
      } else {
        c.next();
        c.expect("=");
        c.skipValue();
      }
    } while (c.takeWord("AND"));
  }

  private alterTable(c: Cursor): void {
    c.expect("ALTER", "TABLE");
    const first = c.peek();
    const { keyspace, name } = c.qualifiedName();
    const table = this.byName.get(`${keyspace}.${name}`);
    if (!table) throw this.error(first, `ALTER TABLE of ${keyspace}.${name} before its CREATE TABLE`);
    if (c.takeWord("DROP")) {
      const colToken = c.next();
      const col = table.columns.find(
        (x) => x.name === normaliseIdentifier(colToken.text) && x.droppedAt === undefined,
      );
      if (!col) throw this.error(colToken, `DROP of unknown column "${colToken.text}"`);
      c.expect("USING", "TIMESTAMP");
      const ts = c.next();
      if (!/^-?\d+$/.test(ts.text)) throw this.error(ts, `drop timestamp "${ts.text}" is not a number`);
      col.droppedAt = BigInt(ts.text);
    } else if (c.takeWord("ADD")) {
      const name = normaliseIdentifier(c.next().text);
      const type = this.type(c);
      table.columns.push({ name, kind: c.takeWord("STATIC") ? "static" : "regular", type });
    } else throw this.error(c.peek(), `unsupported ALTER TABLE "${c.peek()?.text ?? ""}"`);
    if (!c.done()) throw this.error(c.peek(), `unexpected "${c.peek()!.text}"`);
  }

  /** A type: the source text up to the next `,` `)` or keyword at nesting depth 0. */
  private type(c: Cursor): ValueType {
    const start = c.peek();
    if (!start) throw this.error(undefined, "missing column type");
    const end = c.typeEnd();
    try {
      return parseCqlType(this.text.slice(start.at, end), this.userTypes);
    } catch (err) {
      if (err instanceof CqlTypeSyntaxError) throw this.error(start, err.message);
      throw err;
    }
  }
}

class Cursor {
  private i = 0;
  constructor(
    private readonly tokens: readonly Token[],
    private readonly reader: SchemaReader,
  ) {}

  done(): boolean {
    return this.i >= this.tokens.length;
  }
  peek(): Token | undefined {
    return this.tokens[this.i];
  }
  next(): Token {
    const t = this.tokens[this.i];
    if (!t) throw this.reader.error(this.tokens[this.tokens.length - 1], "statement ends too early");
    this.i++;
    return t;
  }
  peekWord(word: string): boolean {
    return this.peek()?.text.toUpperCase() === word;
  }
  take(text: string): boolean {
    if (this.peek()?.text !== text) return false;
    this.i++;
    return true;
  }
  takeWord(word: string): boolean {
    if (!this.peekWord(word)) return false;
    this.i++;
    return true;
  }
  expect(...words: string[]): void {
    for (const w of words) {
      const t = this.peek();
      if (t?.text.toUpperCase() !== w)
        throw this.reader.error(
          t ?? this.tokens[this.tokens.length - 1],
          `expected "${w}" but found "${t?.text ?? "end of statement"}"`,
        );
      this.i++;
    }
  }
  optional(...words: string[]): void {
    if (this.peekWord(words[0]!)) this.expect(...words);
  }
  qualifiedName(): { keyspace: string; name: string } {
    const t = this.next();
    let text = t.text;
    // "Ks"."Tbl" arrives as three tokens.
    while (this.peek()?.text.startsWith(".") || (text.endsWith(".") && this.peek()?.text.startsWith('"')))
      text += this.next().text;
    const full = normaliseIdentifier(text);
    const dot = full.indexOf(".");
    if (dot < 0) throw this.reader.error(t, `"${t.text}" is not keyspace-qualified`);
    return { keyspace: full.slice(0, dot), name: full.slice(dot + 1) };
  }
  /** Skips to just after the `close` that ends the group opened before the cursor. */
  skipBalanced(close: string): void {
    const open = close === ")" ? "(" : close === "}" ? "{" : "[";
    let depth = 1;
    while (depth > 0) {
      const t = this.next().text;
      if (t === open) depth++;
      else if (t === close) depth--;
    }
  }
  /** Skips one option value: a literal, or a {...} / [...] group. */
  skipValue(): void {
    const t = this.next().text;
    if (t === "{") this.skipBalanced("}");
    else if (t === "[") this.skipBalanced("]");
  }
  /** Advances past a type and returns the source offset where it ends. */
  typeEnd(): number {
    let depth = 0;
    let last = this.peek()!;
    for (;;) {
      const t = this.peek();
      if (!t) break;
      if (depth === 0 && (t.text === "," || t.text === ")" || /^(STATIC|PRIMARY)$/i.test(t.text))) break;
      if (t.text === "<") depth++;
      if (t.text === ">") depth--;
      last = t;
      this.i++;
    }
    return last.at + last.text.length;
  }
}
