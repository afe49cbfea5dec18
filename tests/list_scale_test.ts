import assert from "node:assert/strict";
import { encodeRequestHeader, Op, Status } from "../protocol/mod.ts";
import { addIndexRows } from "./_index_rows.ts";
import { compareBytes } from "../protocol/list.ts";
import { RawClient } from "./_helpers.ts";
import { spawnServer } from "./_processes.ts";
import { peakRssBytes } from "../harness/server_process.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const NAMES = 1_000_000;
const nameOf = (i: number) => `folder-${i % 997}/file-${i.toString().padStart(7, "0")}.dat`;

/** Peak resident memory of a process, in MiB. */
async function peakRssMiB(pid: number): Promise<number> {
  return (await peakRssBytes(pid))! / 2 ** 20;
}

Deno.test({
  name:
    "a list of 1,000,000 names streams from the index: first byte under 1 s, RSS grows under 64 MiB",
  ignore: Deno.build.os !== "linux", // the peak RSS is read from /proc
  async fn() {
    const root = await Deno.makeTempDir({ prefix: "backup-list-scale-" });
    try {
      const rows = function* () {
        for (let i = 0; i < NAMES; i++) yield { userId: 9, name: nameOf(i), storedMs: 0 };
      };
      const expectedBytes = addIndexRows(root, rows());

      const flags = [`--allow-read=${root}`, `--allow-write=${root}`, "--allow-net=127.0.0.1"];
      await using server = await spawnServer(["--root", root, "--port", "0", "--quiet"], {
        denoFlags: flags,
      });
      const before = await peakRssMiB(server.pid);
      using client = await RawClient.connect(server.port);
      const started = performance.now();
      await client.send(encodeRequestHeader({ userId: 9, op: Op.List }));
      const head = await client.readExactly(3 + 2 + 32 + 4);
      const firstByteMs = performance.now() - started;
      const view = new DataView(head.buffer, head.byteOffset);
      assert.equal(view.getUint16(1, true), Status.ListSent);
      assert.equal(view.getUint32(37, true), expectedBytes, "the declared size is exact");
      // Read the payload in pieces, checking the order and count without keeping it.
      let previous = new Uint8Array();
      let count = 0;
      let partial: Uint8Array = new Uint8Array();
      for (let left = expectedBytes; left > 0;) {
        const piece = await client.readExactly(Math.min(left, 1 << 20));
        left -= piece.length;
        const joined = new Uint8Array(partial.length + piece.length);
        joined.set(partial);
        joined.set(piece, partial.length);
        let start = 0;
        for (let at = joined.indexOf(0x0a); at !== -1; at = joined.indexOf(0x0a, start)) {
          const name = joined.subarray(start, at);
          assert.ok(compareBytes(previous, name) < 0, "names in byte order, each once");
          previous = name.slice();
          count++;
          start = at + 1;
        }
        partial = joined.slice(start);
      }
      const totalMs = performance.now() - started;
      const peak = await peakRssMiB(server.pid);
      console.log(
        `1,000,000 names (${(expectedBytes / 2 ** 20).toFixed(1)} MiB): first byte ${
          firstByteMs.toFixed(0)
        } ms, last ${totalMs.toFixed(0)} ms; server peak RSS ${before.toFixed(1)} MiB before, ${
          peak.toFixed(1)
        } MiB after`,
      );
      assert.equal(count, NAMES);
      assert.equal(partial.length, 0);
      assert.ok(firstByteMs < 1000, `first byte after ${firstByteMs} ms`);
      // Growth over the server's own start, which the collector's timing moves (docs/storage.md):
      // 1,000,000 names held as strings would take more than 64 MiB on their own.
      assert.ok(peak - before < 64, `server peak RSS ${peak} MiB, ${before} MiB at start`);
      // The connection is still in step: the next request is answered.
      await client.send(encodeRequestHeader({ userId: 10, op: Op.List }));
      assert.equal((await client.readResponse()).header.status, Status.NoFiles);
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
});
