#!/usr/bin/env node
// restore_command=/usr/bin/cassandra-pitr-restore %from %to
process.env["AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED"] ??= "true";
const [{ runRestoreHookBounded }, { hookExitStatus }] = await Promise.all([
  import("../replay/restore-hook.js"),
  import("./exit-status.js"),
]);
const result = await runRestoreHookBounded(process.argv.slice(2), {
  env: process.env,
  stderr: (line) => process.stderr.write(line + "\n"),
});
// Cassandra's start-up waits for this process: exit now, whatever is still pending.
process.exit(hookExitStatus(result));
