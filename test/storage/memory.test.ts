import { openBackend } from "../../src/storage/open.js";
import { runBackendConformance } from "./conformance.js";

runBackendConformance({
  name: "memory",
  create: async () => ({ backend: await openBackend(`mem://conformance-${process.pid}`) }),
});
