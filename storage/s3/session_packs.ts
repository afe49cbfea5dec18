/**
 * The packs of one S3 snapshot session (`snapshot_session.ts`): one `PackWriter` at a time over
 * the session's pack store, its packs named `p/USER/SESSION.N`, and the placing of the blobs of each
 * pack it stored into the session's `PendingBlobs` (each pack once, so that placing costs what the
 * session wrote since, not what it wrote in all). A writer that fails removes the packs it put but
 * those stored, whose blobs stay placed.
 *
 * @module
 */
import type { ObjectStore } from "../../objects/object_store.ts";
import type { EncodedBlob } from "../../repository/blob_codec.ts";
import { PackWriter, type WrittenPack } from "../../repository/pack_writer.ts";
import type { PendingBlobs } from "./snapshot_pending.ts";

/** How a session's packs are cut and named. */
export interface SessionPacksOptions {
  /** The pack store as the session's writer sees it (`keepingStored`). */
  packStore: ObjectStore;
  /** Where the blobs of stored packs are placed. */
  pending: PendingBlobs;
  /** A pack is put once its blobs reach this many bytes. */
  targetBytes: number;
  /** Put before each pack's number: `p/USER/SESSION.`. */
  namePrefix: string;
}

/** See the module comment. */
export class SessionPacks {
  readonly #options: SessionPacksOptions;
  #writer: PackWriter | undefined;
  /** Names of the packs whose blobs are placed already. */
  readonly #placedPacks = new Set<string>();
  /** The writer `finish` waits for: a pack it stores meanwhile is indexed at once. */
  #finishing: PackWriter | undefined;
  #packs = 0;

  /** @param options the store, the pending blobs, the cut and the names */
  constructor(options: SessionPacksOptions) {
    this.#options = options;
  }

  /** Adds a blob to the pack filling (a new writer if none): see `PackWriter.add`. */
  async add(id: Uint8Array, encoded: EncodedBlob, rawLength: number): Promise<void> {
    this.#writer ??= new PackWriter(this.#options.packStore, {
      targetBytes: this.#options.targetBytes,
      packName: () => `${this.#options.namePrefix}${++this.#packs}`,
    });
    await this.#writer.add(id, encoded, rawLength);
  }

  /**
   * Puts the last pack (if any); placements become known. A writer that failed removes the packs
   * it put but those stored, which stay placed (a flush may have indexed some: `keepingStored`).
   */
  async finish(): Promise<void> {
    const writer = this.#writer;
    if (!writer) return;
    this.#writer = undefined;
    this.#finishing = writer;
    let packs: WrittenPack[];
    try {
      packs = await writer.finish();
    } catch (error) {
      await writer.abort();
      this.#placeWritten(writer);
      this.#options.pending.forgetUnplaced();
      throw error;
    } finally {
      this.#finishing = undefined;
    }
    this.#options.pending.place(packs);
  }

  /** Places the blobs of the packs stored since the last call by the writer filling or finishing. */
  placeStored(): void {
    const writer = this.#writer ?? this.#finishing;
    if (writer) this.#placeWritten(writer);
  }

  /**
   * Places the blobs of the packs `writer` wrote since the last call (each pack once: a flush per
   * pack placing every pack so far made a session's puts cost what it had written).
   */
  #placeWritten(writer: PackWriter): void {
    // By name: `written` is in cut order, and a pack cut later may be stored first.
    const fresh = writer.written.filter((pack) => !this.#placedPacks.has(pack.name));
    for (const pack of fresh) this.#placedPacks.add(pack.name);
    this.#options.pending.place(fresh);
  }
}
