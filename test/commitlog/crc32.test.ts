import t from "tap";
import { crc32, crc32Int, crc32Table } from "../../src/commitlog/crc32.js";

const text = (s: string) => new TextEncoder().encode(s);

t.test("known vectors (java.util.zip.CRC32)", async (t) => {
  t.equal(crc32(text("")), 0);
  t.equal(crc32(text("123456789")), 0xcbf43926);
  t.equal(crc32(text("The quick brown fox jumps over the lazy dog")), 0x414fa339);
  t.equal(crc32(new Uint8Array(32)), 0x190a55ad);
  t.equal(crc32Table(text("123456789")), 0xcbf43926);
  t.equal(crc32Table(text("The quick brown fox jumps over the lazy dog")), 0x414fa339);
});

t.test("continuing a running CRC equals one pass", async (t) => {
  t.equal(crc32(text("56789"), crc32(text("1234"))), 0xcbf43926);
  t.equal(crc32Table(text("56789"), crc32Table(text("1234"))), 0xcbf43926);
});

t.test("crc32Int hashes the 4 big-endian bytes (updateChecksumInt)", async (t) => {
  t.equal(crc32Int(0x01020304), crc32(Uint8Array.of(1, 2, 3, 4)));
  t.equal(crc32Int(-1), crc32(Uint8Array.of(255, 255, 255, 255)));
  t.equal(crc32Int(7, crc32Int(1)), crc32(Uint8Array.of(0, 0, 0, 1, 0, 0, 0, 7)));
});
