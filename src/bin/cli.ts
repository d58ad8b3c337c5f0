#!/usr/bin/env node
process.env["AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED"] ??= "true";
const { main } = await import("../cli/main.js");
const { EXIT } = await import("../errors/codes.js");
const status = await main(process.argv.slice(2));
process.exitCode = status;
// Stopped by a signal, the command has cleaned up and returned; but a request that a storage library
// cannot cancel (the GCS library's calls are raced against the signal, not aborted) keeps its socket,
// and with it the process, alive as long as the endpoint hangs. Give the rest 2 s, then leave.
if (status === EXIT.TERMINATED || status === EXIT.INTERRUPTED)
  setTimeout(() => process.exit(status), 2000).unref();
