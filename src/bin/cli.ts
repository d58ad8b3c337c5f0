#!/usr/bin/env node
process.env["AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED"] ??= "true";
const { main } = await import("../cli/main.js");
process.exitCode = await main(process.argv.slice(2));
