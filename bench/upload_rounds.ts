/**
 * `deno run -A bench/upload_rounds.ts [CHECKOUT] [N]`: peak RSS of one process storing 40 rounds of
 * N uploads of 3 MiB at once through the embedded engine with a hashing worker (no network): what
 * many concurrent uploads cost in memory (rings, the worker's heap). CHECKOUT (default: this one)
 * is the folder whose code runs, e.g. a `git worktree` of an earlier commit, to compare in one run.
 *
 * @module
 */
const base = Deno.args[0] ?? new URL("..", import.meta.url).pathname;
const uploads = Number(Deno.args[1] ?? 4);
const SIZE = 3 * 2 ** 20;
const ROUNDS = 40;
const { openTempStorage, seededBytes } = await import(`${base}/tests/_repository.ts`);
await using t = await openTempStorage({ hashWorkers: 1 });
const data: Uint8Array = seededBytes(9, SIZE);
let peak = 0;
const timer = setInterval(() => peak = Math.max(peak, Deno.memoryUsage().rss), 5);
for (let round = 0; round < ROUNDS; round++) {
  await Promise.all(Array.from({ length: uploads }, async (_, i) => {
    const upload = await t.storage.beginUpload(1, `f${round}-${i}`, { size: SIZE });
    for (let at = 0; at < SIZE; at += 65536) {
      const bytes = data.slice(at, at + 65536);
      bytes[0] = i; // every upload its own bytes: nothing deduplicates
      bytes[1] = round;
      await upload.write(bytes);
    }
    await upload.commit();
  }));
}
clearInterval(timer);
console.log(
  `${base}: ${ROUNDS} rounds of ${uploads} x 3 MiB at once: peak RSS ${
    (peak / 2 ** 20).toFixed(0)
  } MiB`,
);
