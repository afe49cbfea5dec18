/**
 * Work spread over several connections: each worker takes the next item from a shared queue on
 * its own client, so that one slow file or round trip does not hold the others up. Results are
 * handed back in the order of the items, whatever order they finish in.
 *
 * @module
 */
import type { FileClient } from "./file_client.ts";

/** Clients for the workers: the first is given, the others opened on demand. */
export class ClientPool {
  readonly #first: FileClient;
  readonly #open: () => Promise<FileClient>;
  readonly #extra: FileClient[] = [];
  readonly #size: number;

  /**
   * @param first the client already connected (worker 0)
   * @param open connects another client for the same server and user
   * @param size how many connections at most
   */
  constructor(first: FileClient, open: () => Promise<FileClient>, size: number) {
    this.#first = first;
    this.#open = open;
    this.#size = Math.max(1, size);
  }

  /** How many connections at most. */
  get size(): number {
    return this.#size;
  }

  /**
   * Runs `work` on every item, `size` at a time, each worker on its own client; `done(index,
   * result)` is called in item order. Rejects with the first error `work` throws (the others stop
   * taking items).
   */
  async run<T, R>(
    items: T[],
    work: (client: FileClient, item: T) => Promise<R>,
    done: (item: T, result: R) => void,
  ): Promise<void> {
    const workers = Math.min(this.#size, items.length);
    while (this.#extra.length < workers - 1) this.#extra.push(await this.#open());
    const clients = [this.#first, ...this.#extra].slice(0, workers);
    const results = new Map<number, R>();
    let next = 0;
    let reported = 0;
    let failed = false;
    const report = () => {
      while (results.has(reported)) {
        done(items[reported], results.get(reported)!);
        results.delete(reported);
        reported++;
      }
    };
    await Promise.all(clients.map(async (client) => {
      while (!failed && next < items.length) {
        const index = next++;
        try {
          results.set(index, await work(client, items[index]));
        } catch (error) {
          failed = true;
          throw error;
        }
        report();
      }
    }));
  }

  /** Closes the clients this pool opened (not the first). */
  close(): void {
    for (const client of this.#extra) client.close();
  }
}
