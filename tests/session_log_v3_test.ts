/**
 * `SessionLogV3` with a clock moved by hand: blob requests answered as asked are summed up, a line
 * at the first one a minute after the last line and one at the end; each line counts what came
 * since the one before.
 */
import assert from "node:assert/strict";
import { OpV3 } from "../protocol/v3/constants.ts";
import type { RequestV3 } from "../protocol/v3/requests.ts";
import { createLogger } from "../server/log.ts";
import { BLOB_LINE_EVERY_MS, SessionLogV3 } from "../server/session_log_v3.ts";
import { ServerStats } from "../server/stats.ts";

Deno.test("a long connection's blob requests are a line a minute, each counting what came since the last", () => {
  let now = 1_000;
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({
    format: "json",
    writeLine: (line) => lines.push(JSON.parse(line)),
  });
  const stats = new ServerStats();
  const log = new SessionLogV3({ stats, logger, peer: "127.0.0.1:9", now: () => now });
  const get = { op: OpV3.GetBlob, userId: 5 } as RequestV3;
  log.request(get, 100, 232, now);
  now += BLOB_LINE_EVERY_MS - 1;
  log.request(get, 100, 232, now);
  assert.equal(lines.length, 0, "not a minute yet");
  now += 1;
  log.request(get, 100, 232, now);
  assert.equal(lines.length, 1);
  assert.deepEqual(lines[0].requests, { "get-blob": { "232": 3 } });
  assert.equal(lines[0].bytesOut, 300);
  assert.equal(lines[0].durationMs, BLOB_LINE_EVERY_MS);
  now += 10;
  log.request({ op: OpV3.PutBlob, userId: 5 } as RequestV3, 40, 231, now);
  log.end();
  assert.equal(lines.length, 2);
  assert.deepEqual(lines[1].requests, { "put-blob": { "231": 1 } });
  assert.equal(lines[1].bytesIn, 40);
  assert.equal(lines[1].bytesOut, 0);
  assert.equal(lines[1].durationMs, 10);
  log.end();
  assert.equal(lines.length, 2, "nothing since: no line");
  assert.equal(stats.snapshot(0, {} as never).requests["get-blob"]["232"], 3);
});
