import t from "tap";
import { hasUserinfo, redactText, redactUrl, stripCredentials } from "../../src/errors/redact.js";
import { renderError, PitrError } from "../../src/errors/base.js";
import { archiveForStub } from "../../src/replay/restore-hook.js";
import { parseStub, renderStub } from "../../src/replay/stub.js";

const SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

t.test("redactUrl: userinfo to the last '@' (secrets with '/'), query strings, nothing else", async (t) => {
  const cases: [string, string][] = [
    [`s3://AKIA:${SECRET}@bucket/prefix`, "s3://***@bucket/prefix"],
    [`http://AKIA:${SECRET}@127.0.0.1:9000`, "http://***@127.0.0.1:9000"],
    ["s3://AKIA:se?cr#et@bucket", "s3://***@bucket"],
    ["az://acct/cont/prefix?sv=2024&sig=abc%2Fdef", "az://acct/cont/prefix?***"],
    ["s3://bucket/dir@x/y", "s3://bucket/dir@x/y"],
    ["file:///var/lib/archive", "file:///var/lib/archive"],
  ];
  for (const [url, want] of cases) t.equal(redactUrl(url), want, url.slice(0, 30));
  t.ok(hasUserinfo(`s3://AKIA:${SECRET}@bucket`), "userinfo with '/' is userinfo");
  t.notOk(hasUserinfo("s3://bucket/dir@x"), "an '@' in a path is not");
});

t.test("stripCredentials keeps a usable location", async (t) => {
  t.equal(stripCredentials("az://acct/cont/p?sv=1&sig=2"), "az://acct/cont/p");
  t.equal(stripCredentials(`s3://AKIA:${SECRET}@bucket/p`), "s3://bucket/p");
  t.equal(stripCredentials("gs://bucket/p"), "gs://bucket/p");
});

t.test("redactText: URLs inside text, secret pairs, and secret environment values", async (t) => {
  const env = { AWS_SECRET_ACCESS_KEY: SECRET, AZURE_STORAGE_KEY: "short" };
  const text = `failed to reach http://k:${SECRET}@host:1 (AccountKey=abc;sig=xyz) key ${SECRET} and short`;
  const out = redactText(text, env);
  for (const piece of SECRET.split("/")) t.notMatch(out, piece, `no '${piece}'`);
  t.match(out, "AccountKey=***;sig=***", "connection-string pairs");
  t.match(out, "and short", "values under 8 characters are not treated as secrets");
});

t.test("renderError redacts what an error's message quotes", async (t) => {
  const line = renderError(new PitrError("E_STORAGE", `put to s3://AKIA:${SECRET}@b/p failed`), "x");
  t.notMatch(line, "K7MDENG");
  t.notMatch(renderError(new Error(`boom at az://a/c?sig=${"s".repeat(20)}`), "x"), "sss");
});

t.test(
  "a stub never carries credentials; the restore hook then uses the configured URL with them",
  async (t) => {
    const configured = "az://acct/cont/prefix?sv=2024&sig=abcdef";
    const bytes = renderStub(7, 1795250286318n, "{}", {
      archive: configured,
      key: "k",
      sha256: "0".repeat(64),
      size: 1,
      name: "CommitLog-7-1795250286318.log",
    });
    t.notMatch(Buffer.from(bytes).toString("latin1"), "sig=", "no SAS in the stub");
    const stub = parseStub(bytes, "stub")!;
    t.equal(stub.archive, "az://acct/cont/prefix");
    t.equal(archiveForStub(stub, configured), configured, "same archive: the configured URL, with its token");
    t.equal(
      archiveForStub(stub, "az://acct/other?sig=1"),
      "az://acct/cont/prefix",
      "another archive: the stub's URL (credentials from the environment)",
    );
  },
);
