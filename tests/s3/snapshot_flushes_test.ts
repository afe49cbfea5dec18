/**
 * The flushes of an S3 snapshot session (`storage/s3/snapshot_flushes.ts`), without a store: one
 * at a time, in order, the first failure kept for the session's next put and its commit and
 * forgotten for its close; and a pack stored through `keepingStored` is told and never deleted
 * through it (a writer that fails later must not remove a pack a flush may have indexed).
 */
import assert from "node:assert/strict";
import { FolderStore } from "../../objects/folder_store.ts";
import { FlushChain, nextTurn } from "../../storage/s3/snapshot_flushes.ts";
import { keepingStored } from "../../storage/kept_packs.ts";

Deno.test.sanitizer({ ops: true, resources: true });

Deno.test("s3 snapshot flushes run one at a time, in the order queued", async () => {
  const log: string[] = [];
  let running = 0;
  let n = 0;
  const chain = new FlushChain(async () => {
    const me = ++n;
    assert.equal(++running, 1, "one flush at a time");
    log.push(`start ${me}`);
    await nextTurn();
    log.push(`end ${me}`);
    running--;
  });
  chain.behind(nextTurn);
  chain.behind();
  chain.behind(nextTurn);
  await chain.done();
  assert.deepEqual(log, ["start 1", "end 1", "start 2", "end 2", "start 3", "end 3"]);
});

Deno.test("s3 snapshot flushes: the first failure passes over those queued and is thrown until the close settles", async () => {
  const failure = new Error("PUT refused");
  let calls = 0;
  let fail = true;
  const chain = new FlushChain(() => {
    calls++;
    return fail ? Promise.reject(failure) : Promise.resolve();
  });
  const first = chain.behind();
  chain.behind();
  await first; // never rejects: the failure is kept
  await assert.rejects(chain.done(), (error) => error === failure);
  assert.equal(calls, 1, "the flush queued after the failure did not run");
  assert.throws(() => chain.throwIfFailed(), (error) => error === failure);
  fail = false;
  await chain.settle();
  chain.throwIfFailed();
  await chain.behind();
  await chain.done();
  assert.equal(calls, 2, "a flush runs again once the failure is forgotten");
});

Deno.test("s3 snapshot packs: a pack committed through keepingStored is told and never deleted through it", async () => {
  const root = await Deno.makeTempDir();
  try {
    const store = await FolderStore.open({ root });
    const told: string[] = [];
    const packs = keepingStored(store, (name) => told.push(name));
    const stored = await packs.create("p/1/s.1");
    await stored.write(new Uint8Array([1, 2, 3]));
    await stored.commit();
    assert.deepEqual(told, ["p/1/s.1"]);
    await store.put("p/1/s.2", new Uint8Array([4]));
    await packs.delete("p/1/s.1");
    await packs.delete("p/1/s.2");
    assert.equal((await store.stat("p/1/s.1"))?.size, 3, "the pack stored through it stays");
    assert.equal(await store.stat("p/1/s.2"), undefined, "another object is deleted");
    const aborted = await packs.create("p/1/s.3");
    await aborted.write(new Uint8Array([5]));
    await aborted.abort();
    assert.deepEqual(told, ["p/1/s.1"], "an aborted pack is not told");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
