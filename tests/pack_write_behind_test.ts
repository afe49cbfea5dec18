/**
 * `PackWriter`'s writes behind `add`: past the bound (8 MiB not yet written), `add` waits until the
 * writes fall back under it, not until they are all done (the disk would otherwise idle while the
 * caller catches up: what c061cbe did); a write that fails is thrown by the next `add`.
 */
import assert from "node:assert/strict";
import { FolderStore } from "../objects/folder_store.ts";
import type { ObjectStore } from "../objects/object_store.ts";
import { PackWriter } from "../repository/pack_writer.ts";
import { withCreate } from "./_repository.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const MiB = 1 << 20;
/** Longest wait for something that must happen at once (a failure here, not a pace). */
const BOUND_MS = 10_000;

/** A folder store whose every write waits for its own gate, opened by the test. */
async function gatedStore(root: string) {
  const folder = await FolderStore.open({ root });
  const gates: PromiseWithResolvers<void>[] = [];
  const started: PromiseWithResolvers<void>[] = Array.from(
    { length: 16 },
    () => Promise.withResolvers(),
  );
  const store: ObjectStore = withCreate(folder, async (name) => {
    const inner = await folder.create(name);
    return {
      ...inner,
      write: async (bytes) => {
        const gate = Promise.withResolvers<void>();
        started[gates.push(gate) - 1]?.resolve();
        await gate.promise;
        await inner.write(bytes);
      },
    };
  });
  return { store, gates, started };
}

function within<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${BOUND_MS} ms`)), BOUND_MS);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

const blob = (fill: number) => ({
  stored: new Uint8Array(4 * MiB).fill(fill),
  compression: "none" as const,
});
const id = (n: number) => new Uint8Array(32).fill(n);

Deno.test("past the bound, add waits until the writes are back under it, not until all are done", async () => {
  const root = await Deno.makeTempDir({ prefix: "backup-write-behind-" });
  try {
    const { store, gates, started } = await gatedStore(root);
    const writer = new PackWriter(store, { targetBytes: 64 * MiB });
    await writer.add(id(1), blob(1), 4 * MiB); // 4 MiB behind
    await writer.add(id(2), blob(2), 4 * MiB); // 8: at the bound
    let third = false;
    const adding = writer.add(id(3), blob(3), 4 * MiB).then(() => void (third = true)); // 12
    await started[0].promise;
    assert.equal(third, false, "12 MiB behind: the third add waits");
    gates[0].resolve(); // the first write is done: 8 MiB behind
    await within(adding, "the third add once the first write was done");
    assert.equal(gates.length <= 2, true, "the third add did not wait for the second write");
    for (let n = 1; n < 3; n++) {
      await started[n].promise;
      gates[n].resolve();
    }
    const finishing = writer.finish();
    await started[3].promise; // the pack's tail
    gates[3].resolve();
    const [pack] = await finishing;
    assert.deepEqual(
      await store.get(pack.name, { offset: 8 * MiB, length: 2 }),
      new Uint8Array(2).fill(3),
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("a write that failed behind add is thrown by the next add", async () => {
  const root = await Deno.makeTempDir({ prefix: "backup-write-behind-" });
  try {
    const { store, gates, started } = await gatedStore(root);
    const writer = new PackWriter(store, { targetBytes: 64 * MiB });
    await writer.add(id(1), blob(1), 4 * MiB);
    await started[0].promise;
    gates[0].reject(new Error("the disk is full"));
    // One turn of the event loop: the failed write's handlers have run.
    await new Promise((resolve) => setTimeout(resolve, 0));
    await assert.rejects(writer.add(id(2), blob(2), 4 * MiB), /the disk is full/);
    await writer.abort();
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
