import assert from "node:assert/strict";
import {
  decodeList,
  encodeList,
  encodeRequestHeader,
  encodeResponseHeader,
  InvalidNameError,
  Op,
  parseRequestHeader,
  parseResponseHeader,
  ProtocolError,
  randomListName,
  Status,
} from "../protocol/mod.ts";
import { BufferedReader, UnexpectedEofError } from "../io/buffered_reader.ts";
import { concat, hex, toHex, utf8 } from "./_helpers.ts";

Deno.test.sanitizer({ ops: true, resources: true });

// The vectors of PROTOCOL.md, verbatim.
const BACKUP_A = "01000000 01 64 0500 612e747874 02000000 6869";
const RETRIEVE_A = "01000000 01 c8 0500 612e747874";
const DELETE_A = "01000000 01 c9 0500 612e747874";
const LIST = "01000000 01 ca";
const DONE_A = "01 d400 0500 612e747874";
const RESTORED_A = "01 d200 0500 612e747874 02000000 6869";
const NOT_FOUND_A = "01 e903 0500 612e747874";
const NO_FILES = "01 ea03";
const GENERAL_ERROR = "01 eb03";
const LIST_SENT = "01 d300 2000" + "78".repeat(32) + "0e000000 612e7478740a622f632e62696e0a";

Deno.test("request vectors encode byte for byte", () => {
  const backup = encodeRequestHeader({ userId: 1, op: Op.Backup, name: "a.txt", payloadSize: 2 });
  assert.equal(toHex(concat(backup, utf8("hi"))), toHex(hex(BACKUP_A)));
  assert.equal(
    toHex(encodeRequestHeader({ userId: 1, op: Op.Retrieve, name: "a.txt" })),
    toHex(hex(RETRIEVE_A)),
  );
  assert.equal(
    toHex(encodeRequestHeader({ userId: 1, op: Op.Delete, name: "a.txt" })),
    toHex(hex(DELETE_A)),
  );
  assert.equal(toHex(encodeRequestHeader({ userId: 1, op: Op.List })), toHex(hex(LIST)));
});

Deno.test("request vectors decode to their fields", () => {
  const backup = parseRequestHeader(hex(BACKUP_A));
  assert.deepEqual(backup, {
    header: { userId: 1, version: 1, op: Op.Backup, name: "a.txt", payloadSize: 2 },
    byteLength: hex(BACKUP_A).length - 2,
  });
  assert.deepEqual(parseRequestHeader(hex(RETRIEVE_A))?.header, {
    userId: 1,
    version: 1,
    op: Op.Retrieve,
    name: "a.txt",
    payloadSize: 0,
  });
  assert.deepEqual(parseRequestHeader(hex(DELETE_A))?.header.op, Op.Delete);
  assert.deepEqual(parseRequestHeader(hex(LIST)), {
    header: { userId: 1, version: 1, op: Op.List, name: "", payloadSize: 0 },
    byteLength: 6,
  });
});

Deno.test("response vectors encode byte for byte", () => {
  const cases: Array<[Parameters<typeof encodeResponseHeader>[0], string]> = [
    [{ status: Status.Done, name: "a.txt" }, DONE_A],
    [{ status: Status.FileNotFound, name: "a.txt" }, NOT_FOUND_A],
    [{ status: Status.NoFiles }, NO_FILES],
    [{ status: Status.GeneralError }, GENERAL_ERROR],
  ];
  for (const [init, vector] of cases) {
    assert.equal(toHex(encodeResponseHeader(init)), toHex(hex(vector)));
  }
  const restored = encodeResponseHeader({
    status: Status.FileRestored,
    name: "a.txt",
    payloadSize: 2,
  });
  assert.equal(toHex(concat(restored, utf8("hi"))), toHex(hex(RESTORED_A)));
  const list = encodeList(["b/c.bin", "a.txt"]);
  const listHead = encodeResponseHeader({
    status: Status.ListSent,
    name: "x".repeat(32),
    payloadSize: list.length,
  });
  assert.equal(toHex(concat(listHead, list)), toHex(hex(LIST_SENT)));
});

Deno.test("response vectors decode to their fields", () => {
  assert.deepEqual(parseResponseHeader(hex(DONE_A))?.header, {
    version: 1,
    status: Status.Done,
    name: "a.txt",
    payloadSize: 0,
  });
  assert.deepEqual(parseResponseHeader(hex(RESTORED_A)), {
    header: { version: 1, status: Status.FileRestored, name: "a.txt", payloadSize: 2 },
    byteLength: hex(RESTORED_A).length - 2,
  });
  assert.deepEqual(parseResponseHeader(hex(NOT_FOUND_A))?.header.status, Status.FileNotFound);
  assert.deepEqual(parseResponseHeader(hex(NO_FILES)), {
    header: { version: 1, status: Status.NoFiles, name: "", payloadSize: 0 },
    byteLength: 3,
  });
  assert.deepEqual(parseResponseHeader(hex(GENERAL_ERROR))?.byteLength, 3);
  const list = parseResponseHeader(hex(LIST_SENT))!;
  assert.equal(list.header.payloadSize, 14);
  assert.deepEqual(decodeList(hex(LIST_SENT).subarray(list.byteLength)), ["a.txt", "b/c.bin"]);
});

Deno.test("every prefix of a header is incomplete, the whole parses", () => {
  for (const vector of [BACKUP_A, RETRIEVE_A, DELETE_A, LIST]) {
    const bytes = hex(vector);
    const whole = parseRequestHeader(bytes)!;
    for (let cut = 0; cut < whole.byteLength; cut++) {
      assert.equal(
        parseRequestHeader(bytes.subarray(0, cut)),
        undefined,
        `${vector} cut at ${cut}`,
      );
    }
  }
  for (const vector of [DONE_A, RESTORED_A, NOT_FOUND_A, NO_FILES, GENERAL_ERROR, LIST_SENT]) {
    const bytes = hex(vector);
    const whole = parseResponseHeader(bytes)!;
    for (let cut = 0; cut < whole.byteLength; cut++) {
      assert.equal(
        parseResponseHeader(bytes.subarray(0, cut)),
        undefined,
        `${vector} cut at ${cut}`,
      );
    }
  }
});

/** A source that hands out bytes in chunks of the given sizes (then the rest), then ends. */
function chunkedSource(bytes: Uint8Array, chunkSize: number) {
  let offset = 0;
  return {
    read(buffer: Uint8Array): Promise<number | null> {
      if (offset >= bytes.length) return Promise.resolve(null);
      const count = Math.min(chunkSize, buffer.length, bytes.length - offset);
      buffer.set(bytes.subarray(offset, offset + count));
      offset += count;
      return Promise.resolve(count);
    },
  };
}

Deno.test("pipelined frames parse the same whether they arrive whole or one byte at a time", async () => {
  const stream = concat(hex(BACKUP_A), hex(RETRIEVE_A), hex(LIST), hex(DELETE_A));
  for (const chunkSize of [1, 2, 3, 7, stream.length]) {
    const reader = new BufferedReader(chunkedSource(stream, chunkSize), 64);
    const ops: number[] = [];
    const scratch = new Uint8Array(8);
    while (true) {
      const frame = await reader.readFrame(parseRequestHeader, "request header");
      if (!frame) break;
      ops.push(frame.header.op);
      let remaining = frame.header.payloadSize;
      const payload: Uint8Array[] = [];
      while (remaining > 0) {
        const chunk = await reader.readSome(remaining, scratch, "payload");
        payload.push(chunk.slice());
        remaining -= chunk.length;
      }
      if (frame.header.op === Op.Backup) assert.equal(toHex(concat(...payload)), "6869");
    }
    assert.deepEqual(ops, [Op.Backup, Op.Retrieve, Op.List, Op.Delete], `chunks of ${chunkSize}`);
  }
});

Deno.test("a stream that ends inside a frame is a typed EOF error, at every cut", async () => {
  const bytes = hex(RETRIEVE_A);
  for (let cut = 1; cut < bytes.length; cut++) {
    const reader = new BufferedReader(chunkedSource(bytes.subarray(0, cut), 1), 64);
    await assert.rejects(
      reader.readFrame(parseRequestHeader, "request header"),
      UnexpectedEofError,
    );
  }
  const empty = new BufferedReader(chunkedSource(new Uint8Array(), 1), 64);
  assert.equal(await empty.readFrame(parseRequestHeader, "request header"), null);
});

Deno.test("an unknown op is refused as soon as the op byte arrives", () => {
  assert.throws(() => parseRequestHeader(hex("01000000 01 65")), ProtocolError);
  assert.throws(() => parseRequestHeader(hex("01000000 01 00")), ProtocolError);
});

Deno.test("a name length out of range is refused before the name arrives", () => {
  assert.throws(() => parseRequestHeader(hex("01000000 01 c8 0000")), InvalidNameError);
  assert.throws(() => parseRequestHeader(hex("01000000 01 c8 0104")), InvalidNameError); // 1025
  assert.equal(parseRequestHeader(hex("01000000 01 c8 0004")), undefined); // 1024: wait for it
});

Deno.test("user id and size are unsigned 32-bit little-endian", () => {
  const header = encodeRequestHeader({
    userId: 0xffff_ffff,
    op: Op.Backup,
    name: "x",
    payloadSize: 0xffff_fffe,
  });
  assert.equal(toHex(header), "ffffffff" + "01" + "64" + "0100" + "78" + "feffffff");
  assert.deepEqual(parseRequestHeader(header)?.header, {
    userId: 0xffff_ffff,
    version: 1,
    op: Op.Backup,
    name: "x",
    payloadSize: 0xffff_fffe,
  });
  assert.throws(() => encodeRequestHeader({ userId: -1, op: Op.List }), RangeError);
  assert.throws(() => encodeRequestHeader({ userId: 2 ** 32, op: Op.List }), RangeError);
});

Deno.test("any client version is accepted and the server always answers version 1", () => {
  assert.equal(parseRequestHeader(hex("07000000 09 ca"))?.header.version, 9);
  assert.equal(encodeResponseHeader({ status: Status.NoFiles })[0], 1);
});

Deno.test("an unknown status is a protocol error for the client", () => {
  assert.throws(() => parseResponseHeader(hex("01 0000")), ProtocolError);
});

Deno.test("the list is sorted by UTF-8 byte order, not UTF-16 order", () => {
  // UTF-8: U+FF5E is ef bd 9e, U+1F600 is f0 9f 98 80, so bytes put U+FF5E first. UTF-16 code
  // units put U+1F600 (d83d de00) first: a plain string sort would get this wrong.
  const names = ["\u{1F600}", "\uFF5E", "B", "a", "a/b"];
  assert.deepEqual(decodeList(encodeList(names)), ["B", "a", "a/b", "\uFF5E", "\u{1F600}"]);
});

Deno.test("the list's own name is 32 alphanumeric characters", () => {
  assert.match(randomListName(), /^[A-Za-z0-9]{32}$/);
  assert.notEqual(randomListName(), randomListName());
});
