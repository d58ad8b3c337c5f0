/** The worker thread of the fetch phase: runs segment jobs (segment-work.ts) as the main thread sends them. */
import { parentPort } from "node:worker_threads";
import { runSegmentJob, type SegmentJob } from "./segment-work.js";

parentPort?.on("message", (job: SegmentJob) => {
  void runSegmentJob(job).then((done) => parentPort?.postMessage(done));
});
