/**
 * The single-replica guard against a real node whose CQL logins are on (PasswordAuthenticator): the
 * guard reads the ring with the configured user and password, says which setting is missing when it
 * has none, and never counts a refused login as "no other node is up".
 */
import t from "tap";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { exitStatusFor } from "../../src/errors/codes.js";
import { checkReplicaGuard, loadCqlCredentials, readRing } from "../../src/restore/replica-guard.js";
import { CassandraNode, waitFor } from "../helpers/cassandra.js";

// Another node's host id: the node started here plays the live peer of the node being restored.
const SELF = "4bed7783-0a40-4784-8f47-3faf21649038";

t.test("replica guard on a ring with CQL logins on", async (t) => {
  const node = await CassandraNode.create("guard-auth", {
    authenticator: "PasswordAuthenticator",
    jvmOpts: ["-Dcassandra.superuser_setup_delay_ms=0"],
  });
  t.teardown(() => node.destroy());
  await node.start();
  const dir = await mkdtemp(join(tmpdir(), "pitr-guard-auth-"));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const passwordFile = join(dir, "cql-password");
  await writeFile(passwordFile, "cassandra\n", { mode: 0o600 });
  const credentials = await loadCqlCredentials(
    { cqlUsername: "cassandra", cqlPasswordFile: passwordFile, cqlPasswordEnv: undefined },
    {},
  );
  t.same(
    credentials,
    { username: "cassandra", password: "cassandra" },
    "the password file's trailing newline is not part of the password",
  );
  // The default role is created shortly after start-up.
  await waitFor(
    "the default role cassandra",
    () =>
      readRing([node.address], node.nativePort, undefined, credentials).then(
        () => true,
        () => false,
      ),
    120_000,
  );

  const view = await readRing([node.address], node.nativePort, undefined, credentials);
  const hostId = await node.hostId();
  t.ok(
    view.nodes.some((n) => n.hostId === hostId && n.up),
    "with the credentials the ring is read, and the node is up",
  );
  t.ok(
    view.keyspaces.some((k) => k.name === "system_auth"),
    "and its keyspaces are listed",
  );

  const guard = (c: typeof credentials) =>
    checkReplicaGuard({
      cassandraConf: node.confDir,
      self: SELF,
      scope: { kind: "node" },
      replicaLost: false,
      ringFrom: [node.address],
      archivedNodes: async () => [],
      credentials: c,
    });
  const lines = await guard(credentials);
  t.match(
    lines[0],
    /1 node\(s\), 1 other\(s\) up; a per-node restore is safe here: every keyspace restored has one replica/,
    "logged in: the guard decides on the real ring",
  );

  for (const [what, c] of [
    ["no credentials", undefined],
    ["a wrong password", { username: "cassandra", password: "wrong" }],
  ] as const) {
    const err = (await guard(c).then(
      () => undefined,
      (e: unknown) => e,
    )) as (Error & { code: string; hint: string }) | undefined;
    t.ok(err, `${what}: refused`);
    t.equal(err?.code, "E_REPLICAS_LIVE", `${what}: E_REPLICAS_LIVE`);
    t.equal(exitStatusFor(err?.code ?? ""), 17, `${what}: exit 17`);
    t.match(
      err?.message,
      /the ring refused the CQL login/,
      `${what}: says the login was refused, not that no node answered`,
    );
    t.match(err?.hint, /cqlUsername and cqlPasswordFile/, `${what}: the hint names the settings`);
  }
});

t.test("CQL credential settings: refused clearly when incomplete", async (t) => {
  const none = await loadCqlCredentials(
    { cqlUsername: undefined, cqlPasswordFile: undefined, cqlPasswordEnv: undefined },
    {},
  );
  t.equal(none, undefined, "no user: no credentials");
  const cases: [string, Parameters<typeof loadCqlCredentials>[0], NodeJS.ProcessEnv, RegExp][] = [
    [
      "a user without a password",
      { cqlUsername: "ops", cqlPasswordFile: undefined, cqlPasswordEnv: undefined },
      {},
      /no password/,
    ],
    [
      "a password without a user",
      { cqlUsername: undefined, cqlPasswordFile: "/x", cqlPasswordEnv: undefined },
      {},
      /no cqlUsername/,
    ],
    [
      "a missing password file",
      { cqlUsername: "ops", cqlPasswordFile: "/nonexistent/pw", cqlPasswordEnv: undefined },
      {},
      /cannot read the CQL password file '\/nonexistent\/pw': ENOENT/,
    ],
    [
      "an unset variable",
      { cqlUsername: "ops", cqlPasswordFile: undefined, cqlPasswordEnv: "OPS_PW" },
      {},
      /OPS_PW \(cqlPasswordEnv\) is not set/,
    ],
  ];
  for (const [what, settings, env, message] of cases) {
    const err = (await loadCqlCredentials(settings, env).then(
      () => undefined,
      (e: unknown) => e,
    )) as (Error & { code: string }) | undefined;
    t.equal(err?.code, "E_CONFIG", `${what}: a configuration error`);
    t.match(err?.message, message, `${what}: says what is missing`);
  }
  t.same(
    await loadCqlCredentials(
      { cqlUsername: "ops", cqlPasswordFile: undefined, cqlPasswordEnv: "OPS_PW" },
      { OPS_PW: "s3cret" },
    ),
    { username: "ops", password: "s3cret" },
    "from the environment",
  );
});
