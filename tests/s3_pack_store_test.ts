/**
 * The S3 packs' buffers (`storage/s3/pack_store.ts`): held from the upload budget until the store
 * answers, and reused from one upload to the next (a client backing up files in a row) instead of
 * new ones while the last ones wait for the collector: three 1 GiB uploads in a row had a peak RSS
 * 24 MiB higher (docs/storage.md). Observed through the buffers the PUTs carry.
 */
import assert from "node:assert/strict";
import { BufferedPackStore } from "../storage/s3/pack_store.ts";
import { MemoryBudget } from "../storage/s3/uploads.ts";
import type { ObjectBody, ObjectStore } from "../objects/object_store.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const PACK = 64 * 1024;

/** A store that keeps each PUT's body and the memory it was in. */
function recordingStore() {
  const puts: { name: string; bytes: Uint8Array }[] = [];
  const unused = () => Promise.reject(new Error("not used by packs"));
  const store: ObjectStore = {
    put(name: string, body: ObjectBody) {
      if (!(body instanceof Uint8Array)) return unused();
      puts.push({ name, bytes: body });
      return Promise.resolve();
    },
    create: unused,
    get: unused,
    stat: unused,
    delete: unused,
    list: () => {
      throw new Error("not used by packs");
    },
  };
  return { store, puts };
}

/** One upload's packs: `count` of them, one after the other, each PUT and answered. */
async function upload(packs: BufferedPackStore, tag: string, count: number) {
  for (let n = 0; n < count; n++) {
    const writer = await packs.create(`p/1/${tag}.${n}`);
    await writer.write(new Uint8Array(1000).fill(n + 1));
    await writer.commit();
  }
}

Deno.test("s3 packs: the next upload reuses the last one's buffers instead of new ones", async () => {
  const { store, puts } = recordingStore();
  const budget = new MemoryBudget(4 * PACK);
  const packs = new BufferedPackStore(store, budget, PACK);
  await upload(packs, "a", 2);
  await upload(packs, "b", 2); // no pack open in between: the buffers were idle
  assert.equal(puts.length, 4);
  const memory = new Set(puts.map((put) => put.bytes.buffer));
  assert.equal(memory.size, 1, "one buffer served both uploads, one pack at a time");
  assert.deepEqual([...puts[3].bytes], new Array(1000).fill(2), "the PUT carried its own bytes");
});

Deno.test("s3 packs: buffers are held from the budget until the store answers", async () => {
  const answers: PromiseWithResolvers<void>[] = [];
  const { store } = recordingStore();
  store.put = () => {
    const answer = Promise.withResolvers<void>();
    answers.push(answer);
    return answer.promise;
  };
  const budget = new MemoryBudget(2 * PACK);
  const packs = new BufferedPackStore(store, budget, PACK);
  const first = await packs.create("p/1/a.1");
  const second = await packs.create("p/1/a.2");
  await first.write(new Uint8Array(10));
  const committed = first.commit();
  let third = false;
  const waiting = packs.create("p/1/a.3").then((writer) => (third = true, writer));
  await Promise.resolve();
  assert.equal(third, false, "no room until a PUT is answered");
  answers[0].resolve();
  await committed;
  const writer = await waiting;
  assert.equal(third, true);
  await second.abort();
  await writer.abort();
});
