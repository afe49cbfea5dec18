/**
 * The protocol's conformance tests (version 1, byte for byte over a socket), run against whatever
 * `open` serves: one server here, two S3-backed servers behind HAProxy in `tests/s3/`. Each test
 * keeps to user ids of its own, so that one deployment can serve them all.
 *
 * @module
 */
import assert from "node:assert/strict";
import { decodeList, encodeRequestHeader, Op, Status } from "../protocol/mod.ts";
import { concat, hex, RawClient, toHex, utf8 } from "./_helpers.ts";

/** Something listening on 127.0.0.1:`port` that speaks the protocol. */
export type OpenTarget = () => Promise<{ port: number } & AsyncDisposable>;

/** A v1 backup request with its payload. */
export const backup = (userId: number, name: string, payload: Uint8Array): Uint8Array =>
  concat(
    encodeRequestHeader({ userId, op: Op.Backup, name, payloadSize: payload.length }),
    payload,
  );
/** A v1 retrieve request. */
export const retrieve = (userId: number, name: string): Uint8Array =>
  encodeRequestHeader({ userId, op: Op.Retrieve, name });
const remove = (userId: number, name: string) =>
  encodeRequestHeader({ userId, op: Op.Delete, name });
/** A v1 list request. */
export const list = (userId: number): Uint8Array => encodeRequestHeader({ userId, op: Op.List });

/** Registers the conformance tests under `label`. */
export function protocolConformance(label: string, open: OpenTarget): void {
  const test = (name: string, fn: () => Promise<void>) =>
    Deno.test({ name: `${label}: ${name}`, fn, sanitizeResources: false, sanitizeOps: false });

  test("the test vectors of PROTOCOL.md, byte for byte over a socket", async () => {
    await using t = await open();
    using client = await RawClient.connect(t.port);
    await client.send(hex("01000000 01 ca"));
    assert.equal(toHex((await client.readResponse()).raw), "01ea03"); // 1002: no files yet
    await client.send(hex("01000000 01 64 0500 612e747874 02000000 6869"));
    assert.equal(toHex((await client.readResponse()).raw), toHex(hex("01 d400 0500 612e747874")));
    await client.send(hex("01000000 01 c8 0500 612e747874"));
    assert.equal(
      toHex((await client.readResponse()).raw),
      toHex(hex("01 d200 0500 612e747874 02000000 6869")),
    );
    await client.send(backup(1, "b/c.bin", utf8("")));
    await client.readResponse();
    await client.send(hex("01000000 01 ca"));
    const listed = await client.readResponse();
    assert.equal(listed.header.status, Status.ListSent);
    assert.match(listed.header.name, /^[A-Za-z0-9]{32}$/);
    assert.equal(toHex(listed.raw.subarray(0, 5)), "01d3002000");
    assert.equal(
      toHex(listed.raw.subarray(5 + 32)),
      toHex(hex("0e000000 612e7478740a622f632e62696e0a")),
    );
    await client.send(hex("01000000 01 c9 0500 612e747874"));
    assert.equal(toHex((await client.readResponse()).raw), toHex(hex("01 d400 0500 612e747874")));
    await client.send(hex("01000000 01 c8 0500 612e747874"));
    assert.equal(toHex((await client.readResponse()).raw), toHex(hex("01 e903 0500 612e747874")));
    await client.send(hex("01000000 01 c9 0500 612e747874"));
    assert.equal(toHex((await client.readResponse()).raw), toHex(hex("01 e903 0500 612e747874")));
  });

  test("an unknown op gets 1003 and the connection is closed", async () => {
    await using t = await open();
    using client = await RawClient.connect(t.port);
    await client.send(hex("01000000 01 63"));
    assert.equal(toHex((await client.readResponse()).raw), "01eb03");
    assert.ok(await client.isClosedByServer());
  });

  test("many requests on one connection, each answered in full before the next", async () => {
    await using t = await open();
    using client = await RawClient.connect(t.port);
    for (let i = 0; i < 50; i++) {
      const payload = utf8(`content ${i}`.repeat(i));
      await client.send(backup(3, `f${i}`, payload));
      assert.equal((await client.readResponse()).header.status, Status.Done);
      await client.send(retrieve(3, `f${i}`));
      const restored = await client.readResponse();
      assert.equal(restored.header.status, Status.FileRestored);
      assert.equal(toHex(restored.payload), toHex(payload));
    }
    await client.send(list(3));
    assert.equal(decodeList((await client.readResponse()).payload).length, 50);
  });

  test("pipelined requests sent in one write are answered in order", async () => {
    await using t = await open();
    using client = await RawClient.connect(t.port);
    await client.send(concat(
      backup(4, "x", utf8("one")),
      retrieve(4, "x"),
      backup(4, "x", utf8("two")),
      retrieve(4, "x"),
      remove(4, "x"),
      retrieve(4, "x"),
      list(4),
    ));
    const statuses: number[] = [];
    const payloads: string[] = [];
    for (let i = 0; i < 7; i++) {
      const response = await client.readResponse();
      statuses.push(response.header.status);
      if (response.header.status === Status.FileRestored) {
        payloads.push(new TextDecoder().decode(response.payload));
      }
    }
    assert.deepEqual(statuses, [212, 210, 212, 210, 212, 1001, 1002]);
    assert.deepEqual(payloads, ["one", "two"]);
  });

  test("a user sees only their own files", async () => {
    await using t = await open();
    using client = await RawClient.connect(t.port);
    await client.send(backup(10, "secret.txt", utf8("ten")));
    await client.readResponse();
    await client.send(retrieve(11, "secret.txt"));
    assert.equal((await client.readResponse()).header.status, Status.FileNotFound);
    await client.send(list(11));
    assert.equal((await client.readResponse()).header.status, Status.NoFiles);
    await client.send(remove(11, "secret.txt"));
    assert.equal((await client.readResponse()).header.status, Status.FileNotFound);
    await client.send(retrieve(10, "secret.txt"));
    assert.equal(new TextDecoder().decode((await client.readResponse()).payload), "ten");
  });

  test("nested names are stored and listed as sent, in byte order, and gone on delete", async () => {
    await using t = await open();
    using client = await RawClient.connect(t.port);
    const names = ["docs/2024/report.pdf", "docs/notes.txt", "Docs/Notes.txt", "z", "名前/😀"];
    for (const name of names) {
      await client.send(backup(5, name, utf8(name)));
      assert.equal((await client.readResponse()).header.status, Status.Done);
    }
    await client.send(list(5));
    assert.deepEqual(decodeList((await client.readResponse()).payload), [
      "Docs/Notes.txt",
      "docs/2024/report.pdf",
      "docs/notes.txt",
      "z",
      "名前/😀",
    ]);
    await client.send(remove(5, "docs/2024/report.pdf"));
    await client.readResponse();
    await client.send(list(5));
    assert.equal(decodeList((await client.readResponse()).payload).length, 4);
  });

  test("an empty file round-trips, and a backup replaces the old content", async () => {
    await using t = await open();
    using client = await RawClient.connect(t.port);
    await client.send(backup(6, "e", new Uint8Array()));
    assert.equal((await client.readResponse()).header.status, Status.Done);
    await client.send(retrieve(6, "e"));
    const empty = await client.readResponse();
    assert.equal(empty.header.payloadSize, 0);
    await client.send(backup(6, "e", utf8("now longer")));
    await client.readResponse();
    await client.send(retrieve(6, "e"));
    assert.equal(new TextDecoder().decode((await client.readResponse()).payload), "now longer");
  });

  test("retrieving or deleting a folder's name is 'file does not exist'", async () => {
    await using t = await open();
    using client = await RawClient.connect(t.port);
    await client.send(backup(7, "dir/file", utf8("x")));
    await client.readResponse();
    await client.send(retrieve(7, "dir"));
    assert.equal((await client.readResponse()).header.status, Status.FileNotFound);
    await client.send(remove(7, "dir"));
    assert.equal((await client.readResponse()).header.status, Status.FileNotFound);
    await client.send(retrieve(7, "dir/file/deeper"));
    assert.equal((await client.readResponse()).header.status, Status.FileNotFound);
  });

  test("a backup that cannot be stored gets 1003 and the connection stays in step", async () => {
    await using t = await open();
    using client = await RawClient.connect(t.port);
    await client.send(backup(8, "dir/file", utf8("x")));
    await client.readResponse();
    // "dir" names a folder: a file cannot take its name. The payload is still read, so the next
    // request works.
    await client.send(backup(8, "dir", utf8("a payload that must be drained")));
    assert.equal((await client.readResponse()).header.status, Status.GeneralError);
    // A file cannot become a folder either.
    await client.send(backup(8, "dir/file/below", utf8("y")));
    assert.equal((await client.readResponse()).header.status, Status.GeneralError);
    await client.send(list(8));
    assert.deepEqual(decodeList((await client.readResponse()).payload), ["dir/file"]);
  });
}
