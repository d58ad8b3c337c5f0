import { openBackend } from "../../src/storage/open.js";
import {
  closedLoopbackPort,
  requireTarget,
  runBackendConformance,
  runErrorPathTests,
  uniquePrefix,
} from "./conformance.js";

const url = requireTarget("azure", "PITR_TEST_AZURE_URL");
if (url !== undefined) {
  const [, account = "", container = ""] = /^az:\/\/([^/]+)\/([^/]+)/.exec(url) ?? [];
  const open = (u: string, env: Record<string, string | undefined>) =>
    openBackend(u, { env: { ...process.env, ...env }, retry: false });
  runBackendConformance({
    name: "azure",
    create: async () => ({ backend: await openBackend(`${url}/${uniquePrefix()}`) }),
  });
  runErrorPathTests({
    name: "azure",
    open,
    wrongCredentials: {
      url,
      env: {
        AZURE_STORAGE_CONNECTION_STRING: undefined,
        AZURE_STORAGE_KEY: Buffer.from("not the account key, 64 bytes long......................").toString(
          "base64",
        ),
      },
    },
    missingBucket: {
      url: url.replace(`/${account}/${container}`, `/${account}/${container}-missing`),
      env: {},
    },
    unreachable: async () => ({
      url,
      env: {
        AZURE_STORAGE_CONNECTION_STRING: undefined,
        CASSANDRA_PITR_AZURE_ENDPOINT: `http://127.0.0.1:${await closedLoopbackPort()}/${account}`,
      },
    }),
  });
}
