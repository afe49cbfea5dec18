import assert from "node:assert/strict";
import { Op, Status } from "../protocol/constants.ts";
import { encodeResponseHeader } from "../protocol/response.ts";
import { listAnswer, startFakeServer } from "./_fake_server.ts";
import { concat, startTestServer, utf8 } from "./_helpers.ts";
import { clientWorkspace } from "./_processes.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const workspace = () => clientWorkspace("backup-servers-", { args: ["--user=1"] });

Deno.test("a server that never answers is given up after --timeout: exit 3", async () => {
  await using w = await workspace();
  await using fake = startFakeServer(() => "hang");
  const result = await w.client(`--server=127.0.0.1:${fake.port}`, "--timeout", "0.3", "list");
  assert.equal(result.code, 3);
  assert.match(result.stderr, /no answer from the server within 0.3 s/);
});

Deno.test("restoring a missing file from a server that closes after each answer: exit 1", async () => {
  await using t = await startTestServer({ closeAfterResponse: true });
  await using w = await workspace();
  const result = await w.client(`--server=127.0.0.1:${t.port}`, "restore", "missing.txt");
  assert.equal(result.code, 1, result.stderr);
  assert.match(result.stderr, /file does not exist: missing\.txt/);
});

Deno.test("a server that waits for an 8-byte list request gets it, on a connection not reused", async () => {
  await using w = await workspace();
  // Such a server reads a name length after the op, even for a list; answers then.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const served = (async () => {
    for await (const conn of listener) {
      const request = new Uint8Array(8);
      let filled = 0;
      while (filled < 8) {
        const count = await conn.read(request.subarray(filled));
        if (count === null) break;
        filled += count;
      }
      if (filled === 8 && request[5] === Op.List) await conn.write(listAnswer(["a.txt"]));
      conn.close();
    }
  })();
  const port = (listener.addr as Deno.NetAddr).port;
  const result = await w.client(`--server=127.0.0.1:${port}`, "list");
  listener.close();
  await served;
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout, "a.txt\n");
});

Deno.test("a padded error answer is not read as the next answer", async () => {
  await using w = await workspace();
  await using fake = startFakeServer((header) =>
    header.op === Op.Retrieve
      ? concat(
        encodeResponseHeader({ status: Status.FileNotFound, name: header.name }),
        utf8("\0\0\0\0"),
      )
      : listAnswer(["p/x.txt"])
  );
  // restore NAME looks for a folder of that name after the 1001: on a fresh connection.
  const result = await w.client(`--server=127.0.0.1:${fake.port}`, "restore", "q");
  assert.equal(result.code, 1, result.stderr);
  assert.match(result.stderr, /file does not exist: q/);
});

Deno.test("an upload over the server's size limit is named as a refusal, not a connection problem", async () => {
  await using t = await startTestServer({ limits: { maxFileSize: 1024 } });
  await using w = await workspace();
  await Deno.writeFile(`${w.dir}/big.bin`, new Uint8Array(8 * 1024 * 1024));
  const result = await w.client(`--server=127.0.0.1:${t.port}`, "backup", "big.bin");
  assert.equal(result.code, 4, result.stderr);
  assert.match(result.stderr, /not backed up: big\.bin: the server (refused|answered)/);
  assert.doesNotMatch(result.stderr, /connection problem/);
});
