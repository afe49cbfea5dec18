/**
 * The snapshots `_snapshot_crash_store.ts` commits, and a check that a listed snapshot is whole.
 *
 * @module
 */
import type { IncomingBlob, SnapshotCommit, SnapshotRepository } from "../storage/snapshots.ts";
import { decodeBlob } from "../repository/blob_codec.ts";
import { dataBlob, noise, sha256, snapshotOf, treeBlob } from "./_snapshots.ts";

/** Snapshot `n`: eight chunks of its own, two subtrees of four, a root; children first. */
export function snapshotBlobs(n: number): { blobs: IncomingBlob[]; snapshot: SnapshotCommit } {
  const chunks = Array.from({ length: 8 }, (_, i) => dataBlob(noise(1000 * n + i + 1, 24 * 1024)));
  const subtrees = [0, 1].map((half) =>
    treeBlob(chunks.slice(half * 4, half * 4 + 4).map((chunk) => chunk.id), `${n}/${half}`)
  );
  const root = treeBlob(subtrees.map((tree) => tree.id), `${n}`);
  return { blobs: [...chunks, ...subtrees, root], snapshot: snapshotOf(root, `${n}`) };
}

/**
 * Reads every blob below `tree` (trees as `treeBlob` writes them) and checks each against its id.
 *
 * @returns how many blobs were read.
 * @throws if one is missing or damaged.
 */
export async function readWhole(
  snapshots: SnapshotRepository,
  userId: number,
  tree: Uint8Array,
): Promise<number> {
  let count = 0;
  const stack = [tree];
  while (stack.length > 0) {
    const id = stack.pop()!;
    const blob = await snapshots.readBlob(userId, id);
    const raw = decodeBlob(blob.bytes, blob.encoding === "zstd" ? "zstd" : "none", blob.rawLength);
    const hash = sha256(raw);
    if (!hash.every((byte, i) => byte === id[i])) throw new Error("a blob does not match its id");
    count++;
    if (blob.kind === "tree") {
      const { refs } = JSON.parse(new TextDecoder().decode(raw)) as { refs: string[] };
      stack.push(...refs.map(fromHex));
    }
  }
  return count;
}

/** Bytes from lowercase hex (the subprocess imports no server module: `_helpers.ts` does). */
function fromHex(text: string): Uint8Array {
  return Uint8Array.from(text.match(/../g) ?? [], (byte) => parseInt(byte, 16));
}
