import { constants } from "node:fs";
import { open } from "node:fs/promises";
import { ConfigError } from "../errors/base.js";
import { formatDuration, parseDuration } from "./duration.js";
import {
  DEFAULT_CONFIG_PATH,
  MAX_DURATION_MS,
  SETTINGS,
  envName,
  type Config,
  type SettingSpec,
} from "./schema.js";

export interface LoadOptions {
  /** --config; otherwise CASSANDRA_PITR_CONFIG; otherwise /etc/cassandra-pitr/config.yaml if it exists. */
  configPath?: string | undefined;
  env?: NodeJS.ProcessEnv;
  /** A named file that does not exist reads as empty (for `init`, which writes it). */
  missingFileOk?: boolean;
  /** Values given as flags, by setting key, as the user typed them. */
  flags?: Partial<Record<keyof Config, string | number | boolean>>;
}

export interface LoadedConfig {
  readonly config: Config;
  /** The file read, if any. */
  readonly file: string | undefined;
}

/**
 * Reads the configuration. The archive hook calls this once per segment, so the common case (a
 * flat `key: value` file, as `cassandra-pitr init` writes) is parsed here without loading a YAML
 * library; anything richer falls back to the `yaml` package.
 */
export async function loadConfig(options: LoadOptions = {}): Promise<LoadedConfig> {
  const env = options.env ?? process.env;
  const explicit = options.configPath ?? env["CASSANDRA_PITR_CONFIG"];
  const path = explicit ?? DEFAULT_CONFIG_PATH;
  let fileValues: Record<string, unknown> = {};
  let file: string | undefined;
  let text: string | undefined;
  try {
    text = await readConfigFile(path);
    file = path;
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== "ENOENT" || (explicit !== undefined && options.missingFileOk !== true)) {
      throw new ConfigError(`cannot read config file '${path}': ${code ?? String(err)}`, {
        hint: "check --config / CASSANDRA_PITR_CONFIG",
      });
    }
  }
  if (text !== undefined) fileValues = await parseConfigText(text, path);

  const values: Partial<Record<keyof Config, unknown>> = {};
  for (const spec of SETTINGS) {
    const raw = options.flags?.[spec.key] ?? env[envName(spec.key)] ?? fileValues[spec.key] ?? spec.default;
    const source =
      options.flags?.[spec.key] !== undefined
        ? `--${spec.key}`
        : env[envName(spec.key)] !== undefined
          ? envName(spec.key)
          : `${path}: ${spec.key}`;
    if (spec.key === "archive" && typeof raw === "string" && raw.trim() === "") {
      // Without this the default would not apply either, and every hook would fail obscurely.
      throw new ConfigError(`${source}: the archive location is empty`, {
        hint: "set it to a URL such as file:///var/lib/cassandra-pitr/archive or s3://bucket/prefix, or leave it out for the default",
      });
    }
    values[spec.key] = raw === undefined || raw === "" ? undefined : coerce(spec, raw, source);
  }
  for (const key of Object.keys(fileValues)) {
    if (!SETTINGS.some((s) => s.key === key)) {
      throw new ConfigError(`config file '${path}': unknown setting '${key}'`, {
        hint: `known settings: ${SETTINGS.map((s) => s.key).join(", ")}`,
      });
    }
  }
  return { config: values as Config, file };
}

/**
 * Reads the config file without ever blocking: the hooks read it too, and a FIFO opened for reading
 * would wait for a writer forever while Cassandra waits for the hook.
 */
async function readConfigFile(path: string): Promise<string> {
  const handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    if (!(await handle.stat()).isFile()) {
      throw new ConfigError(`config file '${path}' is not a regular file`, {
        hint: "check --config / CASSANDRA_PITR_CONFIG",
      });
    }
    return await handle.readFile("utf8");
  } finally {
    await handle.close();
  }
}

function coerce(spec: SettingSpec, raw: unknown, source: string): unknown {
  const text = String(raw).trim();
  switch (spec.type) {
    case "string":
      return text;
    case "duration":
      return boundDuration(
        spec,
        typeof raw === "number" ? raw * 1000 : parseDuration(text, source),
        text,
        source,
      );
    case "integer": {
      if (!/^-?\d+$/.test(text)) throw new ConfigError(`${source}: '${text}' is not an integer`);
      const value = Number(text);
      if ((spec.min !== undefined && value < spec.min) || (spec.max !== undefined && value > spec.max)) {
        throw new ConfigError(`${source}: ${value} is outside ${spec.min ?? "-∞"}..${spec.max ?? "∞"}`);
      }
      return value;
    }
    case "boolean": {
      if (/^(true|yes|on|1)$/i.test(text)) return true;
      if (/^(false|no|off|0)$/i.test(text)) return false;
      throw new ConfigError(`${source}: '${text}' is not true or false`);
    }
    case "enum": {
      if (!spec.values?.includes(text))
        throw new ConfigError(`${source}: '${text}' must be one of ${spec.values?.join(", ")}`);
      return text;
    }
  }
}

/** A duration beyond what its setting can hold (a timer, or 100 years) is refused, not wrapped; one below its minimum too. */
function boundDuration(spec: SettingSpec, ms: number, text: string, source: string): number {
  const max = spec.max ?? MAX_DURATION_MS;
  if (!Number.isFinite(ms) || ms > max) {
    throw new ConfigError(
      `${source}: '${text}' is longer than the ${formatDuration(max)} this setting can hold`,
      {
        hint: `use at most ${formatDuration(max)}`,
      },
    );
  }
  if (spec.min !== undefined && ms < spec.min) {
    throw new ConfigError(
      `${source}: '${text}' is shorter than the ${formatDuration(spec.min)} this setting needs`,
      {
        hint: `use at least ${formatDuration(spec.min)}`,
      },
    );
  }
  return ms;
}

const FLAT_LINE = /^([A-Za-z][A-Za-z0-9]*):(?:\s+(.*?))?\s*$/;

/** Parses the config file: the flat fast path, else full YAML. Errors name the file and line. */
export async function parseConfigText(text: string, path: string): Promise<Record<string, unknown>> {
  const flat: Record<string, unknown> = {};
  let simple = true;
  for (const line of text.split(/\r?\n/)) {
    const trimmed = line.trim();
    if (trimmed === "" || trimmed.startsWith("#")) continue;
    const match = FLAT_LINE.exec(line);
    const value = match?.[2] ?? "";
    if (!match || /^[[{&*!|>]/.test(value) || /\s#/.test(value)) {
      simple = false;
      break;
    }
    flat[match[1]!] = unquote(value);
  }
  if (simple) return flat;
  const { parse } = await import("yaml");
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    const first = (err as Error).message.split("\n")[0];
    throw new ConfigError(`config file '${path}' does not parse: ${first}`, {
      hint: "it must be a YAML mapping of settings",
    });
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== "object" || Array.isArray(doc)) {
    throw new ConfigError(`config file '${path}' is not a mapping of settings`, {
      hint: "write one 'setting: value' per line",
    });
  }
  return doc as Record<string, unknown>;
}

function unquote(value: string): string {
  if (
    value.length >= 2 &&
    ((value.startsWith('"') && value.endsWith('"')) || (value.startsWith("'") && value.endsWith("'")))
  ) {
    return value.slice(1, -1);
  }
  return value;
}
