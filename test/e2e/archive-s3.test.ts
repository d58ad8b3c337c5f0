import t from "tap";
import { requireTarget, uniquePrefix } from "../storage/conformance.js";
import { archiveScenario } from "./archive-scenario.js";

const url = requireTarget("s3", "PITR_TEST_S3_URL");
if (url !== undefined) {
  t.test("real Cassandra archives through the hook into s3", (t) =>
    archiveScenario(t, "s3", `${url}/e2e-${uniquePrefix()}`, {}),
  );
}
