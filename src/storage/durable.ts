import { constants } from "node:fs";
import { open } from "node:fs/promises";

/**
 * fsyncs a directory, so that a file created, linked or renamed in it survives a crash. Every
 * place that reports "durably stored" on a local filesystem goes through here.
 */
export async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
