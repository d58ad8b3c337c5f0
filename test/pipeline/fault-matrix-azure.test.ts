/** The fault matrix (test/pipeline/fault-matrix.ts) on Azure Blob: Azurite behind Toxiproxy and the HTTP fault proxy. */
import t from "tap";
import { toxiproxyPort } from "../helpers/toxiproxy.js";
import { requireTarget } from "../storage/conformance.js";
import { runMatrix } from "./fault-matrix.js";

const url = requireTarget("azure", "PITR_TEST_AZURE_URL");

if (url !== undefined) {
  const endpoint = process.env["CASSANDRA_PITR_AZURE_ENDPOINT"];
  if (!endpoint) throw new Error("CASSANDRA_PITR_AZURE_ENDPOINT is not set");
  const account = new URL(endpoint).pathname; // path-style emulator endpoint: /devstoreaccount1
  t.test("fault matrix: archive hook and agent on Azure Blob (Azurite)", (t) =>
    runMatrix(t, {
      label: "azure",
      url,
      upstream: new URL(endpoint).host,
      via: (hostPort) => ({ CASSANDRA_PITR_AZURE_ENDPOINT: `http://${hostPort}${account}` }),
      errorBody: (status) => ({
        type: "application/xml",
        body: `<?xml version="1.0" encoding="utf-8"?><Error><Code>${status === 503 ? "ServerBusy" : "InternalError"}</Code><Message>injected by the test proxy</Message></Error>`,
      }),
      toxiproxyPort: toxiproxyPort() + 11,
    }),
  );
}
