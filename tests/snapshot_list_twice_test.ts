/**
 * A snapshot listed twice (a broken or hostile server) is refused by the list reader: `forget`
 * would otherwise keep one copy and remove the other, which is the same snapshot.
 */
import assert from "node:assert/strict";
import { snapshotForget } from "../cli/snapshot_forget.ts";
import { Output } from "../cli/client_commands.ts";
import type { SnapshotContext } from "../cli/snapshot_context.ts";
import {
  type ListedEntry,
  readSnapshotList,
  type SnapshotSessionLike,
} from "../client/snapshot/snapshot_session.ts";
import { ListedSnapshotError } from "../client/snapshot/snapshot_select.ts";
import { encodeSnapshot } from "../protocol/v3/snapshot.ts";
import { blobIdOf, MemoryBlobs } from "./_memory_blobs.ts";
import { EMPTY_SUMMARY } from "./_snapshots.ts";

/** Lists its one record twice; records what it is told to forget. */
class ListTwice extends MemoryBlobs {
  readonly record = encodeSnapshot({
    timeMs: 1000,
    tree: "00".repeat(32),
    paths: ["/p"],
    host: "h",
    user: "u",
    tags: [],
    summary: EMPTY_SUMMARY,
  });
  readonly forgotten: string[] = [];
  async *listSnapshots(): AsyncGenerator<ListedEntry> {
    for (let i = 0; i < 2; i++) {
      yield { id: blobIdOf(this.record), storedMs: i, record: this.record };
    }
  }
  forgetSnapshot(id: string): Promise<void> {
    this.forgotten.push(id);
    return Promise.resolve();
  }
  openSnapshot(): Promise<void> {
    return Promise.resolve();
  }
  commitSnapshot(): Promise<never> {
    return Promise.reject(new Error("not in this test"));
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

Deno.test("a snapshot listed twice is refused, and forget --keep-last 1 forgets nothing", async () => {
  const session = new ListTwice();
  await assert.rejects(readSnapshotList(session), ListedSnapshotError);
  const context = {
    session: session as SnapshotSessionLike,
    output: new Output(false, true),
    flags: { "keep-last": "1" } as SnapshotContext["flags"],
  };
  await assert.rejects(snapshotForget([], context), /listed twice/);
  assert.deepEqual(session.forgotten, []);
});
