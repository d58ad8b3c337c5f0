/** The archive's format is one place: its keys and document codecs (docs/archive-layout.md). */
import t from "tap";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { checkProbeKey, decodeKeyPart, encodeKeyPart, nodePrefix } from "../../src/format/layout.js";
import { componentKey, componentsPrefix, snapshotsPrefix } from "../../src/format/backup-layout.js";
import { evidenceKey, evidencePrefix, parseEvidence } from "../../src/format/evidence.js";
import { parseVerifyState, renderVerifyState, verifyStateKey } from "../../src/format/verify-state.js";
import { branchKey, branchesPrefix } from "../../src/format/branch-record.js";
import { REPO } from "../helpers/cassandra.js";

const id = { cluster: "prod one", node: "0f1e2d3c-0000-4000-8000-000000000001" };
const at = Date.UTC(2026, 10, 27, 21, 5, 9, 42);

t.test("every document key of a node sits under its prefix, in its own folder", async (t) => {
  const prefix = nodePrefix(id);
  t.equal(evidenceKey(id, at), `${prefix}evidence/20261127T210509.042Z_drill.json`);
  t.ok(evidenceKey(id, at).startsWith(evidencePrefix(id)));
  t.equal(verifyStateKey(id), `${prefix}verify/state.json`);
  t.equal(branchKey(id, at), `${prefix}branches/20261127T210509.042Z.json`);
  t.ok(branchKey(id, at).startsWith(branchesPrefix(id)));
  t.equal(checkProbeKey(id, 5, "abcd0123"), `${prefix}_check/5-abcd0123`);
  t.equal(checkProbeKey(undefined, 5, "abcd0123"), "_check/5-abcd0123", "before the node is known");
  const sha = "ab".repeat(32);
  t.equal(componentKey(id, sha), `${componentsPrefix(id)}ab/${sha}`);
  t.equal(componentsPrefix(id), `${prefix}sstables/`);
  t.equal(snapshotsPrefix(id), `${prefix}snapshots/`);
  t.equal(decodeKeyPart(encodeKeyPart("prod one/ü")), "prod one/ü", "the key-part codecs are inverse");
});

t.test("evidence: the summary readers rely on, and nothing for other documents", async (t) => {
  const doc = {
    kind: "restore-drill",
    ran_at: "2026-11-27T21:05:09.042Z",
    restore_point: "2026-11-27T20:00:00.000Z",
    status: "passed",
    details: "3 checks",
    plan: null,
  };
  t.same(parseEvidence(JSON.stringify(doc)), {
    ranAt: at,
    restorePointAt: Date.UTC(2026, 10, 27, 20),
    status: "passed",
    details: "3 checks",
  });
  t.equal(
    parseEvidence(JSON.stringify({ ...doc, status: "weird" }))?.status,
    "failed",
    "anything but passed is a failure",
  );
  t.equal(parseEvidence(JSON.stringify({ ...doc, kind: "other" })), undefined);
  t.equal(parseEvidence(JSON.stringify({ ...doc, ran_at: "yesterday" })), undefined);
  t.equal(parseEvidence("{not json"), undefined);
  t.equal(parseEvidence("null"), undefined);
});

t.test("verify state: round trip, and an unreadable state is empty", async (t) => {
  const verified = { "k/1": { sha256: "00", size: 3, at: "2026-11-27T00:00:00.000Z" } };
  t.same(parseVerifyState(Buffer.from(renderVerifyState(verified)).toString()), {
    schema_version: 1,
    verified,
  });
  t.same(parseVerifyState("{not json"), { schema_version: 1, verified: {} });
  t.same(parseVerifyState('{"verified": null}'), { schema_version: 1, verified: {} });
});

t.test("no key of a format folder is built outside src/format/", async (t) => {
  const literal =
    /[`"'](?:[^`"'\n]*\$\{[^}]*\})?(evidence\/|verify\/state\.json|_check\/|sstables\/|snapshots\/|branches\/)/;
  const found: string[] = [];
  const files = (await readdir(join(REPO, "src"), { recursive: true })).filter(
    (f) => f.endsWith(".ts") && !f.startsWith("format"),
  );
  for (const file of files) {
    const lines = (await readFile(join(REPO, "src", file), "utf8")).split("\n");
    lines.forEach((line, i) => {
      const code = line.trim();
      if (code.startsWith("*") || code.startsWith("/*") || code.startsWith("//")) return; // prose about keys
      if (literal.test(code)) found.push(`${file}:${i + 1}: ${code}`);
    });
  }
  t.same(found, [], "key literals outside src/format/");
});
