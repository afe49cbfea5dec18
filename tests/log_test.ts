import assert from "node:assert/strict";
import { createLogger } from "../server/log.ts";

Deno.test("text log lines: plain values bare, client text quoted, totals as JSON, one line each", () => {
  const lines: string[] = [];
  const logger = createLogger({ format: "text", writeLine: (line) => lines.push(line) });
  logger.notice("stats", { bytesIn: 10, requests: { backup: { 212: 1 } }, absent: undefined });
  logger.info("request", { name: 'a "b"\nc', op: "backup" });
  assert.equal(lines.length, 2);
  assert.match(lines[0], /^\S+ INFO stats bytesIn=10 requests=\{"backup":\{"212":1\}\}$/);
  assert.match(lines[1], /^\S+ INFO request name="a \\"b\\"\\nc" op=backup$/);
});
