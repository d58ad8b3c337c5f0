import { openBackend } from "../../src/storage/open.js";
import { PreconditionFailedError } from "../../src/storage/errors.js";
import type { LentChunks } from "../../src/storage/types.js";
import {
  closedLoopbackPort,
  expectError,
  readAll,
  requireTarget,
  runBackendConformance,
  runErrorPathTests,
  uniquePrefix,
} from "./conformance.js";

const url = requireTarget("s3", "PITR_TEST_S3_URL");
if (url !== undefined) {
  const bucket = new URL(url).host;
  const open = (u: string, env: Record<string, string | undefined>) =>
    openBackend(u, { env: { ...process.env, ...env }, retry: false });
  runBackendConformance({
    name: "s3",
    create: async () => ({ backend: await openBackend(`${url}/${uniquePrefix()}`) }),
    additionalTests: (t) => {
      t.test("s3: a multipart put refused by ifAbsent leaves no upload behind", async (t) => {
        const prefix = uniquePrefix();
        const backend = await openBackend(`${url}/${prefix}`);
        const big = (seed: number): LentChunks => ({
          lent: true,
          async *[Symbol.asyncIterator]() {
            const shared = Buffer.alloc(256 * 1024, seed);
            for (let i = 0; i < 48; i++) yield shared; // 12 MiB: two parts (8 + 4)
          },
        });
        await backend.put("mp/obj", big(1), { ifAbsent: true });
        t.equal((await backend.head("mp/obj")).size, 12 * 1024 * 1024, "first put stored as parts");
        await expectError(
          t,
          backend.put("mp/obj", big(2), { ifAbsent: true }),
          PreconditionFailedError,
          "second put refused",
        );
        t.equal((await readAll(await backend.get("mp/obj")))[0], 1, "first object kept");
        const { S3Client, ListMultipartUploadsCommand } = await import("@aws-sdk/client-s3");
        const endpoint = process.env["CASSANDRA_PITR_S3_ENDPOINT"];
        const client = new S3Client({
          ...(endpoint ? { endpoint } : {}),
          region: process.env["AWS_REGION"] ?? "us-east-1",
          forcePathStyle: true,
        });
        const listed = await client.send(
          new ListMultipartUploadsCommand({
            Bucket: bucket,
            Prefix: `${new URL(url).pathname.slice(1)}/${prefix}/mp/obj`,
          }),
        );
        t.same(listed.Uploads ?? [], [], "no multipart upload left open");
        client.destroy();
        await backend.delete("mp/obj");
      });
    },
  });
  runErrorPathTests({
    name: "s3",
    open,
    wrongCredentials: {
      url,
      env: { AWS_ACCESS_KEY_ID: "not-a-user", AWS_SECRET_ACCESS_KEY: "not-the-secret-key" },
    },
    missingBucket: { url: url.replace(`//${bucket}`, `//${bucket}-missing`), env: {} },
    unreachable: async () => ({
      url,
      env: { CASSANDRA_PITR_S3_ENDPOINT: `http://127.0.0.1:${await closedLoopbackPort()}` },
    }),
  });
}
