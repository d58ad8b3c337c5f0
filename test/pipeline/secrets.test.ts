/**
 * Secrets never printed, logged or stored (issue 13): an AWS secret key with `/` in an s3:// URL or
 * an endpoint URL, and an Azure SAS token in the az:// URL, run through the real hooks and CLI. The
 * SAS case runs on Azurite with a real SAS token: the hooks archive and restore with it, and neither
 * the stub, the hook log nor the object's metadata holds it.
 */
import t from "tap";
import { copyFile, mkdir, readdir, readFile, rm, stat } from "node:fs/promises";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { segmentFixtures } from "../helpers/fixtures.js";
import { ARCHIVE_HOOK, CLI, RESTORE_HOOK, cleanEnv, runNode, tempDir } from "../helpers/hooks.js";
import { requireTarget, uniquePrefix } from "../storage/conformance.js";

const NODE_ID = "6b1e5a3c-0000-4000-8000-00000000c0de";
const SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const PIECES = SECRET.split("/"); // a redaction that stops at the first "/" leaks the later pieces

t.test(
  "an s3:// URL or an S3 endpoint URL with a secret holding '/': no piece of it in output or the hook log",
  async (t) => {
    const root = await tempDir("secrets");
    t.teardown(() => rm(root, { recursive: true, force: true }));
    await mkdir(join(root, "commitlog"));
    const [f] = await segmentFixtures("v7");
    const path = join(root, "commitlog", f!.name);
    await copyFile(f!.path, path);
    const log = join(root, "hook.log");
    const base = {
      CASSANDRA_PITR_CLUSTER: "c1",
      CASSANDRA_PITR_NODE: NODE_ID,
      CASSANDRA_PITR_SPOOL_FALLBACK: "false",
      CASSANDRA_PITR_LOG_FILE: log,
    };
    const cases = [
      {
        title: "secret in the archive URL",
        env: { CASSANDRA_PITR_ARCHIVE: `s3://AKIAEXAMPLE:${SECRET}@bucket/prefix` },
      },
      {
        title: "secret in the endpoint URL",
        env: {
          CASSANDRA_PITR_ARCHIVE: "s3://bucket/prefix",
          CASSANDRA_PITR_S3_ENDPOINT: `http://AKIAEXAMPLE:${SECRET}@127.0.0.1:9`,
        },
      },
      {
        title: "secret in an endpoint URL without '/'",
        env: {
          CASSANDRA_PITR_ARCHIVE: "s3://bucket/prefix",
          CASSANDRA_PITR_S3_ENDPOINT: `http://AKIAEXAMPLE:${PIECES.join("")}@127.0.0.1:9`,
        },
      },
    ];
    for (const c of cases) {
      const env = cleanEnv({ ...base, ...c.env });
      for (const [tool, args] of [
        [ARCHIVE_HOOK, [path, f!.name]],
        [CLI, ["list"]],
        [CLI, ["check"]],
      ] as const) {
        const ran = await runNode(tool, [...args], env);
        t.equal(
          ran.exitCode,
          2,
          `${c.title}, ${tool.split("/").pop()} ${args[0]}: refused as a configuration error (exit 2)`,
        );
        t.match(ran.stderr, /\*\*\*@/, "the URL is shown redacted");
        for (const piece of [...PIECES, PIECES.join("")])
          t.notMatch(ran.stdout + ran.stderr, piece, `no '${piece}' in the output`);
      }
    }
    const logged = await readFile(log, "utf8");
    t.ok(logged.length > 0, "the hook logged its failures");
    for (const piece of [...PIECES, PIECES.join("")])
      t.notMatch(logged, piece, `no '${piece}' in the hook log`);
    t.equal((await stat(log)).mode & 0o777, 0o600, "the hook log is created 0600");
  },
);

const azureUrl = requireTarget("azure", "PITR_TEST_AZURE_URL");
if (azureUrl !== undefined) {
  t.test(
    "an az:// URL with a SAS token: archive and restore work, and the token is in no stub, log or metadata",
    async (t) => {
      const az = await import("@azure/storage-blob");
      const [, account = "", container = ""] = /^az:\/\/([^/]+)\/([^/]+)/.exec(azureUrl) ?? [];
      const key = process.env["AZURE_STORAGE_KEY"]!;
      const sas = az
        .generateBlobSASQueryParameters(
          {
            containerName: container,
            permissions: az.ContainerSASPermissions.parse("racwdl"),
            expiresOn: new Date(Date.now() + 3_600_000),
          },
          new az.StorageSharedKeyCredential(account, key),
        )
        .toString();
      const signature = /sig=([^&]+)/.exec(sas)![1]!;
      const root = await tempDir("sas");
      t.teardown(() => rm(root, { recursive: true, force: true }));
      for (const d of ["commitlog", "restore", "target"]) await mkdir(join(root, d));
      const [f] = await segmentFixtures("v7");
      const path = join(root, "commitlog", f!.name);
      await copyFile(f!.path, path);
      const log = join(root, "hook.log");
      // Only the SAS token grants access: no account key or connection string in the environment.
      const env = cleanEnv({
        CASSANDRA_PITR_ARCHIVE: `az://${account}/${container}/${uniquePrefix()}?${sas}`,
        CASSANDRA_PITR_CLUSTER: "c1",
        CASSANDRA_PITR_NODE: NODE_ID,
        CASSANDRA_PITR_SPOOL_FALLBACK: "false",
        CASSANDRA_PITR_LOG_FILE: log,
        CASSANDRA_PITR_AZURE_ENDPOINT: process.env["CASSANDRA_PITR_AZURE_ENDPOINT"],
        AZURE_STORAGE_KEY: undefined,
        AZURE_STORAGE_CONNECTION_STRING: undefined,
      });
      const archived = await runNode(ARCHIVE_HOOK, [path, f!.name], env);
      t.equal(archived.exitCode, 0, `archived with the SAS token: ${archived.stderr}`);
      const listed = await runNode(CLI, ["segments", "--since", "2020-01-01T00:00:00Z", "--json"], env);
      t.equal(listed.exitCode, 0, "listed");
      const objectKey = (JSON.parse(listed.stdout) as { segments: { key: string }[] }).segments[0]!.key;
      const stubbed = await runNode(CLI, ["stub", objectKey, join(root, "restore")], env);
      t.equal(stubbed.exitCode, 0, `stub written: ${stubbed.stderr}`);
      const stub = await readFile(join(root, "restore", f!.name));
      t.notMatch(stub.toString("latin1"), "sig=", "the stub holds no SAS signature");
      t.notMatch(stub.toString("latin1"), signature, "nor the token's signature in any form");
      t.match(
        stub.toString("latin1"),
        `"archive":"az://${account}/${container}/`,
        "it names the archive without the query",
      );

      const to = join(root, "target", f!.name);
      const restored = await runNode(RESTORE_HOOK, [join(root, "restore", f!.name), to], env);
      t.equal(
        restored.exitCode,
        0,
        `the restore hook fetches with the configured SAS token: ${restored.stderr}`,
      );
      t.equal(
        createHash("sha256")
          .update(await readFile(to))
          .digest("hex"),
        f!.sha256,
        "exact bytes",
      );

      const service = new az.BlobServiceClient(
        process.env["CASSANDRA_PITR_AZURE_ENDPOINT"]!,
        new az.StorageSharedKeyCredential(account, key),
      );
      const props = await service
        .getContainerClient(container)
        .getBlobClient(
          `${/^az:\/\/[^/]+\/[^/]+\/([^?]+)/.exec(env["CASSANDRA_PITR_ARCHIVE"]!)![1]}/${objectKey}`,
        )
        .getProperties();
      t.ok(Object.keys(props.metadata ?? {}).length > 0, "the object carries its metadata");
      t.notMatch(JSON.stringify(props.metadata), signature, "and no SAS token in it");
      for (const text of [
        await readFile(log, "utf8").catch(() => ""),
        archived.stderr,
        stubbed.stdout,
        stubbed.stderr,
        restored.stderr,
      ]) {
        t.notMatch(text, signature, "no SAS signature in the hook log or any output");
      }
      t.same(
        (await readdir(join(root, "target"))).filter((n) => n.includes(".tmp")),
        [],
        "no temporary file",
      );
    },
  );
}
