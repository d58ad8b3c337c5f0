/**
 * parseLocation, pure: each scheme's URL becomes its Location with what the environment adds, and
 * every refusal is one E_CONFIG line naming the redacted URL (never its credentials).
 */
import t from "tap";
import { parseLocation } from "../../src/storage/location.js";

t.test("each scheme's URL and the environment it reads", async (t) => {
  t.same(parseLocation("file:///var/lib/pitr/archive/", {}), {
    scheme: "file",
    display: "file:///var/lib/pitr/archive/",
    root: "/var/lib/pitr/archive",
  });
  t.match(
    parseLocation("s3://my-bucket/prod/a", {
      AWS_ENDPOINT_URL: "http://127.0.0.1:9000/",
      AWS_ACCESS_KEY_ID: "k",
      AWS_SECRET_ACCESS_KEY: "s",
      AWS_REGION: "eu-west-1",
    }),
    {
      scheme: "s3",
      bucket: "my-bucket",
      prefix: "prod/a",
      region: "eu-west-1",
      endpoint: "http://127.0.0.1:9000",
      forcePathStyle: true,
      credentials: { accessKeyId: "k", secretAccessKey: "s" },
    },
  );
  t.match(
    parseLocation("s3://my-bucket", {}),
    { region: "us-east-1", endpoint: undefined, forcePathStyle: false, credentials: undefined, prefix: "" },
    "defaults",
  );
  t.match(parseLocation("gs://my-bucket/p", { STORAGE_EMULATOR_HOST: "localhost:4443/storage/v1/" }), {
    scheme: "gs",
    bucket: "my-bucket",
    prefix: "p",
    apiEndpoint: "http://localhost:4443",
  });
  t.match(
    parseLocation("az://acct1/cont-a/x/y?sv=1&sig=abc", {
      CASSANDRA_PITR_AZURE_ENDPOINT: "http://127.0.0.1:10000/devstoreaccount1/",
    }),
    {
      scheme: "az",
      account: "acct1",
      container: "cont-a",
      prefix: "x/y",
      serviceUrl: "http://127.0.0.1:10000/devstoreaccount1",
      sasToken: "sv=1&sig=abc",
    },
  );
  t.match(parseLocation("az://acct1/cont-a", { AZURE_STORAGE_SAS_TOKEN: "?sv=2" }), {
    serviceUrl: "https://acct1.blob.core.windows.net",
    sasToken: "sv=2",
    prefix: "",
  });
  t.same(parseLocation("mem://unit-test/", {}), {
    scheme: "mem",
    display: "mem://unit-test/",
    name: "unit-test",
  });
});

t.test("refusals: one E_CONFIG line each", async (t) => {
  const refused: [string, RegExp, Record<string, string>?][] = [
    ["", /archive location is empty/],
    ["/var/lib/pitr", /not a URL with a scheme/],
    ["ftp://host/x", /unknown scheme 'ftp'/],
    ["s3://user:secret@bucket/x", /credentials in the URL are not supported/],
    ["s3://bucket/x#frag", /fragments are not supported/],
    ["s3://bucket/x?a=b", /query parameters are not supported/],
    ["file://host/x", /file URLs must be file:\/\/\/absolute\/path/],
    ["file:///", /absolute directory other than '\/'/],
    ["s3://B/x", /'B' is not a valid bucket name/],
    ["s3://bucket/a/../b", /empty, '\.' or '\.\.' segment/],
    ["s3://bucket/x", /only one of AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY/, { AWS_ACCESS_KEY_ID: "k" }],
    [
      "s3://bucket/x",
      /S3 endpoint .* is not an http\(s\) URL/,
      { CASSANDRA_PITR_S3_ENDPOINT: "http://h:9000/path" },
    ],
    ["gs://-bad/x", /not a valid bucket name/],
    ["az://ACCT/c", /not a valid storage account name/],
    ["az://acct1", /the container is missing/],
    ["mem://a b", /memory locations are mem:\/\/name/],
  ];
  for (const [url, message, env] of refused) {
    t.throws(() => parseLocation(url, env ?? {}), { code: "E_CONFIG", message }, url || "(empty)");
  }
  const err = (() => {
    try {
      parseLocation("s3://user:secret@bucket/x", {});
    } catch (e) {
      return e as Error;
    }
    return undefined;
  })();
  t.notMatch(err?.message ?? "", /secret/, "the refusal does not print the URL's credentials");
});
