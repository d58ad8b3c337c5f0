import { openBackend } from "../../src/storage/open.js";
import {
  closedLoopbackPort,
  requireTarget,
  runBackendConformance,
  runErrorPathTests,
  uniquePrefix,
} from "./conformance.js";

const url = requireTarget("gcs", "PITR_TEST_GCS_URL");
if (url !== undefined) {
  const bucket = new URL(url).host;
  const open = (u: string, env: Record<string, string | undefined>) =>
    openBackend(u, { env: { ...process.env, ...env }, retry: false });
  runBackendConformance({
    name: "gcs",
    create: async () => ({ backend: await openBackend(`${url}/${uniquePrefix()}`) }),
  });
  runErrorPathTests({
    name: "gcs",
    open,
    wrongCredentials: "fake-gcs-server does not check credentials",
    missingBucket: { url: url.replace(`//${bucket}`, `//${bucket}-missing`), env: {} },
    unreachable: async () => ({
      url,
      env: { STORAGE_EMULATOR_HOST: `http://127.0.0.1:${await closedLoopbackPort()}` },
    }),
  });
}
