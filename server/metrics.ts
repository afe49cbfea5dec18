/**
 * The Prometheus text exposition of the server's counters: the totals the stats line reports, the
 * request and storage-call histograms, named as Prometheus expects.
 *
 * @module
 */
import type { StatsSnapshot } from "./stats.ts";
import type { Histogram } from "./histogram.ts";

/** What the metrics page shows. */
export interface MetricsInput {
  snapshot: StatsSnapshot;
  /** Request durations by op. */
  requestSeconds: Histogram;
  /** Calls to the storage backend by call (S3 requests), if it reports them. */
  storageSeconds: Histogram;
}

/**
 * Renders the metrics page.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Histogram } from "./histogram.ts";
 * const text = renderMetrics({
 *   snapshot: {
 *     connectionsOpen: 1, connectionsAccepted: 2, connectionsRefused: 0, uploadsInFlight: 0,
 *     requests: { backup: { "212": 3 } }, bytesIn: 10, bytesOut: 0,
 *     groupCommits: { commits: 1, changes: 3 }, readCache: { hits: 0, files: 0, bytes: 0 },
 *     slowDiskFiles: 0,
 *   },
 *   requestSeconds: new Histogram([1]),
 *   storageSeconds: new Histogram([1]),
 * });
 * assert.match(text, /^backup_requests_total\{op="backup",status="212"\} 3$/m);
 * ```
 */
export function renderMetrics(input: MetricsInput): string {
  const { snapshot: s } = input;
  const lines: string[] = [];
  const metric = (name: string, type: string, help: string, samples: [string, number][]) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of samples) lines.push(`${name}${labels} ${value}`);
  };
  const requests: [string, number][] = [];
  for (const [op, byStatus] of Object.entries(s.requests)) {
    for (const [status, count] of Object.entries(byStatus)) {
      requests.push([`{op="${op}",status="${status}"}`, count]);
    }
  }
  metric("backup_requests_total", "counter", "Requests answered, by op and status.", requests);
  metric("backup_received_bytes_total", "counter", "Payload bytes received.", [["", s.bytesIn]]);
  metric("backup_sent_bytes_total", "counter", "Payload bytes sent.", [["", s.bytesOut]]);
  metric("backup_connections_open", "gauge", "Connections open now.", [["", s.connectionsOpen]]);
  metric("backup_connections_accepted_total", "counter", "Connections accepted.", [[
    "",
    s.connectionsAccepted,
  ]]);
  metric("backup_connections_refused_total", "counter", "Connections refused at the limit.", [[
    "",
    s.connectionsRefused,
  ]]);
  metric("backup_uploads_in_flight", "gauge", "Uploads begun and not yet ended.", [[
    "",
    s.uploadsInFlight,
  ]]);
  metric("backup_commits_total", "counter", "Storage commits made durable.", [[
    "",
    s.groupCommits.commits,
  ]]);
  metric(
    "backup_committed_changes_total",
    "counter",
    "Uploads and deletes those commits carried.",
    [[
      "",
      s.groupCommits.changes,
    ]],
  );
  metric("backup_read_cache_hits_total", "counter", "Retrieves served from memory.", [[
    "",
    s.readCache.hits,
  ]]);
  metric("backup_read_cache_files", "gauge", "Files in the read cache.", [["", s.readCache.files]]);
  metric("backup_read_cache_bytes", "gauge", "Bytes in the read cache.", [["", s.readCache.bytes]]);
  metric("backup_slow_disk_files_total", "counter", "Transfers moved to the thread pool.", [[
    "",
    s.slowDiskFiles,
  ]]);
  histogram(
    lines,
    "backup_request_duration_seconds",
    "Request durations, by op.",
    "op",
    input.requestSeconds,
  );
  histogram(
    lines,
    "backup_storage_request_duration_seconds",
    "Requests to the storage backend, by call.",
    "call",
    input.storageSeconds,
  );
  return lines.join("\n") + "\n";
}

function histogram(lines: string[], name: string, help: string, label: string, h: Histogram) {
  lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} histogram`);
  for (const [value, series] of h.series()) {
    let cumulative = 0;
    h.bounds.forEach((bound, i) => {
      cumulative += series.counts[i];
      lines.push(`${name}_bucket{${label}="${value}",le="${bound}"} ${cumulative}`);
    });
    lines.push(`${name}_bucket{${label}="${value}",le="+Inf"} ${series.count}`);
    lines.push(`${name}_sum{${label}="${value}"} ${series.sum}`);
    lines.push(`${name}_count{${label}="${value}"} ${series.count}`);
  }
}
