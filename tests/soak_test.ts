import assert from "node:assert/strict";
import { runSoak } from "../soak/soak.ts";

Deno.test.sanitizer({ ops: true, resources: true });

Deno.test("a short soak: random operations from 8 clients, every answer matches the model", async () => {
  const report = await runSoak({ seconds: 3, clients: 8, maxFileBytes: 256 * 1024 });
  const total = Object.values(report.operations).reduce((a, b) => a + b, 0);
  console.log(
    `${total} operations, ${report.filesVerified} files verified, peak RSS ${report.peakRssBytes}`,
  );
  assert.deepEqual(report.errors, []);
  for (const [op, count] of Object.entries(report.operations)) assert.ok(count > 0, `${op} ran`);
  assert.ok(report.filesVerified > 0);
  if (Deno.build.os === "linux") assert.ok(report.peakRssBytes! > 0, "peak memory measured");
});
