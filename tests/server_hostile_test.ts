import assert from "node:assert/strict";
import { encodeRequestHeader, Op, Status } from "../protocol/mod.ts";
import { concat, hex, RawClient, startTestServer, toHex, utf8 } from "./_helpers.ts";
import { storedFiles, storedNames } from "../harness/stored.ts";
import { HOSTILE_NAMES } from "./_hostile_names.ts";

Deno.test.sanitizer({ ops: true, resources: true });

/** A request header with raw name bytes, bypassing the client-side checks. */
function rawRequest(op: number, name: Uint8Array, payloadSize?: number): Uint8Array {
  const head = hex("2a000000 01");
  const lengths = new Uint8Array(2);
  new DataView(lengths.buffer).setUint16(0, name.length, true);
  const size = new Uint8Array(payloadSize === undefined ? 0 : 4);
  if (payloadSize !== undefined) new DataView(size.buffer).setUint32(0, payloadSize, true);
  return concat(head, new Uint8Array([op]), lengths, name, size);
}

Deno.test("every hostile name gets 1003, the connection closes, and nothing is written", async () => {
  await using t = await startTestServer();
  for (const [label, name] of HOSTILE_NAMES) {
    for (const op of [Op.Backup, Op.Retrieve, Op.Delete]) {
      using client = await RawClient.connect(t.port);
      const payload = op === Op.Backup ? utf8("evil") : new Uint8Array();
      await client.send(concat(rawRequest(op, name, op === Op.Backup ? 4 : undefined), payload));
      const response = await client.readResponse();
      assert.equal(toHex(response.raw), "01eb03", `${label}, op ${op}`);
      assert.ok(await client.isClosedByServer(), `${label}, op ${op}: closed`);
    }
  }
  assert.deepEqual(storedNames(t.root), [], "nothing was stored");
  assert.deepEqual(await storedFiles(t.root), [], "nothing was written");
});

Deno.test("a name length of 0 or over 1024 is refused before any name byte is read", async () => {
  await using t = await startTestServer();
  for (const length of ["0000", "0104", "ffff"]) {
    using client = await RawClient.connect(t.port);
    await client.send(hex(`2a000000 01 c8 ${length}`)); // no name bytes follow
    assert.equal(toHex((await client.readResponse()).raw), "01eb03");
    assert.ok(await client.isClosedByServer());
  }
});

Deno.test("the server keeps serving others after a hostile connection", async () => {
  await using t = await startTestServer();
  using bad = await RawClient.connect(t.port);
  using good = await RawClient.connect(t.port);
  await bad.send(rawRequest(Op.Retrieve, utf8("../../etc/passwd")));
  assert.equal((await bad.readResponse()).header.status, Status.GeneralError);
  await good.send(encodeRequestHeader({ userId: 1, op: Op.List }));
  assert.equal((await good.readResponse()).header.status, Status.NoFiles);
});
