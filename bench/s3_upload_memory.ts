/**
 * `bash tools/s3_engine.sh run -- deno run -A [--v8-flags=...] bench/s3_upload_memory.ts
 * [PUTS_IN_FLIGHT] [PACK_MIB] [off]`: the peak RSS of one process storing 1 GiB of random bytes
 * through the S3 backend (no network but the store's, no client), with chunks in packs (`off`:
 * whole files, multipart), and its speed. For finding what an S3 upload holds; `deno task bench
 * --storage s3` measures the real server process.
 *
 * @module
 */
import { S3Storage } from "../storage/s3/engine.ts";
import { freshPrefix, testLocation } from "../harness/s3_location.ts";

const MiB = 2 ** 20;
const putsInFlight = Number(Deno.args[0] ?? 3);
const packBytes = Number(Deno.args[1] ?? 8) * MiB;
const chunkFiles = Deno.args[2] !== "off";
const SIZE = 1024 * MiB;
const { storage } = await S3Storage.open({
  location: testLocation(),
  prefix: freshPrefix(),
  serverTag: "s3-upload-memory",
  pruneIntervalMs: 0,
  chunkFiles,
  packPutsInFlight: putsInFlight,
  packTargetBytes: packBytes,
});
const idle = Deno.memoryUsage().rss;
let peak = 0;
const timer = setInterval(() => peak = Math.max(peak, Deno.memoryUsage().rss), 5);
const piece = new Uint8Array(MiB);
const started = performance.now();
const upload = await storage.beginUpload(1, "big", { size: SIZE });
for (let at = 0; at < SIZE; at += piece.length) {
  for (let i = 0; i < piece.length; i += 65536) {
    crypto.getRandomValues(piece.subarray(i, i + 65536));
  }
  await upload.write(piece.slice()); // the server hands storage a buffer of its own each time
}
await upload.commit();
const seconds = (performance.now() - started) / 1000;
clearInterval(timer);
console.log(
  `${
    chunkFiles
      ? `chunks, ${putsInFlight} PUTs in flight, packs of ${packBytes / MiB} MiB`
      : "whole file"
  }: ` +
    `RSS idle ${(idle / MiB).toFixed(0)} MiB, peak ${(peak / MiB).toFixed(0)} MiB, ` +
    `${(1024 / seconds).toFixed(0)} MiB/s`,
);
await storage.close();
