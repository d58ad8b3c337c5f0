import t from "tap";
import { requireTarget, uniquePrefix } from "../storage/conformance.js";
import { archiveScenario } from "./archive-scenario.js";

const url = requireTarget("azure", "PITR_TEST_AZURE_URL");
if (url !== undefined) {
  t.test("real Cassandra archives through the hook into azure", (t) =>
    archiveScenario(t, "azure", `${url}/e2e-${uniquePrefix()}`, {}),
  );
}
