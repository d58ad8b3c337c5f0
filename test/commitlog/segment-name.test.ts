import t from "tap";
import { SegmentNameError } from "../../src/commitlog/errors.js";
import { isSegmentName, parseSegmentName, segmentFileName } from "../../src/commitlog/segment-name.js";

t.test("parses CommitLog-<version>-<id>.log", async (t) => {
  t.same(parseSegmentName("CommitLog-7-1795250286318.log"), { version: 7, id: 1795250286318n });
  t.same(parseSegmentName("CommitLog-9-9223372036854775807.log"), { version: 9, id: 9223372036854775807n });
  t.equal(segmentFileName(8, 1795250314892n), "CommitLog-8-1795250314892.log");
  t.ok(isSegmentName("CommitLog-6-1.log"));
});

t.test("rejects other names", async (t) => {
  const cases: [string, RegExp][] = [
    ["CommitLog-1795250286318.log", /legacy segment name/],
    ["CommitLog-7-1795250286318_cdc.idx", /cdc index file/],
    ["CommitLog-7-1795250286318-CDC.idx", /cdc index file/],
    ["CommitLog-7-1795250286318.log.tmp", /not a commit log segment name/],
    [".CommitLog-7-1.log", /not a commit log segment name/],
    ["CommitLog-7-9223372036854775808.log", /out of range/],
    ["CommitLog-2147483648-1.log", /out of range/],
  ];
  for (const [name, message] of cases) {
    t.notOk(isSegmentName(name), name);
    const err = t.throws(() => parseSegmentName(name)) as SegmentNameError;
    t.ok(err instanceof SegmentNameError);
    t.equal(err.code, "E_SEGMENT_NAME");
    t.equal(err.offset, 0);
    t.equal(err.segment, name);
    t.match(err.message, message);
    t.match(err.message, `segment "${name}"`);
  }
});

t.test("segmentFileName validates", async (t) => {
  t.throws(() => segmentFileName(-1, 1n), RangeError);
  t.throws(() => segmentFileName(1.5, 1n), RangeError);
  t.throws(() => segmentFileName(7, -1n), RangeError);
  t.throws(() => segmentFileName(7, 1n << 63n), RangeError);
  t.throws(() => segmentFileName(2 ** 31, 1n), RangeError);
});
