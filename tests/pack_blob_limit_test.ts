/**
 * A pack never holds more blobs than its format allows: chunks that compress to a few bytes each
 * (a sparse disk image) would otherwise fill a pack's target size with more entries than its header
 * can carry, and the upload would fail at the cut.
 */
import assert from "node:assert/strict";
import { FolderStore } from "../objects/folder_store.ts";
import { PackWriter } from "../repository/pack_writer.ts";
import {
  decodePackHeader,
  decodePackTrailer,
  MAX_PACK_BLOBS,
  PACK_TRAILER_BYTES,
} from "../repository/pack_format.ts";

Deno.test.sanitizer({ ops: true, resources: true });

Deno.test("a pack is cut at the format's blob limit before its target size", async () => {
  const root = await Deno.makeTempDir({ prefix: "backup-pack-limit-" });
  try {
    const store = await FolderStore.open({ root });
    const writer = new PackWriter(store, { targetBytes: 64 * 1024 * 1024 });
    const count = MAX_PACK_BLOBS + 10;
    const id = new Uint8Array(32);
    const view = new DataView(id.buffer);
    for (let n = 0; n < count; n++) {
      view.setUint32(0, n);
      const stored = new Uint8Array(8).fill(n & 0xff);
      await writer.add(id, { stored, compression: "none" }, stored.length);
    }
    const packs = await writer.finish();
    assert.deepEqual(packs.map((pack) => pack.blobs.length), [MAX_PACK_BLOBS, 10]);
    let n = 0;
    for (const pack of packs) {
      const bytes = await store.get(pack.name);
      const trailer = decodePackTrailer(bytes.subarray(bytes.length - PACK_TRAILER_BYTES));
      const start = bytes.length - PACK_TRAILER_BYTES - trailer.headerBytes;
      const entries = decodePackHeader(
        bytes.subarray(start, start + trailer.headerBytes),
        trailer,
        bytes.length,
      );
      for (const entry of entries) {
        assert.equal(new DataView(entry.id.buffer, entry.id.byteOffset).getUint32(0), n);
        assert.ok(bytes.subarray(entry.offset, entry.offset + 8).every((b) => b === (n & 0xff)));
        n++;
      }
    }
    assert.equal(n, count);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
