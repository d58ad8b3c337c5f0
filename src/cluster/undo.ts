/**
 * Undoing a node's committed restore before the node ever started (a cluster restore aborted at
 * its barrier): the journal commitJournal kept lists every move and write, so the rollback puts the
 * live sstables, the commit log and the settings back exactly as a rollback of an interrupted
 * restore does. Once the node has started and replayed, nothing is undone (the journal is gone).
 */
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { REPLAY_FILTER_FILE } from "../replay/replay-filter.js";
import { STATE_FILE } from "../restore/executor.js";
import { committedJournalPath, JOURNAL_FILE, readJournal, rollBack } from "../restore/journal.js";

/** Returns what was done, one line; "" when there was no committed restore to undo. */
export async function undoUnstartedRestore(cassandraConf: string): Promise<string> {
  const journal = await readJournal<unknown>(committedJournalPath(join(cassandraConf, JOURNAL_FILE)));
  if (!journal) return "";
  const left = await rollBack(journal);
  await rm(join(cassandraConf, STATE_FILE), { force: true });
  await rm(join(cassandraConf, REPLAY_FILTER_FILE), { force: true });
  return `undid the restore to ${journal.header.restore_point_in_time}: live sstables, commit log and settings are back${left > 0 ? ` (${left} file(s) kept in '${journal.header.created.aside_dir}')` : ""}`;
}
