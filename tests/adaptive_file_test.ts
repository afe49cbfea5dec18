import assert from "node:assert/strict";
import { AdaptiveFile, DEFAULT_POLICY, type FileCalls } from "../io/adaptive_file.ts";
import { readFull } from "../io/relay.ts";
import { writeAll } from "../io/byte_stream.ts";

Deno.test.sanitizer({ ops: true, resources: true });

/**
 * A real temp file whose synchronous calls take as long as `delayMs` says for the n-th call (the
 * disk's time, simulated by holding the thread), counting which form each call took.
 */
async function timedFile(delayMs: (call: number) => number) {
  const path = await Deno.makeTempFile({ prefix: "backup-test-adaptive-" });
  const file = await Deno.open(path, { read: true, write: true });
  const counts = { inline: 0, pool: 0 };
  const hold = () => {
    const until = performance.now() + delayMs(counts.inline + counts.pool);
    while (performance.now() < until) { /* the disk is busy */ }
  };
  const calls: FileCalls = {
    readSync: (buffer) => (hold(), counts.inline++, file.readSync(buffer)),
    writeSync: (bytes) => (hold(), counts.inline++, file.writeSync(bytes)),
    read: (buffer) => (counts.pool++, file.read(buffer)),
    write: (bytes) => (counts.pool++, file.write(bytes)),
  };
  return {
    calls,
    counts,
    file,
    async [Symbol.asyncDispose]() {
      try {
        file.close();
      } catch {
        // the test closed it
      }
      await Deno.remove(path);
    },
  };
}

const chunk = (n: number) => new Uint8Array(1024).fill(n);

Deno.test("calls answered at memory speed stay on the event loop, and bytes round-trip", async () => {
  await using t = await timedFile(() => 0);
  const adaptive = new AdaptiveFile(t.calls);
  for (let n = 0; n < 100; n++) await writeAll(adaptive, chunk(n));
  t.file.seekSync(0, Deno.SeekMode.Start);
  const back = new Uint8Array(100 * 1024);
  assert.equal(await readFull(adaptive, back), back.length);
  for (let n = 0; n < 100; n++) assert.equal(back[n * 1024 + 512], n);
  assert.equal(await adaptive.read(new Uint8Array(1)), null);
  assert.equal(t.counts.pool, 0);
  assert.ok(adaptive.inline);
});

Deno.test("one call that stalls the event loop moves the file to the thread pool", async () => {
  await using t = await timedFile((call) => call === 3 ? DEFAULT_POLICY.stallMs + 5 : 0);
  const adaptive = new AdaptiveFile(t.calls);
  for (let n = 0; n < 10; n++) await writeAll(adaptive, chunk(n));
  assert.deepEqual(t.counts, { inline: 4, pool: 6 });
  assert.equal(adaptive.inline, false);
  t.file.seekSync(0, Deno.SeekMode.Start);
  const back = new Uint8Array(10 * 1024);
  assert.equal(await readFull(adaptive, back), back.length);
  assert.equal(back[9 * 1024], 9);
});

Deno.test("every call slow (a cold file on a slow disk) moves it after the allowance", async () => {
  await using t = await timedFile(() => DEFAULT_POLICY.slowMs + 1);
  let moves = 0;
  const adaptive = new AdaptiveFile(t.calls, DEFAULT_POLICY, () => moves++);
  for (let n = 0; n < 20; n++) await writeAll(adaptive, chunk(n));
  assert.equal(t.counts.inline, DEFAULT_POLICY.slowAllowance + 1);
  assert.equal(adaptive.inline, false);
  assert.equal(moves, 1, "reported once");
});

Deno.test("a few slow calls among many (a background flush) keep the file inline", async () => {
  await using t = await timedFile((call) => call % 40 === 39 ? DEFAULT_POLICY.slowMs + 1 : 0);
  let moves = 0;
  const adaptive = new AdaptiveFile(t.calls, DEFAULT_POLICY, () => moves++);
  for (let n = 0; n < 400; n++) await writeAll(adaptive, chunk(n));
  assert.deepEqual(t.counts, { inline: 400, pool: 0 });
  assert.equal(moves, 0);
});

Deno.test("a failing synchronous call rejects instead of throwing", async () => {
  await using t = await timedFile(() => 0);
  t.file.close();
  const adaptive = new AdaptiveFile(t.calls);
  const pending = adaptive.read(new Uint8Array(8));
  assert.ok(pending instanceof Promise);
  await assert.rejects(pending, Deno.errors.BadResource);
});
