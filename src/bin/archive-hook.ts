#!/usr/bin/env node
// archive_command=/usr/bin/cassandra-pitr-archive %path %name
// The AWS SDK prints a Node-version notice on stderr unless told not to; the hook must stay quiet.
process.env["AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED"] ??= "true";
const [{ runArchiveHookBounded }, { hookExitStatus }] = await Promise.all([
  import("../pipeline/hook.js"),
  import("./exit-status.js"),
]);
const result = await runArchiveHookBounded(process.argv.slice(2), {
  env: process.env,
  stderr: (line) => process.stderr.write(line + "\n"),
});
// Exit now even if a socket or timer is still pending: the hook must never outlive its bound.
process.exit(hookExitStatus(result));
