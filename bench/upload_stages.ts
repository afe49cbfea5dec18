/**
 * `deno run -A bench/upload_stages.ts [--size MiB]`: what each stage of a chunked upload costs on
 * its own, on this machine, over `size` MiB of random bytes (a 64 MiB buffer read round and round):
 * the whole file's SHA-256, the gear scan (`Chunker.push`), a chunk's SHA-256, the copy into the
 * upload's ring, the noise test and zstd sample (`encodeBlob` of random chunks), and a durable file
 * write. Best of 3 each, in MiB/s of the stream. For finding where an upload's time goes: the
 * stages add up (in time per MiB) to the event loop's and the hashing worker's work.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { Chunker } from "../chunking/fastcdc.ts";
import { encodeBlob } from "../repository/blob_codec.ts";
import { taskArgs } from "../cli/flags.ts";

const { values } = taskArgs("upload_stages", "deno run -A bench/upload_stages.ts [--size MiB]", {
  size: { type: "string" },
});
const MiB = 2 ** 20;
const total = Number(values.size ?? 512) * MiB;
const PIECE = MiB; // what the server's transfer buffers hand an upload
const CHUNK = 512 * 1024; // the chunker's average
const data = new Uint8Array(64 * MiB);
for (let at = 0; at < data.length; at += 65_536) {
  crypto.getRandomValues(data.subarray(at, at + 65_536));
}
const at = (offset: number, length: number) =>
  data.subarray(offset % data.length, (offset % data.length) + length);

async function stage(name: string, run: () => void | Promise<void>): Promise<void> {
  let best = Infinity;
  for (let round = 0; round < 3; round++) {
    const started = performance.now();
    await run();
    best = Math.min(best, performance.now() - started);
  }
  console.log(
    `${name.padEnd(44)} ${(total / MiB / (best / 1000)).toFixed(0).padStart(6)} MiB/s ` +
      `(${(best / (total / MiB)).toFixed(3)} ms per MiB)`,
  );
}

await stage("whole-file SHA-256 (1 MiB updates)", () => {
  const hash = createHash("sha256");
  for (let offset = 0; offset < total; offset += PIECE) hash.update(at(offset, PIECE));
  hash.digest();
});
await stage("gear scan (Chunker.push, 1 MiB pushes)", () => {
  const chunker = new Chunker();
  for (let offset = 0; offset < total; offset += PIECE) chunker.push(at(offset, PIECE));
});
await stage("chunk SHA-256 (512 KiB chunks)", () => {
  for (let offset = 0; offset < total; offset += CHUNK) {
    createHash("sha256").update(at(offset, CHUNK)).digest();
  }
});
const ring = new Uint8Array(new SharedArrayBuffer(8 * MiB));
await stage("copy into an 8 MiB shared ring", () => {
  for (let offset = 0; offset < total; offset += PIECE) {
    ring.set(at(offset, PIECE), offset % ring.length);
  }
});
await stage("encodeBlob of random 512 KiB chunks", () => {
  for (let offset = 0; offset < total; offset += CHUNK) encodeBlob(at(offset, CHUNK));
});
const path = await Deno.makeTempFile({ prefix: "upload-stages-" });
try {
  await stage("durable file write (1 MiB writes, fdatasync)", async () => {
    using file = await Deno.open(path, { write: true, truncate: true });
    for (let offset = 0; offset < total; offset += PIECE) {
      const bytes = at(offset, PIECE);
      for (let written = 0; written < bytes.length;) {
        written += await file.write(bytes.subarray(written));
      }
    }
    await file.syncData();
  });
} finally {
  await Deno.remove(path);
}
