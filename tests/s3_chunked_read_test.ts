/**
 * The S3 chunked reader's memory (`storage/s3/chunked_read.ts`): runs read ahead come from one pool
 * shared by every reader, so many reads at once hold its cap plus a chunk or two each. Counted in
 * bytes the store handed out and the readers' callers have not taken yet (no RSS: robust on a
 * loaded machine), against a store in memory whose reads overlap.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { chunkedS3Source } from "../storage/s3/chunked_read.ts";
import { ChunkTableBuilder } from "../storage/s3/chunk_list.ts";
import type { ByteRange, ObjectStore } from "../objects/object_store.ts";
import { ObjectNotFoundError } from "../objects/object_store.ts";
import { ReadBuffers } from "../repository/read_buffers.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const KiB = 1024;
const CHUNK = 64 * KiB;
const CHUNKS = 48;
const RUN = 256 * KiB;

/** A pack of `CHUNKS` random chunks stored as they are, one after the other, and its list. */
function packAndList() {
  const pack = new Uint8Array(CHUNK * CHUNKS);
  for (let at = 0; at < pack.length; at += 65536) {
    crypto.getRandomValues(pack.subarray(at, at + 65536));
  }
  const list = new ChunkTableBuilder();
  for (let i = 0; i < CHUNKS; i++) {
    const bytes = pack.subarray(i * CHUNK, (i + 1) * CHUNK);
    list.add({
      id: new Uint8Array(createHash("sha256").update(bytes).digest()),
      pack: "s.1",
      offset: i * CHUNK,
      storedLength: CHUNK,
      rawLength: CHUNK,
      compression: "none",
    });
  }
  return { pack, list: list.table() };
}

/** A store in memory counting the bytes it handed out; each read answers on a later task. */
function countingStore(objects: Map<string, Uint8Array>) {
  const counts = { handedOut: 0 };
  const later = () => new Promise((resolve) => setTimeout(resolve, 0));
  const find = (name: string) => {
    const object = objects.get(name);
    if (!object) throw new ObjectNotFoundError(name);
    return object;
  };
  const unused = () => Promise.reject(new Error("not used by a reader"));
  const store: ObjectStore = {
    put: unused,
    create: unused,
    stat: unused,
    delete: unused,
    list: () => {
      throw new Error("not used by a reader");
    },
    async get(name: string, range?: ByteRange) {
      await later();
      const object = find(name);
      const bytes = range
        ? object.slice(range.offset, range.offset + range.length)
        : object.slice();
      counts.handedOut += bytes.length;
      return bytes;
    },
    async readInto(name: string, offset: number, target: Uint8Array) {
      await later();
      const part = find(name).subarray(offset, offset + target.length);
      target.set(part);
      counts.handedOut += part.length;
      return part.length;
    },
  };
  return { store, counts };
}

Deno.test("s3 chunked read: four reads at once hold the shared pool's cap plus a chunk or two each, not three runs each", async () => {
  const { pack, list } = packAndList();
  const { store, counts } = countingStore(new Map([["p/1/s.1", pack]]));
  const buffers = new ReadBuffers({ bufferBytes: RUN, maxBytes: 2 * RUN });
  const readers = 4;
  let taken = 0;
  let most = 0;
  const read = async () => {
    const source = chunkedS3Source({
      store,
      packsFolder: "p/1/",
      list,
      reload: () => Promise.resolve(undefined),
      maxRunBytes: RUN,
      buffers,
    });
    const got = new Uint8Array(pack.length);
    let at = 0;
    for (let view; (view = await source.readView(16 * KiB)) !== null;) {
      got.set(view, at);
      at += view.length;
      taken += view.length;
      most = Math.max(most, counts.handedOut - taken);
      await new Promise((resolve) => setTimeout(resolve, 0)); // a slow client
    }
    assert.equal(at, pack.length);
    assert(got.every((byte, i) => byte === pack[i]), "the bytes read back are the file's");
  };
  await Promise.all(Array.from({ length: readers }, read));
  // The cap, and per reader one chunk read alone plus the one being taken. Without a shared cap
  // each reader held up to three runs ahead and one being taken: 4 MiB here.
  const bound = 2 * RUN + readers * 2 * CHUNK;
  assert(most <= bound, `held ${most} bytes not yet taken, more than ${bound}`);
  assert.equal(buffers.allocated, 0, "every buffer given back once the reads ended");
});

Deno.test("s3 chunked read: a read closed part-way gives its buffers back to the pool", async () => {
  const { pack, list } = packAndList();
  const { store } = countingStore(new Map([["p/1/s.1", pack]]));
  const buffers = new ReadBuffers({ bufferBytes: RUN, maxBytes: 4 * RUN });
  const source = chunkedS3Source({
    store,
    packsFolder: "p/1/",
    list,
    reload: () => Promise.resolve(undefined),
    buffers,
  });
  await source.ready();
  assert((await source.readView(KiB))!.length === KiB);
  assert(buffers.allocated > 0);
  await source.close();
  assert.equal(buffers.allocated, 0);
  assert.equal(await source.readView(KiB), null, "nothing more once closed");
});
