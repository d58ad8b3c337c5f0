/** The fault matrix (test/pipeline/fault-matrix.ts) on GCS: fake-gcs-server behind Toxiproxy and the HTTP fault proxy. */
import t from "tap";
import { toxiproxyPort } from "../helpers/toxiproxy.js";
import { requireTarget } from "../storage/conformance.js";
import { runMatrix } from "./fault-matrix.js";

const url = requireTarget("gcs", "PITR_TEST_GCS_URL");

if (url !== undefined) {
  const emulator = process.env["STORAGE_EMULATOR_HOST"];
  if (!emulator) throw new Error("STORAGE_EMULATOR_HOST is not set");
  t.test("fault matrix: archive hook and agent on GCS (fake-gcs-server)", (t) =>
    runMatrix(t, {
      label: "gcs",
      url,
      upstream: new URL(emulator).host,
      via: (hostPort) => ({ STORAGE_EMULATOR_HOST: `http://${hostPort}` }),
      errorBody: (status) => ({
        type: "application/json",
        body: JSON.stringify({
          error: {
            code: status,
            message: "injected by the test proxy",
            errors: [{ reason: status === 429 ? "rateLimitExceeded" : "backendError" }],
          },
        }),
      }),
      toxiproxyPort: toxiproxyPort() + 7,
    }),
  );
}
