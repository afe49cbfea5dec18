/**
 * Whether a plain backup (no `--encrypt`) would replace sealed copies: one sample of the server's
 * copies per run, never one per file (each look is a download, and a large one costs a new
 * connection).
 *
 * @module
 */
import type { BackupClientV2 } from "../client/backup_client_v2.ts";
import { looksSealed, MAGIC, plainSize } from "../client/encryption/format.ts";
import type { ByteSink } from "../io/byte_stream.ts";
import type { VersionInfo } from "../protocol/v2/responses.ts";

/** Stored payloads up to this size are read whole to see whether they are sealed. */
export const READ_WHOLE_BYTES = 64 * 1024;

/** A stored copy: its name on the server and what the list said of it. */
interface Copy {
  name: string;
  info: VersionInfo;
}

/**
 * One look per backup run at whether the server's copies are sealed. A store is written sealed
 * or plain as a whole (`--encrypt` or not), so one copy stands for all: the first changed file
 * whose stored copy could be sealed asks, and its answer holds for the rest of the run. The copy
 * looked at is that file's if it is small, else a small one seen in the list (`offer`), else
 * that file's (read only to its start, which costs its connection).
 */
export class SealedProbe {
  #small?: Copy;
  #answer?: Promise<string | undefined>;

  /** Notes a listed copy: the first small one that could be sealed is the preferred sample. */
  offer(name: string, info: VersionInfo): void {
    if (this.#small || info.size > READ_WHOLE_BYTES || plainSize(info.size) === undefined) return;
    this.#small = { name, info };
  }

  /**
   * The stored name of a sealed copy if the server's copies are sealed, else `undefined`, asked
   * before `name` (stored as `stored`) is replaced. Only the run's first question downloads.
   */
  async sealedCopy(
    client: BackupClientV2,
    name: string,
    stored: VersionInfo,
  ): Promise<string | undefined> {
    // A copy that cannot be sealed says nothing, and costs nothing.
    if (plainSize(stored.size) === undefined) return undefined;
    for (;;) {
      const pending = this.#answer ??= this.#look(client, name, stored);
      try {
        return await pending;
      } catch (error) {
        // A failed look answers nothing: the next question looks again (the first to see the
        // failure reports it; the others ask again at once).
        if (this.#answer !== pending) continue;
        this.#answer = undefined;
        throw error;
      }
    }
  }

  async #look(client: BackupClientV2, name: string, stored: VersionInfo) {
    const sample = stored.size <= READ_WHOLE_BYTES || !this.#small
      ? { name, info: stored }
      : this.#small;
    // A sample that fails is not tried again.
    if (sample === this.#small) this.#small = undefined;
    return await sealedOnServer(client, sample.name, sample.info) ? sample.name : undefined;
  }
}

/**
 * Whether the server's copy of `name` (`stored`) is sealed: its size fits the sealed format and
 * its first bytes are the sealed format's magic. A small copy is read whole; of a larger one only
 * the start, and its connection is then closed (its answer cannot be left half read).
 */
export async function sealedOnServer(
  client: BackupClientV2,
  name: string,
  stored: VersionInfo,
): Promise<boolean> {
  if (plainSize(stored.size) === undefined) return false;
  const start = new Uint8Array(MAGIC.length);
  let filled = 0;
  const enough = new Error("the start is enough");
  const sink: ByteSink = {
    write(bytes) {
      const take = Math.min(start.length - filled, bytes.length);
      start.set(bytes.subarray(0, take), filled);
      filled += take;
      if (filled === start.length && stored.size > READ_WHOLE_BYTES) return Promise.reject(enough);
      return Promise.resolve(bytes.length);
    },
  };
  try {
    await client.retrieve(name, sink, { versionId: stored.versionId });
  } catch (error) {
    if (error !== enough) throw error;
  }
  return looksSealed(start.subarray(0, filled), stored.size);
}
