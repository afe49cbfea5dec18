/**
 * The prune lock (storage/s3/gc_lock.ts) on a real S3 engine, with its durations shrunk to
 * fractions of a second: contenders of two servers never hold it together, a dead server's lock is
 * taken over once stale by the store's clock, and a holder that cannot refresh stops before another
 * can take over.
 */
import assert from "node:assert/strict";
import { S3Client, S3Error } from "../../objects/s3/s3_client.ts";
import { freshPrefix, testLocation } from "../../harness/s3_location.ts";
import {
  type GcLock,
  GcLockLostError,
  type GcLockOptions,
  tryLock,
} from "../../storage/s3/gc_lock.ts";
import { lockPrefix } from "../../storage/s3/gc_objects.ts";
import { systemClock } from "../../storage/s3/gc_clock.ts";

// The client's keep-alive sockets outlive a test by design: only ops are checked.
Deno.test.sanitizer({ ops: true, resources: false });

/** Short durations: refresh < refreshable < stale, as the defaults (60 s, 120 s, 180 s) are. */
const SHORT = { settleMs: 100, refreshMs: 300, refreshableMs: 700, staleMs: 2000 };
/** For 20 contenders at once on 2 cores, where a request can take a second. */
const STORM = { settleMs: 100, refreshMs: 300, refreshableMs: 2000, staleMs: 4000 };

async function bucket(): Promise<{ client: S3Client; prefix: string } & AsyncDisposable> {
  const client = new S3Client(testLocation());
  // A store just started may answer 503 to the first bucket creation.
  await client.ensureBucket().catch(() => systemClock.sleep(500).then(() => client.ensureBucket()));
  const prefix = freshPrefix();
  return {
    client,
    prefix,
    async [Symbol.asyncDispose]() {
      for await (const page of client.list(prefix)) {
        await Promise.all(page.map(({ key }) => client.delete(key)));
      }
    },
  };
}

async function lockKeys(client: S3Client, prefix: string) {
  const keys: { key: string; lastModifiedMs: number }[] = [];
  for await (const page of client.list(lockPrefix(prefix))) keys.push(...page);
  return keys;
}

/** Tries every `everyMs` (plus jitter) until the lock is taken or `withinMs` is over. */
async function lockWithin(options: GcLockOptions, withinMs: number, everyMs = 150) {
  const deadline = performance.now() + withinMs;
  while (performance.now() < deadline) {
    const lock = await tryLock(options);
    if (lock) return lock;
    await systemClock.sleep(everyMs + Math.random() * everyMs);
  }
  return undefined;
}

Deno.test("s3 gc lock: of 2 x 20 contenders at once, never two hold it; it goes round", async () => {
  await using b = await bucket();
  // Two servers (each its own client and connections), twenty contenders on each.
  const servers = [new S3Client(testLocation()), new S3Client(testLocation())];
  let holding = 0;
  let mostAtOnce = 0;
  let refused = 0;
  let lost = 0;
  const contender = async (server: number, n: number, deadline: number) => {
    // Tries until it has held the lock once, a bounded number of times and until the deadline.
    for (let attempt = 0; attempt < 40 && performance.now() < deadline; attempt++) {
      let lock: GcLock | undefined;
      try {
        lock = await tryLock({
          client: servers[server],
          prefix: b.prefix,
          owner: `server-${server}-${n}`,
          ...STORM,
        });
      } catch (error) {
        // A store busy with the storm may refuse (503 after the client's retries): a lost turn.
        if (!(error instanceof S3Error)) throw error;
        refused++;
      }
      if (!lock) {
        // Exponential backoff with full jitter, as contenders that collided should.
        await systemClock.sleep(Math.random() * 100 * 2 ** Math.min(attempt, 7));
        continue;
      }
      holding++;
      mostAtOnce = Math.max(mostAtOnce, holding);
      try {
        // Hold across refreshes, checking before each "destructive step".
        for (let step = 0; step < 4; step++) {
          lock.ensureHeld();
          await systemClock.sleep(100);
        }
      } catch (error) {
        // A refresh slowed down by the storm: the holder stops, as it must.
        if (!(error instanceof GcLockLostError)) throw error;
        lost++;
      } finally {
        holding--;
      }
      await lock.release();
      return true;
    }
    return false;
  };
  const started = performance.now();
  const held = await Promise.all(
    Array.from({ length: 40 }, (_, n) => contender(n % 2, n, started + 45_000)),
  );
  const turns = held.filter(Boolean).length;
  const seconds = (performance.now() - started) / 1000;
  console.log(`${turns} of 40 contenders held the lock in turn in ${seconds.toFixed(1)} s`);
  console.log(`attempts refused by the store: ${refused}; holders that lost the lock: ${lost}`);
  assert.equal(mostAtOnce, 1, "never two holders at once");
  assert.ok(turns >= 10, `the lock went round (${turns} turns)`);
  assert.deepEqual(await lockKeys(b.client, b.prefix), [], "every contender deleted its object");
});

Deno.test("s3 gc lock: a dead server's lock is taken over once stale by the store's clock", async () => {
  await using b = await bucket();
  const deadKey = `${lockPrefix(b.prefix)}0123456789abcdef`;
  await b.client.put(deadKey, new TextEncoder().encode('{"owner":"dead"}'));
  const [planted] = await lockKeys(b.client, b.prefix);
  const options = { client: b.client, prefix: b.prefix, owner: "live", ...SHORT };
  assert.equal(await tryLock(options), undefined, "a fresh lock of another is respected");
  const lock = await lockWithin(options, 10_000);
  assert.ok(lock, "taken over within 10 s");
  await using _ = lock;
  // storeTimeMs is the listing's Date minus 1 s (store_clock_test.ts: Date is rounded down and
  // LastModified up, so this age is never more than the real one).
  const ageAtTakeover = lock.storeTimeMs + 1000 - planted.lastModifiedMs;
  assert.ok(ageAtTakeover >= SHORT.staleMs, `stale by the store's clock (${ageAtTakeover} ms)`);
  const keys = (await lockKeys(b.client, b.prefix)).map(({ key }) => key);
  assert.deepEqual(keys, [lock.key], "the dead lock's object was deleted");
});

Deno.test("s3 gc lock: a holder whose refresh fails stops before its next step, before another takes over", async () => {
  await using b = await bucket();
  let failPuts = false;
  const failing = {
    put: (key: string, body: Uint8Array) =>
      failPuts
        ? Promise.reject(new S3Error(0, "", `PutObject ${key}: cut off`))
        : b.client.put(key, body),
    get: (key: string) => b.client.get(key),
    delete: (key: string) => b.client.delete(key),
    list: (prefix: string) => b.client.list(prefix),
  };
  const refreshErrors: unknown[] = [];
  const holder = await tryLock({
    client: failing,
    prefix: b.prefix,
    owner: "holder",
    ...SHORT,
    onRefreshError: (error) => refreshErrors.push(error),
  });
  assert.ok(holder);
  failPuts = true;
  const cutAt = performance.now();
  let lastStepAt = cutAt;
  let steps = 0;
  await assert.rejects(
    async () => {
      for (const deadline = cutAt + 10_000; performance.now() < deadline;) {
        holder.ensureHeld();
        lastStepAt = performance.now();
        steps++;
        await systemClock.sleep(20);
      }
    },
    GcLockLostError,
  );
  const stoppedAfterMs = lastStepAt - cutAt;
  assert.ok(refreshErrors.length >= 1, "the failed refreshes were reported");
  assert.ok(
    stoppedAfterMs <= SHORT.refreshableMs + 100,
    `no step past refreshableMs after the last refresh (${stoppedAfterMs.toFixed(0)} ms)`,
  );
  // Another server takes over only once the holder's object is stale, after its last step.
  const next = await lockWithin(
    { client: b.client, prefix: b.prefix, owner: "next", ...SHORT },
    10_000,
  );
  assert.ok(next, "taken over within 10 s");
  await using _ = next;
  const tookOverAfterMs = performance.now() - cutAt;
  assert.ok(
    tookOverAfterMs > stoppedAfterMs,
    `taken over at ${tookOverAfterMs.toFixed(0)} ms, after the holder's last step at ${
      stoppedAfterMs.toFixed(0)
    } ms`,
  );
  console.log(
    `${steps} steps, holder stopped at +${stoppedAfterMs.toFixed(0)} ms, taken over at +${
      tookOverAfterMs.toFixed(0)
    } ms`,
  );
  await (holder as GcLock).release();
});
