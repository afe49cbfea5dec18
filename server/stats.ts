import type { RequestRecord } from "./log.ts";
import type { StorageStats } from "../storage/storage.ts";
import { Histogram } from "./histogram.ts";

/** Totals since the server started, as the periodic stats line reports them. */
export interface StatsSnapshot extends StorageStats {
  /** Connections open now. */
  connectionsOpen: number;
  /** Connections accepted since start. */
  connectionsAccepted: number;
  /** Connections refused for being over the limit. */
  connectionsRefused: number;
  /** Requests by op and status, e.g. `{ "backup": { "212": 10, "1003": 1 } }`. */
  requests: Record<string, Record<string, number>>;
  /** Payload bytes received (backups). */
  bytesIn: number;
  /** Payload bytes sent (retrieves and lists). */
  bytesOut: number;
  /** Uploads begun in storage and not yet committed or dropped. */
  uploadsInFlight: number;
}

/** Counts what the server does, for `--stats-interval`. */
export class ServerStats {
  connectionsAccepted = 0;
  connectionsRefused = 0;
  uploadsInFlight = 0;
  /** Request durations in seconds, by op. */
  readonly requestSeconds: Histogram = new Histogram();
  /**
   * Storage backend calls in seconds, by call: whoever opened the store observes them (the S3
   * backend reports its requests) and hands the histogram over.
   */
  readonly storageSeconds: Histogram;
  readonly #requests: Record<string, Record<string, number>> = {};
  #bytesIn = 0;
  #bytesOut = 0;

  /**
   * Starts the totals at zero.
   * @param storageSeconds where the store's call durations are observed; default: a new, empty one
   */
  constructor(storageSeconds: Histogram = new Histogram()) {
    this.storageSeconds = storageSeconds;
  }

  /** Counts one request from its log record. */
  countRequest(record: RequestRecord): void {
    const byStatus = this.#requests[record.op] ??= {};
    byStatus[record.status] = (byStatus[record.status] ?? 0) + 1;
    this.requestSeconds.observe(record.op, record.durationMs / 1000);
    if (record.op === "backup" || record.op === "put-blob") this.#bytesIn += record.bytes;
    else this.#bytesOut += record.bytes;
  }

  /** The totals now, with the number of open connections and storage's counters. */
  snapshot(connectionsOpen: number, storage: StorageStats): StatsSnapshot {
    return {
      connectionsOpen,
      connectionsAccepted: this.connectionsAccepted,
      connectionsRefused: this.connectionsRefused,
      requests: structuredClone(this.#requests),
      bytesIn: this.#bytesIn,
      bytesOut: this.#bytesOut,
      uploadsInFlight: this.uploadsInFlight,
      ...storage,
    };
  }
}
