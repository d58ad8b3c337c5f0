/**
 * Where the installed hook executables are (beside this CLI's own entry point, dist/bin/), and the
 * restore_command line that `plan` prints and `restore` and the drill write: one definition, so
 * the plan shows exactly what the restore will put into commitlog_archiving.properties.
 */
import { existsSync, realpathSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export function hookPaths(): { archive: string; restore: string } {
  const binDir = join(dirname(fileURLToPath(import.meta.url)), "../bin");
  const resolved = existsSync(binDir) ? realpathSync(binDir) : binDir;
  return { archive: join(resolved, "archive-hook.js"), restore: join(resolved, "restore-hook.js") };
}

/** `<restore hook> [--config=<file>] %from %to`: the hook reads the same config as this CLI run. */
export function restoreCommandLine(configFile: string | undefined): string {
  return `${hookPaths().restore}${configFile ? ` --config=${configFile}` : ""} %from %to`;
}
