/**
 * The fault matrix on S3 (MinIO) behind Toxiproxy and the HTTP fault proxy: every cell of
 * test/pipeline/fault-matrix.ts, plus unfinished multipart uploads counted as left behind.
 */
import t from "tap";
import { ListMultipartUploadsCommand, S3Client } from "@aws-sdk/client-s3";
import { toxiproxyPort } from "../helpers/toxiproxy.js";
import { requireTarget } from "../storage/conformance.js";
import { runMatrix } from "./fault-matrix.js";

const url = requireTarget("s3", "PITR_TEST_S3_URL");

if (url !== undefined) {
  const endpoint = process.env["CASSANDRA_PITR_S3_ENDPOINT"];
  if (!endpoint) throw new Error("CASSANDRA_PITR_S3_ENDPOINT is not set");
  const bucket = new URL(url).host;
  const s3 = new S3Client({
    endpoint,
    forcePathStyle: true,
    region: process.env["AWS_REGION"] ?? "us-east-1",
  });
  t.teardown(() => s3.destroy());
  t.test("fault matrix: archive hook and agent on S3 (MinIO)", (t) =>
    runMatrix(t, {
      label: "s3",
      url,
      upstream: new URL(endpoint).host,
      via: (hostPort) => ({ CASSANDRA_PITR_S3_ENDPOINT: `http://${hostPort}` }),
      errorBody: (status) => ({
        type: "application/xml",
        body: `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${status === 503 ? "SlowDown" : "InternalError"}</Code><Message>injected by the test proxy</Message></Error>`,
      }),
      // Listed whole and filtered here: MinIO answers a Prefix that is not a whole key with no uploads.
      pendingUploads: async (prefix) => {
        const under = `${new URL(url).pathname.slice(1)}/${prefix}`;
        const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
        return (uploads.Uploads ?? [])
          .filter((u) => u.Key!.startsWith(under))
          .map((u) => `multipart:${u.Key}`);
      },
      toxiproxyPort: toxiproxyPort(),
    }),
  );
}
