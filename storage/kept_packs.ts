/**
 * A pack store that keeps what it stored: a snapshot session's packs, once stored, may be indexed
 * already (both engines index a pack behind the puts that follow), so a pack writer that fails
 * later must not delete them (`PackWriter.abort` removes every pack it put). Shared by the two
 * engines' snapshot sessions.
 *
 * @module
 */
import type { ObjectStore, ObjectWriter } from "../objects/object_store.ts";

/**
 * `store` as a session's pack writer sees it: `stored` is told the name of each object committed
 * through `create` (each pack, once the store has it), and such an object is never deleted
 * through it. A writer that failed removes the packs it put (`PackWriter.abort`); a pack of the
 * session's stored before may be indexed already (a flush behind), and must stay: it is the
 * session's, and indexed at the latest by its close (S3: kept by its pin; embedded: an unindexed
 * one is an orphan the next open removes).
 */
export function keepingStored(store: ObjectStore, stored: (name: string) => void): ObjectStore {
  const kept = new Set<string>();
  return {
    put: (name, body) => store.put(name, body),
    async create(name: string): Promise<ObjectWriter> {
      const writer = await store.create(name);
      return {
        write: (bytes) => writer.write(bytes),
        abort: () => writer.abort(),
        async commit() {
          await writer.commit();
          kept.add(name);
          stored(name);
        },
      };
    },
    get: (name, range) => store.get(name, range),
    stat: (name) => store.stat(name),
    list: (prefix) => store.list(prefix),
    delete: (name) => kept.has(name) ? Promise.resolve() : store.delete(name),
  };
}
