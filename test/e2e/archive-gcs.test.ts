import t from "tap";
import { requireTarget, uniquePrefix } from "../storage/conformance.js";
import { archiveScenario } from "./archive-scenario.js";

const url = requireTarget("gcs", "PITR_TEST_GCS_URL");
if (url !== undefined) {
  t.test("real Cassandra archives through the hook into gcs", (t) =>
    archiveScenario(t, "gcs", `${url}/e2e-${uniquePrefix()}`, {}),
  );
}
