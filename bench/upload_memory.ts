/**
 * `deno run -A [--v8-flags=...] bench/upload_memory.ts [--size MiB] [--hash-workers N]`: the peak
 * memory of one process storing one large upload through the embedded engine (no network, no
 * client): RSS once the root is open, then `VmHWM` (reset through `clear_refs`) after an upload of
 * `size` MiB of random bytes generated 256 KiB at a time, and its speed; `--hash-workers N` hashes
 * in N workers (default the engine's: none). For finding what an upload holds; the server is shipped
 * with `--v8-flags=--max-semi-space-size=1` (`SERVER_V8_FLAGS`), which this process gets only when
 * given; `deno task bench` measures the real server process (`bench/chunk_scale.ts`).
 *
 * @module
 */
import { taskArgs } from "../cli/flags.ts";
import { EmbeddedStorage } from "../storage/embedded/engine.ts";

const { values } = taskArgs(
  "upload_memory",
  "deno run -A [--v8-flags=...] bench/upload_memory.ts [--size MiB] [--hash-workers N]",
  { size: { type: "string" }, "hash-workers": { type: "string" } },
);
const MiB = 2 ** 20;
const size = Number(values.size ?? 1024) * MiB;
const hashWorkers = values["hash-workers"] === undefined
  ? undefined
  : Number(values["hash-workers"]);

/** VmRSS and VmHWM of this process, and of VmRSS its anonymous memory and mapped files, in MiB. */
function memory(): { rss: number; peak: number; anon: number; file: number } {
  const status = Deno.readTextFileSync("/proc/self/status");
  const field = (name: string) =>
    Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(status)![1]) / 1024;
  return {
    rss: field("VmRSS"),
    peak: field("VmHWM"),
    anon: field("RssAnon"),
    file: field("RssFile"),
  };
}

/** The largest of each part of `Deno.memoryUsage()` seen while uploading, in MiB. */
const largest = { rss: 0, heapTotal: 0, heapUsed: 0, external: 0 };
function sample(): void {
  const usage = Deno.memoryUsage();
  for (const key of Object.keys(largest) as Array<keyof typeof largest>) {
    largest[key] = Math.max(largest[key], usage[key] / MiB);
  }
}

const root = await Deno.makeTempDir({ prefix: "backup-upload-memory-" });
try {
  const { storage } = await EmbeddedStorage.open({ root, pruneIntervalMs: 0, hashWorkers });
  const open = memory();
  const piece = new Uint8Array(256 * 1024);
  Deno.writeTextFileSync("/proc/self/clear_refs", "5");
  const started = performance.now();
  const upload = await storage.beginUpload(1, "large.bin", { size });
  for (let at = 0; at < size; at += piece.length) {
    for (let i = 0; i < piece.length; i += 65_536) {
      crypto.getRandomValues(piece.subarray(i, i + 65_536));
    }
    await upload.write(piece.subarray(0, Math.min(piece.length, size - at)));
    if (at % (16 * MiB) === 0) sample();
  }
  await upload.commit();
  const seconds = (performance.now() - started) / 1000;
  const after = memory();
  await storage.close();
  console.log(
    `open ${open.rss.toFixed(1)} MiB; upload of ${size / MiB} MiB: peak ${after.peak.toFixed(1)} ` +
      `MiB, ${(size / MiB / seconds).toFixed(0)} MiB/s (random bytes generated as it goes); ` +
      `largest seen every 16 MiB: rss ${largest.rss.toFixed(0)}, V8 heap ` +
      `${largest.heapUsed.toFixed(0)} of ${largest.heapTotal.toFixed(0)}, external ` +
      `${largest.external.toFixed(0)} MiB; after it, of ${after.rss.toFixed(0)} MiB resident: ` +
      `${after.anon.toFixed(0)} anonymous, ${after.file.toFixed(0)} mapped files (the deno ` +
      `executable's pages, most of it)`,
  );
} finally {
  await Deno.remove(root, { recursive: true });
}
