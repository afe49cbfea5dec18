/**
 * Uploads in flight, counted for the metrics: the server wraps the storage it was given, so that
 * every upload it begins is counted until it is committed or aborted.
 *
 * @module
 */
import type { Storage, Upload } from "../storage/storage.ts";
import type { ServerStats } from "./stats.ts";

/** `storage` with its uploads in flight counted in `stats.uploadsInFlight`. */
export function countingUploads(storage: Storage, stats: ServerStats): Storage {
  const beginUpload: Storage["beginUpload"] = async (userId, name, options) => {
    const upload = await storage.beginUpload(userId, name, options);
    stats.uploadsInFlight++;
    let ended = false;
    const end = () => {
      if (!ended) stats.uploadsInFlight--;
      ended = true;
    };
    const counted: Upload = {
      write: (bytes) => upload.write(bytes),
      commit: (commitOptions) => upload.commit(commitOptions).finally(end),
      abort: () => upload.abort().finally(end),
    };
    return counted;
  };
  return new Proxy(storage, {
    get: (target, key) => {
      if (key === "beginUpload") return beginUpload;
      const value = Reflect.get(target, key, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}
