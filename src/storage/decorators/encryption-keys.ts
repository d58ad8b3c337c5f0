/**
 * The encryption keys, from where the settings say (docs/encryption.md): a file or an environment
 * variable, never the config file or the command line. A key is 32 bytes, written as 64 hex digits
 * or as base64. Its id is the first 16 hex digits of its sha256: public, stable, and the same on
 * every node that holds the key, so rotation needs no naming scheme.
 */
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { EncryptionKeyError, type EncryptionKey, type EncryptionKeys } from "./encrypt.js";

export interface EncryptionSettings {
  readonly encryption: "none" | "aes-256-gcm";
  readonly encryptionKeyFile: string | undefined;
  readonly encryptionKeyEnv: string | undefined;
  readonly encryptionRetiredKeyFiles: string | undefined;
}

export function keyId(key: Buffer): string {
  return createHash("sha256").update(key).digest("hex").slice(0, 16);
}

/** Decodes a key's text; says what is wrong without ever quoting it. */
export function parseKey(text: string, source: string): EncryptionKey {
  const t = text.trim();
  const key = /^[0-9a-fA-F]{64}$/.test(t)
    ? Buffer.from(t, "hex")
    : /^[A-Za-z0-9+/]{43}=?$/.test(t)
      ? Buffer.from(t, "base64")
      : undefined;
  if (key?.length !== 32) {
    throw new EncryptionKeyError(
      `${source} does not hold a 32-byte key`,
      "write 64 hex digits or 44 base64 characters, e.g. 'openssl rand -hex 32 > key'",
    );
  }
  return { id: keyId(key), key };
}

async function keyFromFile(path: string, what: string): Promise<EncryptionKey> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new EncryptionKeyError(
      `cannot read the ${what} '${path}': ${code}`,
      "check the path and that the hook's user (cassandra) may read it",
    );
  }
  return parseKey(text, `the ${what} '${path}'`);
}

/** The keys the settings name, or undefined when encryption is off (reads still detect encrypted objects). */
export async function loadEncryptionKeys(
  s: EncryptionSettings,
  env: NodeJS.ProcessEnv,
): Promise<EncryptionKeys | undefined> {
  const retired = await Promise.all(
    (s.encryptionRetiredKeyFiles ?? "")
      .split(",")
      .map((p) => p.trim())
      .filter(Boolean)
      .map((p) => keyFromFile(p, "retired key file")),
  );
  if (s.encryption === "none") {
    // Turned off after a while on: the old objects stay readable with the keys still listed.
    const [first, ...rest] = retired;
    return first ? { current: first, retired: rest, readOnly: true } : undefined;
  }
  let current: EncryptionKey;
  if (s.encryptionKeyFile) current = await keyFromFile(s.encryptionKeyFile, "encryption key file");
  else if (s.encryptionKeyEnv) {
    const text = env[s.encryptionKeyEnv];
    if (text === undefined || text === "") {
      throw new EncryptionKeyError(
        `the environment variable ${s.encryptionKeyEnv} (encryptionKeyEnv) is not set`,
        "export the key in the environment of the hooks, the agent and the CLI",
      );
    }
    current = parseKey(text, `the environment variable ${s.encryptionKeyEnv}`);
  } else {
    throw new EncryptionKeyError(
      "encryption: aes-256-gcm needs a key: set encryptionKeyFile or encryptionKeyEnv",
      "the key never goes in the config file itself (docs/encryption.md)",
    );
  }
  return { current, retired };
}
