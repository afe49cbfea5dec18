/**
 * `PackWriter`: packs cut at their target size, each a valid pack whose blobs are where it says,
 * a bounded number of puts at a time (so memory holds a bounded number of packs), and `abort`
 * removes what was put.
 */
import assert from "node:assert/strict";
import { FolderStore } from "../objects/folder_store.ts";
import type { ObjectBody, ObjectStore, ObjectWriter } from "../objects/object_store.ts";
import { PACKS_PREFIX, PackWriter } from "../repository/pack_writer.ts";
import {
  decodePackHeader,
  decodePackTrailer,
  PACK_TRAILER_BYTES,
} from "../repository/pack_format.ts";
import { randomBytes } from "./_packs.ts";
import { withCreate } from "./_repository.ts";

Deno.test.sanitizer({ ops: true, resources: true });

async function tempStore(): Promise<FolderStore & AsyncDisposable> {
  const root = await Deno.makeTempDir({ prefix: "backup-pack-writer-" });
  const store = await FolderStore.open({ root });
  return Object.assign(store, {
    [Symbol.asyncDispose]: () => Deno.remove(root, { recursive: true }),
  });
}

async function objectNames(store: ObjectStore): Promise<string[]> {
  const names: string[] = [];
  for await (const { name } of store.list(PACKS_PREFIX)) names.push(name);
  return names.sort();
}

/** A store whose commits wait until the test lets each one go, counting how many run at once. */
class GatedStore implements ObjectStore {
  running = 0;
  mostRunning = 0;
  started = 0;
  readonly #gates: Array<() => void> = [];
  #waiting: (() => void) | undefined;

  constructor(readonly inner: ObjectStore) {}

  put(name: string, body: ObjectBody): Promise<void> {
    return this.inner.put(name, body);
  }

  /** Objects as the inner store makes them, whose commits wait for `release`. */
  async create(name: string): Promise<ObjectWriter> {
    const inner = await this.inner.create(name);
    return {
      write: (bytes) => inner.write(bytes),
      abort: () => inner.abort(),
      commit: async () => {
        this.running++;
        this.started++;
        this.mostRunning = Math.max(this.mostRunning, this.running);
        this.#waiting?.();
        await new Promise<void>((resolve) => this.#gates.push(resolve));
        try {
          await inner.commit();
        } finally {
          this.running--;
        }
      },
    };
  }

  /** Resolves once `count` puts have started. */
  async untilStarted(count: number): Promise<void> {
    while (this.started < count) await new Promise<void>((resolve) => this.#waiting = resolve);
  }

  /** Lets the oldest waiting put go. */
  release(): void {
    this.#gates.shift()!();
  }

  get(name: string, range?: { offset: number; length: number }) {
    return this.inner.get(name, range);
  }
  stat(name: string) {
    return this.inner.stat(name);
  }
  list(prefix: string) {
    return this.inner.list(prefix);
  }
  delete(name: string) {
    return this.inner.delete(name);
  }
}

const id = (n: number) => new Uint8Array(32).fill(n);

Deno.test("packs are cut once their blobs reach the target, and each decodes to the blobs put in it", async () => {
  await using store = await tempStore();
  const writer = new PackWriter(store, { targetBytes: 1000 });
  const blobs = Array.from({ length: 7 }, () => randomBytes(400));
  for (const [n, blob] of blobs.entries()) {
    await writer.add(id(n), { stored: blob, compression: "none" }, blob.length);
  }
  const packs = await writer.finish();
  // 400 + 400 + 400 reaches 1000: cut after every third blob; the last pack holds the one left.
  assert.deepEqual(packs.map((pack) => pack.blobs.length), [3, 3, 1]);
  assert.deepEqual(await objectNames(store), packs.map((pack) => pack.name).sort());
  let n = 0;
  for (const pack of packs) {
    const bytes = await store.get(pack.name);
    assert.equal(bytes.length, pack.size);
    const trailer = decodePackTrailer(bytes.subarray(bytes.length - PACK_TRAILER_BYTES));
    const headerStart = bytes.length - PACK_TRAILER_BYTES - trailer.headerBytes;
    const entries = decodePackHeader(
      bytes.subarray(headerStart, headerStart + trailer.headerBytes),
      trailer,
      bytes.length,
    );
    assert.deepEqual(entries, pack.blobs, "the header says what the writer reported");
    for (const entry of entries) {
      assert.deepEqual(entry.id, id(n));
      assert.deepEqual(bytes.subarray(entry.offset, entry.offset + entry.storedLength), blobs[n]);
      n++;
    }
  }
});

Deno.test("writes run behind add, up to a bound: a store that stalls holds the writer back", async () => {
  await using folder = await tempStore();
  const gate = Promise.withResolvers<void>();
  let writes = 0;
  const store = withCreate(folder, async (name) => {
    const inner = await folder.create(name);
    return {
      ...inner,
      write: async (bytes) => {
        writes++;
        await gate.promise; // the disk does not answer
        await inner.write(bytes);
      },
    };
  });
  const writer = new PackWriter(store, { targetBytes: 64 << 20 });
  const MiB = 1 << 20;
  let added = 0;
  const adding = (async () => {
    for (let n = 0; n < 20; n++) {
      await writer.add(id(n), { stored: new Uint8Array(MiB).fill(n), compression: "none" }, MiB);
      added++;
    }
  })();
  for (let turn = 0; turn < 50 && added < 20; turn++) {
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
  assert.ok(added >= 8 && added <= 9, `${added} MiB handed to writes that have not answered`);
  gate.resolve();
  await adding;
  const [pack] = await writer.finish();
  assert.equal(writes, 21, "20 blobs and the tail, in order");
  assert.deepEqual(
    await store.get(pack.name, { offset: 5 * MiB, length: 3 }),
    new Uint8Array(3).fill(5),
  );
});

Deno.test("puts in flight are bounded (one here): a full pack waits for the put before it", async () => {
  await using folder = await tempStore();
  const store = new GatedStore(folder);
  const writer = new PackWriter(store, { targetBytes: 100, putsInFlight: 1 });
  const blob = { stored: new Uint8Array(100), compression: "none" as const };
  await writer.add(id(1), blob, 100); // first pack full: its put starts, the writer takes more
  await store.untilStarted(1);
  let secondTaken = false;
  const second = writer.add(id(2), blob, 100).then(() => secondTaken = true);
  // Turns of the event loop pass; the second pack may not start while the first one is put.
  for (let turn = 0; turn < 20; turn++) await new Promise((resolve) => setTimeout(resolve, 0));
  assert.equal(store.started, 1, "the second put waits for the first");
  assert.equal(secondTaken, false, "add holds the caller back meanwhile");
  store.release();
  await second;
  await store.untilStarted(2);
  store.release();
  const packs = await writer.finish();
  assert.equal(packs.length, 2);
  assert.equal(store.mostRunning, 1);
});

Deno.test("abort removes every pack put, and one put while it aborts", async () => {
  await using folder = await tempStore();
  const store = new GatedStore(folder);
  const writer = new PackWriter(store, { targetBytes: 100, putsInFlight: 1 });
  const blob = { stored: new Uint8Array(100), compression: "none" as const };
  await writer.add(id(1), blob, 100);
  store.release();
  await writer.add(id(2), blob, 100); // waits for the first put, starts the second
  assert.equal(writer.written.length, 1);
  await store.untilStarted(2);
  const aborted = writer.abort();
  store.release(); // the second put lands while abort waits for it
  await aborted;
  assert.deepEqual(await objectNames(folder), [], "nothing is left in the store");
  await assert.rejects(writer.add(id(3), blob, 100), /finished/);
});

Deno.test("a put that fails: finish throws it, abort removes the packs put before it", async () => {
  await using folder = await tempStore();
  let puts = 0;
  const store = withCreate(folder, async (name) => {
    const inner = await folder.create(name);
    if (++puts !== 2) return inner;
    return {
      ...inner,
      commit: () => inner.abort().then(() => Promise.reject(new Error("disk full"))),
    };
  });
  const writer = new PackWriter(store, { targetBytes: 100 });
  const blob = { stored: new Uint8Array(100), compression: "none" as const };
  await writer.add(id(1), blob, 100);
  await writer.add(id(2), blob, 100);
  await assert.rejects(writer.finish(), /disk full/);
  assert.equal((await objectNames(folder)).length, 1, "the first pack was put");
  await writer.abort();
  assert.deepEqual(await objectNames(folder), []);
});
