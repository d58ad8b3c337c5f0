import path from "node:path";
import { fileURLToPath } from "node:url";
import { ConfigError } from "../errors/base.js";
import { hasUserinfo, redactUrl as redact } from "../errors/redact.js";
import type { ObjectLockPolicy } from "./object-lock.js";
import type { Scheme } from "./types.js";

/**
 * Archive URLs and the settings each backend needs, read once from the URL and the environment.
 *
 *   file:///abs/path                 local directory (must exist)
 *   s3://bucket[/prefix]             AWS S3 or any S3-compatible server
 *   gs://bucket[/prefix]             Google Cloud Storage
 *   az://account/container[/prefix]  Azure Blob Storage
 *   mem://name                       in-process memory (tests only)
 *
 * Secrets never come from the URL path; they come from the environment (docs/backends.md). A
 * Location may hold secrets: print `display` (the redacted URL), never the object.
 */
export type Location = FileLocation | S3Location | GcsLocation | AzureLocation | MemoryLocation;

interface LocationBase {
  /** The URL with secrets removed; safe for messages and reports. */
  readonly display: string;
}

export interface FileLocation extends LocationBase {
  readonly scheme: "file";
  /** Absolute directory that holds the archive. */
  readonly root: string;
}

export interface S3Credentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string | undefined;
}

export interface S3Location extends LocationBase {
  readonly scheme: "s3";
  readonly bucket: string;
  /** "" or "a/b" (no leading or trailing "/"). */
  readonly prefix: string;
  readonly region: string;
  readonly endpoint?: string | undefined;
  readonly forcePathStyle: boolean;
  /** From AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY; undefined = the SDK's default provider chain. */
  readonly credentials?: S3Credentials | undefined;
  /** Object Lock on every put (from the objectLock settings, added by openLocation, never from the URL). */
  readonly objectLock?: ObjectLockPolicy | undefined;
}

export interface GcsLocation extends LocationBase {
  readonly scheme: "gs";
  readonly bucket: string;
  readonly prefix: string;
  /** From STORAGE_EMULATOR_HOST (an emulator such as fake-gcs-server); undefined = Google. */
  readonly apiEndpoint?: string | undefined;
  readonly projectId?: string | undefined;
}

export interface AzureLocation extends LocationBase {
  readonly scheme: "az";
  readonly account: string;
  readonly container: string;
  readonly prefix: string;
  /** Blob service URL of the account (CASSANDRA_PITR_AZURE_ENDPOINT, else https://<account>.blob.core.windows.net). */
  readonly serviceUrl: string;
  readonly connectionString?: string | undefined;
  readonly accountKey?: string | undefined;
  /** SAS token, from the URL's query string or AZURE_STORAGE_SAS_TOKEN (without the leading "?"). */
  readonly sasToken?: string | undefined;
}

export interface MemoryLocation extends LocationBase {
  readonly scheme: "mem";
  readonly name: string;
}

export type Env = Readonly<Record<string, string | undefined>>;

export const SUPPORTED_SCHEMES: readonly Scheme[] = ["file", "s3", "gs", "az", "mem"];
const SCHEME_HINT =
  "use file:///abs/path, s3://bucket/prefix, gs://bucket/prefix, az://account/container/prefix or mem://name";

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v.trim() === "" ? undefined : v.trim();
}

function bad(display: string, why: string, hint: string = SCHEME_HINT): never {
  throw new ConfigError(`invalid archive location '${display}': ${why}`, { hint });
}

/** Path part of an object-store URL → prefix without leading/trailing "/"; rejects "..", "//". */
function parsePrefix(display: string, raw: string): string {
  const trimmed = raw.replace(/^\/+/, "").replace(/\/+$/, "");
  if (trimmed === "") return "";
  let decoded: string;
  try {
    decoded = decodeURIComponent(trimmed);
  } catch {
    bad(display, "the prefix is not valid percent-encoding");
  }
  if (!/^[A-Za-z0-9._=:+@\-/]+$/.test(decoded))
    bad(display, "the prefix contains a character outside [A-Za-z0-9._=:+@-/]");
  for (const segment of decoded.split("/")) {
    if (segment === "" || segment === "." || segment === "..")
      bad(display, "the prefix contains an empty, '.' or '..' segment");
  }
  return decoded;
}

/**
 * Parses an archive URL. `env` defaults to process.env and is read only here, so a Location is a
 * complete description of how to reach the archive. Throws ConfigError (E_CONFIG) on any problem;
 * messages carry only the redacted URL.
 */
export function parseLocation(url: string, env: Env = process.env): Location {
  const u = splitUrl(url);
  switch (u.scheme) {
    case "file":
      return fileLocation(u);
    case "s3":
      return s3Location(u, env);
    case "gs":
      return gcsLocation(u, env);
    case "az":
      return azureLocation(u, env);
    case "mem":
      return memoryLocation(u);
  }
}

/** An archive URL taken apart: scheme checked, no credentials or fragment, a query only for az. */
interface UrlParts {
  readonly display: string;
  readonly scheme: Scheme;
  readonly host: string;
  /** The path after the host, with its leading '/', or "". */
  readonly pathPart: string;
  readonly query: string;
}

function splitUrl(url: string): UrlParts {
  if (typeof url !== "string" || url.trim() === "") {
    throw new ConfigError("the archive location is empty", {
      hint: "set archive (or CASSANDRA_PITR_ARCHIVE) to a URL such as file:///var/lib/cassandra-pitr/archive",
    });
  }
  const display = redact(url.trim());
  const match = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/(.*)$/s.exec(url.trim());
  if (!match) bad(display, "not a URL with a scheme");
  const scheme = match[1]!.toLowerCase();
  const rest = match[2]!;
  if (!(SUPPORTED_SCHEMES as readonly string[]).includes(scheme)) {
    bad(display, `unknown scheme '${scheme}'`);
  }
  if (hasUserinfo(url)) {
    bad(
      display,
      "credentials in the URL are not supported",
      "put credentials in the environment (see docs/backends.md)",
    );
  }
  if (rest.includes("#")) bad(display, "fragments are not supported");
  const q = rest.indexOf("?");
  const query = q >= 0 ? rest.slice(q + 1) : "";
  const body = q >= 0 ? rest.slice(0, q) : rest;
  if (query !== "" && scheme !== "az") bad(display, "query parameters are not supported for this scheme");
  const slash = body.indexOf("/");
  return {
    display,
    scheme: scheme as Scheme,
    host: slash >= 0 ? body.slice(0, slash) : body,
    pathPart: slash >= 0 ? body.slice(slash) : "",
    query,
  };
}

function fileLocation({ display, host, pathPart }: UrlParts): FileLocation {
  if (host !== "" && host !== "localhost") bad(display, "file URLs must be file:///absolute/path");
  let root: string;
  try {
    root = fileURLToPath(`file://${pathPart}`);
  } catch {
    bad(display, "not a valid file URL");
  }
  if (!path.isAbsolute(root) || pathPart === "" || pathPart === "/")
    bad(display, "the path must be an absolute directory other than '/'");
  root = path.resolve(root);
  if (root === "/") bad(display, "the path must be an absolute directory other than '/'");
  return { scheme: "file", display, root };
}

function s3Location({ display, host, pathPart }: UrlParts, env: Env): S3Location {
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(host)) bad(display, `'${host}' is not a valid bucket name`);
  const endpoint =
    nonEmpty(env["CASSANDRA_PITR_S3_ENDPOINT"]) ??
    nonEmpty(env["AWS_ENDPOINT_URL_S3"]) ??
    nonEmpty(env["AWS_ENDPOINT_URL"]);
  if (endpoint !== undefined && (hasUserinfo(endpoint) || !/^https?:\/\/[^/?#]+\/?$/.test(endpoint))) {
    bad(
      display,
      `the S3 endpoint '${redact(endpoint)}' is not an http(s) URL without a path or credentials`,
      "set CASSANDRA_PITR_S3_ENDPOINT like http://127.0.0.1:9000",
    );
  }
  const accessKeyId = nonEmpty(env["AWS_ACCESS_KEY_ID"]);
  const secretAccessKey = nonEmpty(env["AWS_SECRET_ACCESS_KEY"]);
  const sessionToken = nonEmpty(env["AWS_SESSION_TOKEN"]);
  if ((accessKeyId === undefined) !== (secretAccessKey === undefined)) {
    bad(
      display,
      "only one of AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY is set",
      "set both, or neither to use the default AWS credential chain",
    );
  }
  return {
    scheme: "s3",
    display,
    bucket: host,
    prefix: parsePrefix(display, pathPart),
    region: nonEmpty(env["AWS_REGION"]) ?? nonEmpty(env["AWS_DEFAULT_REGION"]) ?? "us-east-1",
    endpoint: endpoint?.replace(/\/$/, ""),
    forcePathStyle: endpoint !== undefined,
    credentials:
      accessKeyId !== undefined && secretAccessKey !== undefined
        ? { accessKeyId, secretAccessKey, sessionToken }
        : undefined,
  };
}

function gcsLocation({ display, host, pathPart }: UrlParts, env: Env): GcsLocation {
  if (!/^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$/.test(host))
    bad(display, `'${host}' is not a valid bucket name`);
  const emulator = nonEmpty(env["STORAGE_EMULATOR_HOST"]);
  return {
    scheme: "gs",
    display,
    bucket: host,
    prefix: parsePrefix(display, pathPart),
    // Accepted with or without a scheme and with or without the "/storage/v1" API path.
    apiEndpoint:
      emulator === undefined
        ? undefined
        : (/^https?:\/\//.test(emulator) ? emulator : `http://${emulator}`)
            .replace(/\/+$/, "")
            .replace(/\/storage\/v1$/, ""),
    projectId: nonEmpty(env["GOOGLE_CLOUD_PROJECT"]),
  };
}

function azureLocation({ display, host: account, pathPart, query }: UrlParts, env: Env): AzureLocation {
  if (!/^[a-z0-9]{3,24}$/.test(account)) bad(display, `'${account}' is not a valid storage account name`);
  const parts = pathPart.replace(/^\/+/, "").split("/");
  const container = parts[0] ?? "";
  if (!/^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}$/.test(container)) {
    bad(
      display,
      container === "" ? "the container is missing" : `'${container}' is not a valid container name`,
      "use az://account/container/prefix",
    );
  }
  const endpoint = nonEmpty(env["CASSANDRA_PITR_AZURE_ENDPOINT"]);
  if (endpoint !== undefined && (hasUserinfo(endpoint) || !/^https?:\/\/[^?#]+$/.test(endpoint))) {
    bad(
      display,
      `the Azure endpoint '${redact(endpoint)}' is not an http(s) URL without credentials`,
      "set CASSANDRA_PITR_AZURE_ENDPOINT like http://127.0.0.1:10000/devstoreaccount1",
    );
  }
  return {
    scheme: "az",
    display,
    account,
    container,
    prefix: parsePrefix(display, parts.slice(1).join("/")),
    serviceUrl: (endpoint ?? `https://${account}.blob.core.windows.net`).replace(/\/+$/, ""),
    connectionString: nonEmpty(env["AZURE_STORAGE_CONNECTION_STRING"]),
    accountKey: nonEmpty(env["AZURE_STORAGE_KEY"]) ?? nonEmpty(env["AZURE_STORAGE_ACCESS_KEY"]),
    sasToken: nonEmpty(query) ?? nonEmpty(env["AZURE_STORAGE_SAS_TOKEN"])?.replace(/^\?/, ""),
  };
}

function memoryLocation({ display, host, pathPart }: UrlParts): MemoryLocation {
  const name = `${host}${pathPart}`.replace(/\/+$/, "");
  if (!/^[A-Za-z0-9._-]+$/.test(name)) bad(display, "memory locations are mem://name with [A-Za-z0-9._-]");
  return { scheme: "mem", display, name };
}
