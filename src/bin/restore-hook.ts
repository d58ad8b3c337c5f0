#!/usr/bin/env node
// restore_command=/usr/bin/cassandra-pitr-restore %from %to
process.env["AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED"] ??= "true";
const { runRestoreHook } = await import("../archive/restore-hook.js");
process.exitCode = await runRestoreHook(process.argv.slice(2), {
  env: process.env,
  stderr: (line) => process.stderr.write(line + "\n"),
});
