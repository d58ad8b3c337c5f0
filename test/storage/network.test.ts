import t from "tap";
import { networkCode } from "../../src/storage/network.js";

const withCode = (code: string, field: "code" | "errno" = "code") =>
  Object.assign(new Error("socket"), { [field]: code });

t.test("each SDK's shape of a socket error is recognised", async (t) => {
  t.equal(networkCode(withCode("ECONNREFUSED")), "ECONNREFUSED", "node's own error");
  t.equal(
    networkCode(new Error("request failed", { cause: new Error("x", { cause: withCode("ECONNRESET") }) })),
    "ECONNRESET",
    "S3: a cause chain",
  );
  t.equal(
    networkCode(
      new Error("fetch failed", { cause: new AggregateError([new Error("a"), withCode("EHOSTUNREACH")]) }),
    ),
    "EHOSTUNREACH",
    "S3: AggregateError inside the cause",
  );
  t.equal(networkCode(withCode("ETIMEDOUT", "errno")), "ETIMEDOUT", "GCS: errno");
  t.equal(
    networkCode(new Error("request to http://127.0.0.1:1/ failed, reason: connect ECONNREFUSED 127.0.0.1:1")),
    "ECONNREFUSED",
    "GCS: only the message",
  );
  t.equal(networkCode(withCode("REQUEST_SEND_ERROR")), "REQUEST_SEND_ERROR", "Azure's wrapper");
  t.equal(networkCode(withCode("UND_ERR_SOCKET")), "UND_ERR_SOCKET", "undici");
});

t.test("anything else is not a network error", async (t) => {
  t.equal(networkCode(withCode("ENOENT")), undefined);
  t.equal(networkCode(Object.assign(new Error("forbidden"), { code: 403 })), undefined, "an HTTP status");
  t.equal(networkCode(new Error("NoSuchKey")), undefined);
  t.equal(networkCode(undefined), undefined);
  // A cause chain longer than any SDK's is not followed forever.
  let deep: Error = withCode("ECONNRESET");
  for (let i = 0; i < 10; i++) deep = new Error("wrapped", { cause: deep });
  t.equal(networkCode(deep), undefined, "past the depth bound");
});
