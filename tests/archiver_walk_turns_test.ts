/**
 * The walk of a tree of small files lets the event loop poll sockets as it goes
 * (`client/snapshot/walk_turns.ts`): a sink whose answers come over a socket (as the server's do)
 * is answered, and gets its puts, while files are still being read, not once the whole tree is.
 */
import assert from "node:assert/strict";
import { archive } from "../client/snapshot/archiver.ts";
import type { BlobId, BlobSink, OutgoingBlob } from "../client/snapshot/blobs.ts";
import { MemoryBlobs } from "./_memory_blobs.ts";

Deno.test.sanitizer({ ops: true, resources: true });

/** Files of the tree, and bytes of each (random: 4 MiB in all, past the turns' threshold). */
const FILES = 1000;
const FILE_BYTES = 4096;

/** A loopback echo: each call of `roundTrip` resolves once its byte came back. */
async function echo(): Promise<{ roundTrip(): Promise<void> } & AsyncDisposable> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepting = listener.accept();
  const conn = await Deno.connect({
    hostname: "127.0.0.1",
    port: (listener.addr as Deno.NetAddr).port,
  });
  const served = await accepting;
  const serving = (async () => {
    const buffer = new Uint8Array(64);
    for (let n; (n = await served.read(buffer)) !== null;) {
      await served.write(buffer.subarray(0, n));
    }
  })();
  const waiting: (() => void)[] = [];
  const reading = (async () => {
    const buffer = new Uint8Array(64);
    for (let n; (n = await conn.read(buffer)) !== null;) {
      for (let i = 0; i < n; i++) waiting.shift()!();
    }
  })();
  return {
    roundTrip() {
      const { promise, resolve } = Promise.withResolvers<void>();
      waiting.push(resolve);
      conn.write(new Uint8Array([1]));
      return promise;
    },
    async [Symbol.asyncDispose]() {
      conn.closeWrite();
      await serving;
      served.close();
      await reading;
      conn.close();
      listener.close();
    },
  };
}

Deno.test("a walk of small files takes the socket's answers as it goes: blobs are put before the last file is read", async () => {
  const dir = await Deno.makeTempDir({ prefix: "archiver-turns-" });
  try {
    for (let i = 0; i < FILES; i++) {
      if (i % 100 === 0) await Deno.mkdir(`${dir}/d${i / 100}`);
      const bytes = crypto.getRandomValues(new Uint8Array(FILE_BYTES));
      await Deno.writeFile(`${dir}/d${Math.floor(i / 100)}/f${i}`, bytes);
    }
    await using wire = await echo();
    const blobs = new MemoryBlobs();
    let filesRead = 0;
    let readAtFirstPut: number | undefined;
    const sink: BlobSink = {
      missing: async (ids: BlobId[]) => {
        await wire.roundTrip();
        return blobs.missing(ids);
      },
      put: async (blob: OutgoingBlob) => {
        readAtFirstPut ??= filesRead;
        await wire.roundTrip();
        return blobs.put(blob);
      },
    };
    const result = await archive([dir], {
      scan: false,
      onEvent: (event) => void (event.type === "file" && filesRead++),
    }, sink);
    assert.equal(result.summary.files, FILES);
    assert.equal(blobs.counts.puts, result.stats.dataPuts + result.stats.treePuts);
    assert.ok(readAtFirstPut !== undefined);
    assert.ok(
      readAtFirstPut < FILES / 2,
      `the first put came after ${readAtFirstPut} of ${FILES} files were read`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
