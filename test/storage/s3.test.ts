import { openBackend } from "../../src/storage/open.js";
import { closedLoopbackPort, requireTarget, runBackendConformance, runErrorPathTests, uniquePrefix } from "./conformance.js";

const url = requireTarget("s3", "PITR_TEST_S3_URL");
if (url !== undefined) {
  const bucket = new URL(url).host;
  const open = (u: string, env: Record<string, string | undefined>) => openBackend(u, { env: { ...process.env, ...env }, retry: false });
  runBackendConformance({ name: "s3", create: async () => ({ backend: await openBackend(`${url}/${uniquePrefix()}`) }) });
  runErrorPathTests({
    name: "s3",
    open,
    wrongCredentials: { url, env: { AWS_ACCESS_KEY_ID: "not-a-user", AWS_SECRET_ACCESS_KEY: "not-the-secret-key" } },
    missingBucket: { url: url.replace(`//${bucket}`, `//${bucket}-missing`), env: {} },
    unreachable: async () => ({ url, env: { CASSANDRA_PITR_S3_ENDPOINT: `http://127.0.0.1:${await closedLoopbackPort()}` } }),
  });
}
