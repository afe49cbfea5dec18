import assert from "node:assert/strict";
import { encodeRequestHeader, Op, Status } from "../protocol/mod.ts";
import { RawClient, startTestServer, utf8 } from "./_helpers.ts";
import { backup, protocolConformance } from "./_protocol_conformance.ts";
import { storedFiles, storedNames } from "../harness/stored.ts";

Deno.test.sanitizer({ ops: true, resources: true });

protocolConformance("one server", startTestServer);

Deno.test("names are stored under the root as sent; a refused backup leaves no data file", async () => {
  await using t = await startTestServer();
  using client = await RawClient.connect(t.port);
  for (const name of ["docs/2024/report.pdf", "docs/notes.txt", "z", "名前/😀"]) {
    await client.send(backup(5, name, utf8(name)));
    await client.readResponse();
  }
  await client.send(
    encodeRequestHeader({ userId: 5, op: Op.Delete, name: "docs/2024/report.pdf" }),
  );
  await client.readResponse();
  assert.deepEqual(storedNames(t.root), ["5/docs/notes.txt", "5/z", "5/名前/😀"]);
  await client.send(backup(5, "z/below", utf8("a payload that must be drained")));
  assert.equal((await client.readResponse()).header.status, Status.GeneralError);
  assert.deepEqual(await storedFiles(t.root), []);
});

Deno.test("one log line per request with peer, user, op, name, bytes, status, duration", async () => {
  await using t = await startTestServer();
  using client = await RawClient.connect(t.port);
  await client.send(backup(9, "log me", utf8("12345")));
  await client.readResponse();
  const record = t.logs.map((line) => JSON.parse(line)).find((entry) => entry.msg === "request");
  assert.ok(record, "a request line was logged");
  assert.match(record.peer, /^127\.0\.0\.1:\d+$/);
  assert.equal(record.userId, 9);
  assert.equal(record.op, "backup");
  assert.equal(record.name, "log me");
  assert.equal(record.bytes, 5);
  assert.equal(record.status, 212);
  assert.equal(typeof record.durationMs, "number");
  assert.match(record.time, /^\d{4}-\d\d-\d\dT/);
});
