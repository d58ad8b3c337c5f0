import t from "tap";
import { BadTimeError, formatInstant, formatRestorePoint, parseInstant } from "../../src/restore/time.js";

const now = Date.UTC(2026, 10, 21, 12, 0, 0);
const p = (s: string) => parseInstant(s, { now });
const us = (iso: string, extra = 0n) => BigInt(Date.parse(iso)) * 1000n + extra;

t.test("ISO-8601 with a zone or offset", async (t) => {
  t.equal(p("2026-11-21T08:30:12.123456Z").epochMicros, us("2026-11-21T08:30:12.123Z", 456n));
  t.equal(p("2026-11-21T08:30:12.123456Z").precision, "us");
  t.equal(p("2026-11-21T09:30:12+01:00").epochMicros, us("2026-11-21T08:30:12Z"));
  t.equal(p("2026-11-21T03:30:12.5-05:00").epochMicros, us("2026-11-21T08:30:12.500Z"));
  t.equal(p("2026-11-21T03:30:12.5-05:00").precision, "ms");
  t.equal(p("2026-11-21 08:30:12z").precision, "s");
});

t.test("refusals", async (t) => {
  for (const bad of [
    "2026-11-21T08:30:12",
    "2026-02-30T00:00:00Z",
    "2026-13-01T00:00:00Z",
    "2026-11-21T24:00:00Z",
    "2026-11-21T08:30:12.1234567Z",
    "2026:11:21 08:30:12.12",
    "2026:11:21 08:30:12.1234567",
    "2026:02:30 00:00:00",
    "179525040041",
    "17952504004110",
    "yesterday",
    "now-banana",
  ]) {
    t.throws(() => p(bad), BadTimeError, bad);
  }
  t.throws(() => p("2026-11-21T08:30:12"), { code: "E_BAD_TIME", message: /no zone/ });
  t.throws(() => p("2026-02-30T00:00:00Z"), { message: /no such date/ });
});

t.test("Cassandra's format: 0, 3 or 6 fractional digits, UTC", async (t) => {
  t.equal(p("2026:11:21 08:30:12").epochMicros, us("2026-11-21T08:30:12Z"));
  t.equal(p("2026:11:21 08:30:12.123").epochMicros, us("2026-11-21T08:30:12.123Z"));
  t.equal(p("2026:11:21 08:30:12.123456").epochMicros, us("2026-11-21T08:30:12.123Z", 456n));
});

t.test("epoch numbers and now-relative", async (t) => {
  t.equal(p("1795250400411").epochMicros, 1795250400411000n);
  t.equal(p("1795250400411").precision, "ms");
  t.equal(p("1795250400411123").epochMicros, 1795250400411123n);
  t.equal(p("now").epochMs, now);
  t.equal(p("now-15m").epochMs, now - 15 * 60_000);
  t.equal(p("now - 2h30m").epochMs, now - 9_000_000);
});

t.test("formatting", async (t) => {
  const x = us("2026-11-21T08:30:12.123Z", 456n);
  t.equal(formatInstant(x), "2026-11-21T08:30:12.123456Z");
  t.equal(formatRestorePoint(x, true), "2026:11:21 08:30:12.123456");
  t.equal(formatRestorePoint(x, false), "2026:11:21 08:30:12");
  t.equal(p(formatRestorePoint(x, true)).epochMicros, x, "round trip");
});

t.test("an offset no clock uses is refused with one line naming it", async (t) => {
  for (const bad of [
    "2026-11-21T09:30:12+99:99",
    "2026-11-21T09:30:12+18:01",
    "2026-11-21T09:30:12-0560",
    "2026-11-21T09:30:12+24:00",
  ]) {
    t.throws(() => p(bad), { code: "E_BAD_TIME", message: /is not a UTC offset/ }, bad);
  }
  const err = (() => {
    try {
      p("2026-11-21T09:30:12+99:99");
    } catch (e) {
      return e as Error;
    }
  })();
  t.equal(err?.message.split("\n").length, 1, "one line");
  t.match(err?.message, /\+99:99/, "names the offset");
  t.equal(
    p("2026-11-21T09:30:12+18:00").epochMicros,
    us("2026-11-20T15:30:12Z"),
    "±18:00 is the edge, accepted",
  );
  t.equal(p("2026-11-21T09:30:12+0530").epochMicros, us("2026-11-21T04:00:12Z"), "offsets without a colon");
});

t.test("leap days and month lengths come from the calendar", async (t) => {
  t.equal(p("2028-02-29T00:00:00Z").epochMicros, us("2028-02-29T00:00:00Z"));
  t.throws(() => p("2026-02-29T00:00:00Z"), { message: /no such date/ });
  t.throws(() => p("2026-04-31T00:00:00Z"), { message: /no such date/ });
});
