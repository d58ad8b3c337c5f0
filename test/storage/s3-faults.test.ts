/**
 * s3:// against faults a real S3-compatible server does not produce on demand, injected by a small
 * HTTP proxy in front of the test server (MinIO): a server without conditional writes (501 on
 * If-None-Match) and a throttling server (503 SlowDown). Requests are forwarded byte for byte,
 * Host header included, so SigV4 signatures still verify at the server.
 */
import { once } from "node:events";
import { createServer, request, type IncomingMessage, type ServerResponse } from "node:http";
import t from "tap";
import { PreconditionFailedError, TransientStorageError } from "../../src/storage/errors.js";
import { openBackend } from "../../src/storage/open.js";
import { expectError, readAll, requireTarget, uniquePrefix } from "./conformance.js";

const url = requireTarget("s3", "PITR_TEST_S3_URL");

interface Proxy {
  readonly endpoint: string;
  /** Decides per request: undefined forwards it, a number answers with that status. */
  fault: (req: IncomingMessage) => number | undefined;
  readonly seen: { method: string; conditional: boolean; status: number }[];
  close(): Promise<void>;
}

async function faultProxy(target: string): Promise<Proxy> {
  const upstream = new URL(target);
  const proxy: Proxy = {
    endpoint: "",
    fault: () => undefined,
    seen: [],
    close: async () => {
      server.closeAllConnections();
      server.close();
    },
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const conditional = req.headers["if-none-match"] !== undefined;
    const status = proxy.fault(req);
    if (status !== undefined) {
      proxy.seen.push({ method: req.method ?? "", conditional, status });
      req.resume();
      const code = status === 501 ? "NotImplemented" : status === 503 ? "SlowDown" : "InternalError";
      res.writeHead(status, { "content-type": "application/xml" });
      res.end(
        `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>injected by the test proxy</Message></Error>`,
      );
      return;
    }
    const out = request(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
      },
      (up) => {
        proxy.seen.push({ method: req.method ?? "", conditional, status: up.statusCode ?? 0 });
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    out.on("error", () => res.destroy());
    req.pipe(out);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const port = (server.address() as { port: number }).port;
  return Object.assign(proxy, { endpoint: `http://127.0.0.1:${port}` });
}

if (url !== undefined) {
  const endpoint = process.env["CASSANDRA_PITR_S3_ENDPOINT"];
  if (!endpoint) throw new Error("CASSANDRA_PITR_S3_ENDPOINT is not set");

  t.test("s3: a server without conditional writes (501): head-then-put from then on", async (t) => {
    const proxy = await faultProxy(endpoint);
    t.teardown(() => proxy.close());
    proxy.fault = (req) =>
      req.method === "PUT" && req.headers["if-none-match"] !== undefined ? 501 : undefined;
    const backend = await openBackend(`${url}/${uniquePrefix()}`, {
      env: { ...process.env, CASSANDRA_PITR_S3_ENDPOINT: proxy.endpoint },
      retry: false,
    });
    t.equal(backend.capabilities.conditionalCreate, true, "assumed at first");
    await backend.put("c/obj", Buffer.from("first"), { ifAbsent: true, metadata: { n: "1" } });
    t.equal(backend.capabilities.conditionalCreate, false, "switched off after the 501");
    t.ok(
      proxy.seen.some((s) => s.status === 501 && s.conditional),
      "the conditional put was refused with 501",
    );
    t.equal((await readAll(await backend.get("c/obj"))).toString(), "first", "stored by the fallback");
    t.same((await backend.head("c/obj")).metadata, { n: "1" }, "with its metadata");
    const before = proxy.seen.filter((s) => s.status === 501).length;
    await expectError(
      t,
      backend.put("c/obj", Buffer.from("second"), { ifAbsent: true }),
      PreconditionFailedError,
      "ifAbsent on an existing key",
    );
    t.equal(proxy.seen.filter((s) => s.status === 501).length, before, "no conditional put tried again");
    t.equal((await readAll(await backend.get("c/obj"))).toString(), "first", "first object kept");
    await backend.delete("c/obj");
  });

  t.test(
    "s3: throttling (503 SlowDown) is retried, and reported as transient once retries run out",
    async (t) => {
      const proxy = await faultProxy(endpoint);
      t.teardown(() => proxy.close());
      let failNext = 0;
      proxy.fault = () => (failNext > 0 ? (failNext--, 503) : undefined);
      const env = { ...process.env, CASSANDRA_PITR_S3_ENDPOINT: proxy.endpoint };
      const prefix = uniquePrefix();
      const retrying = await openBackend(`${url}/${prefix}`, {
        env,
        retry: { attempts: 4, baseDelayMs: 10, maxDelayMs: 20 },
      });
      failNext = 2;
      await retrying.put("r/obj", Buffer.from("bytes"), { ifAbsent: true });
      t.equal(proxy.seen.filter((s) => s.status === 503).length, 2, "two 503s answered");
      failNext = 2;
      t.equal(
        (await readAll(await retrying.get("r/obj"))).toString(),
        "bytes",
        "get succeeds after two 503s",
      );
      failNext = 2;
      t.equal((await retrying.head("r/obj")).size, 5, "head succeeds after two 503s");

      const once_ = await openBackend(`${url}/${prefix}`, { env, retry: false });
      failNext = 1;
      await expectError(
        t,
        once_.head("r/obj"),
        TransientStorageError,
        "without retries a 503 is a transient error",
      );
      failNext = 10;
      await expectError(
        t,
        retrying.head("r/obj"),
        TransientStorageError,
        "503 on every try: transient error after the last",
      );
      failNext = 0;
      await retrying.delete("r/obj");
    },
  );
}
