/**
 * The race of issue 21's "Done means": a backup racing a prune loses nothing, across two servers
 * on one bucket (two engines in this process, each with its own client, caches, pins and view).
 * Server B stores a file and replaces it (keepDays 0: the old version expires at once), then prunes,
 * in a loop; server A meanwhile backs up copies of B's expiring files (some with a new tail), so
 * its uploads deduplicate against packs that B is about to doom or sweep, some of them slowly
 * enough to need a pin, and a second loop of A's stores, over 16 s (longer than 2G), copies of files
 * it stored and expired just before: only A's pin keeps the packs it reused from being swept; A prunes now and then too (the two
 * contend for the lock). After both
 * stop, B prunes for 2G more, and a third engine with cold caches reads every version A
 * acknowledged, byte for byte.
 *
 * `S3_GC_RACE_BREAK=noview` (A never refreshes its tombstone view), `=nopins` (A never puts a
 * pin) or `=grace0` (B's G set to 0) breaks a safety rule on purpose: the test should then fail. `S3_GC_RACE_MS` sets the race's length.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import type { ChunkGcReport, S3GcOptions } from "../../storage/s3/options.ts";
import type { S3Storage } from "../../storage/s3/engine.ts";
import { openS3, readWhole, store } from "./_s3_storage.ts";
import { randomBytes } from "./_chunked.ts";
import { chunkRecordsOf, FAST_GC, packsNamedBy, packsOf, recording } from "./_gc.ts";

// The client's keep-alive sockets outlive a test by design: only ops are checked.
Deno.test.sanitizer({ ops: true, resources: false });

const KiB = 1024;
const MiB = 1024 * KiB;
const USER = 3;
const RACE_MS = Number(Deno.env.get("S3_GC_RACE_MS") ?? 30_000);
const BREAK = Deno.env.get("S3_GC_RACE_BREAK") ?? "";
const ROUNDS = 200;

const gcB: S3GcOptions = BREAK === "grace0" ? { ...FAST_GC, graceMs: 0 } : FAST_GC;
const gcA: S3GcOptions = BREAK === "noview"
  ? { ...FAST_GC, viewMaxAgeMs: 3_600_000, viewRefreshMs: 3_600_000, viewDropAfterMs: 7_200_000 }
  : BREAK === "nopins"
  ? { ...FAST_GC, pinIntervalMs: 3_600_000 }
  : FAST_GC;

/** Stores `bytes` through `storage` in four writes, awaiting `pause()` between them. */
async function slowStore(
  storage: S3Storage,
  name: string,
  bytes: Uint8Array,
  pause: () => Promise<void>,
) {
  const upload = await storage.beginUpload(USER, name, { size: bytes.length, mtimeMs: 1000 });
  try {
    const step = Math.ceil(bytes.length / 4);
    for (let at = 0; at < bytes.length; at += step) {
      await upload.write(bytes.subarray(at, at + step));
      await pause();
    }
    return await upload.commit();
  } catch (error) {
    await upload.abort();
    throw error;
  }
}

Deno.test("s3 gc race: backups deduplicating against versions another server keeps expiring and pruning lose nothing", async () => {
  const reportsB: ChunkGcReport[] = [];
  const common = { chunkFiles: true, retention: { keepDays: 0 }, dedupRefreshMs: 0 };
  await using b = await openS3({ ...common, gc: recording(reportsB, gcB) });
  await using a = await openS3({ ...common, gc: gcA }, b.prefix);
  const pool: Uint8Array[] = [];
  const acked: { name: string; bytes: Uint8Array }[] = [];
  const refused: string[] = [];
  let hits = 0;
  let longHits = 0;
  const deadline = Date.now() + RACE_MS;
  const racing = () => Date.now() < deadline;

  const storeInB = async () => {
    const bytes = randomBytes(1536 * KiB);
    await store(b.storage, USER, "b.img", bytes);
    pool.push(bytes);
    // Small enough to be inline: the chunked version before it expires at B's next prune.
    await store(b.storage, USER, "b.img", randomBytes(100 * KiB));
  };
  await storeInB();

  const bLoop = (async () => {
    for (let round = 0; round < ROUNDS && racing(); round++) {
      await b.storage.prune();
      await storeInB();
    }
  })();

  const aLoop = (async () => {
    for (let n = 0; n < ROUNDS && racing(); n++) {
      // B's newest file (the one B expires next), one of its last dozen, or any: some packs are
      // young, some about to be doomed, some doomed, some swept long ago.
      const pick = Math.random();
      const back = pick < 1 / 3
        ? 0
        : pick < 2 / 3
        ? Math.random() * 12
        : Math.random() * pool.length;
      const from = pool[Math.max(0, pool.length - 1 - Math.floor(back))];
      const bytes = n % 3 === 2 ? Buffer.concat([from, randomBytes(300 * KiB)]) : from;
      const name = `a${n}.img`;
      const before = await packsOf(a.client, a.prefix, USER);
      // Up to 4 × 400 ms: some uploads outlive the pin interval (1 s) and put a pin.
      const pause = () => new Promise<void>((resolve) => setTimeout(resolve, Math.random() * 400));
      try {
        await slowStore(a.storage, name, bytes, pause);
      } catch (error) {
        refused.push(`${name}: ${error}`);
        continue;
      }
      acked.push({ name, bytes });
      const [record] = await chunkRecordsOf(a.client, a.prefix, USER, name);
      if ((await packsNamedBy(a.client, record, USER)).some((pack) => before.has(pack))) hits++;
      if (n % 4 === 3) await a.storage.prune();
    }
  })();
  const longLoop = (async () => {
    for (let n = 0; n < ROUNDS && racing(); n++) {
      const name = `long${n}.img`;
      // A file that nothing else names, expired at once (keepDays 0), whose chunks A's cache
      // holds (its own upload's: B's consolidated index drops unreferenced chunks): A
      // deduplicates against them, and only A's pin protects their packs from B's GC.
      const bytes = randomBytes(6 * MiB);
      await store(a.storage, USER, `src${n}.img`, bytes);
      await store(a.storage, USER, `src${n}.img`, randomBytes(100 * KiB));
      const before = await packsOf(a.client, a.prefix, USER);
      // The chunk writer decides on a chunk 4 chunks behind the bytes: 5 MiB at once decides on
      // most of them now; the rest comes over 16 s, longer than 2G.
      let at = 5 * MiB;
      const pause = () => {
        at += 256 * KiB;
        return new Promise<void>((resolve) => setTimeout(resolve, 4000));
      };
      try {
        const upload = await a.storage.beginUpload(USER, name, { size: bytes.length });
        try {
          await upload.write(bytes.subarray(0, at));
          for (let i = 0; i < 4; i++) {
            const from = at;
            await pause();
            await upload.write(bytes.subarray(from, at));
          }
          await upload.write(bytes.subarray(at));
          await upload.commit();
        } catch (error) {
          await upload.abort();
          throw error;
        }
      } catch (error) {
        refused.push(`${name}: ${error}`);
        continue;
      }
      acked.push({ name, bytes });
      const [record] = await chunkRecordsOf(a.client, a.prefix, USER, name);
      if ((await packsNamedBy(a.client, record, USER)).some((pack) => before.has(pack))) longHits++;
    }
  })();
  await Promise.all([aLoop, bLoop, longLoop]);

  // Past 2G of B's pruning, whatever was doomed during the race has been swept.
  const tailEnd = Date.now() + 2 * (FAST_GC.graceMs ?? 0) + 3000;
  while (Date.now() < tailEnd) await b.storage.prune();

  await using c = await openS3({ chunkFiles: true, gc: FAST_GC }, b.prefix);
  const packs = await packsOf(c.client, c.prefix, USER);
  const lost: string[] = [];
  for (const { name, bytes } of acked) {
    const [record] = await chunkRecordsOf(c.client, c.prefix, USER, name);
    const missing = (await packsNamedBy(c.client, record, USER)).filter((p) => !packs.has(p));
    if (missing.length > 0) {
      lost.push(`${name} (packs gone: ${missing.join(", ")})`);
      continue;
    }
    const read = await readWhole(c.storage, USER, name).catch((error) => error as Error);
    if (!(read instanceof Uint8Array) || !Buffer.from(read).equals(bytes)) {
      lost.push(`${name} (${read instanceof Error ? read.message : "other bytes"})`);
    }
  }
  const totals = reportsB.reduce(
    (sum, r) => ({
      runs: sum.runs + 1,
      doomed: sum.doomed + r.doomedPacks,
      deleted: sum.deleted + r.deletedPacks,
    }),
    { runs: 0, doomed: 0, deleted: 0 },
  );
  const summary = `${acked.length} acknowledged (${hits} + ${longHits} long ones deduplicated ` +
    `against older packs), ` +
    `${refused.length} refused, B's GC: ${JSON.stringify(totals)}`;
  console.log(summary);
  assert.deepEqual(lost, [], `lost ${lost.length} of ${acked.length}: ${summary}`);
  assert.ok(acked.length >= 10, summary);
  assert.ok(hits >= 5 && longHits >= 1, `A deduplicated against B's packs: ${summary}`);
  assert.ok(totals.doomed > 0 && totals.deleted > 0, `B doomed and deleted packs: ${summary}`);
  assert.ok(refused.length <= acked.length / 4, `few uploads refused: ${refused.join("; ")}`);
});
