/**
 * Writing a file a user named on the command line (`report --out`, `stub KEY DIR`), with the errors
 * of ordinary mistakes (a missing directory, a directory where a file goes, an existing file that
 * must not be replaced, no permission) turned into one line and their documented exit code.
 */
import { writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { PitrError } from "../errors/base.js";

export interface OutputOptions {
  /** Refuse an existing file instead of replacing it. */
  readonly exclusive?: boolean;
  readonly mode?: number;
}

export async function writeOutputFile(
  path: string,
  data: string | Uint8Array,
  options: OutputOptions = {},
): Promise<void> {
  try {
    await writeFile(path, data, {
      flag: options.exclusive ? "wx" : "w",
      ...(options.mode === undefined ? {} : { mode: options.mode }),
    });
  } catch (err) {
    throw outputError(err, path);
  }
}

function outputError(err: unknown, path: string): unknown {
  switch ((err as NodeJS.ErrnoException).code) {
    case "ENOENT":
      return new PitrError(
        "E_NOT_FOUND",
        `cannot write '${path}': directory '${dirname(path)}' does not exist`,
        { hint: "create the directory first, or name another path" },
      );
    case "ENOTDIR":
      return new PitrError(
        "E_NOT_FOUND",
        `cannot write '${path}': a parent of it is a file, not a directory`,
        { hint: "name a path in an existing directory" },
      );
    case "EISDIR":
      return new PitrError("E_USAGE", `cannot write '${path}': it is a directory`, {
        hint: "name a file, not a directory",
      });
    case "EEXIST":
      return new PitrError("E_TARGET_EXISTS", `'${path}' already exists; refused, nothing replaced`, {
        hint: "remove it or choose another directory",
      });
    case "EACCES":
    case "EPERM":
    case "EROFS":
      return new PitrError("E_ACCESS_DENIED", `cannot write '${path}': permission denied`, {
        hint: "choose a path the current user can write",
      });
    default:
      return err;
  }
}
