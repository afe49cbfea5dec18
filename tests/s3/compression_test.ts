/**
 * Compressed records on a real S3 engine: text and JSON are stored as `z` records (one zstd frame)
 * and read back byte for byte; incompressible bytes stay `f`; usage counts the stored bytes; a `z`
 * record whose body is not the file its key describes is refused, never served; and records in
 * the layout of 9c7e87b (before `z`) are read, listed, counted and replaced.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { zstdCompressSync } from "node:zlib";
import { CorruptStoreError } from "../../storage/storage.ts";
import { recordCharge } from "../../storage/quota_charge.ts";
import { encodeName } from "../../storage/s3/keys.ts";
import { encodeBlob } from "../../repository/blob_codec.ts";
import { Status } from "../../protocol/mod.ts";
import { RawClient } from "../_helpers.ts";
import { retrieve } from "../_protocol_conformance.ts";
import { freshPrefix } from "../../harness/s3_location.ts";
import { startS3Server } from "../../harness/s3_cluster.ts";
import { allOf, keysUnder, openS3, readWhole, store } from "./_s3_storage.ts";

// The client's keep-alive sockets outlive a test by design: only ops are checked.
Deno.test.sanitizer({ ops: true, resources: false });

const encoder = new TextEncoder();
const chargeOf = (name: string) => recordCharge(encoder.encode(encodeName(name)).length);
const sha256 = (bytes: Uint8Array) => new Uint8Array(createHash("sha256").update(bytes).digest());
const base64url = (bytes: Uint8Array) =>
  btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

/** JSON records of the kind a service logs: about `bytes` long. */
function jsonCorpus(bytes: number): Uint8Array {
  const rows = [];
  for (let i = 0, length = 0; length < bytes; i++) {
    const row = JSON.stringify({
      id: i,
      user: `user-${(i * 7919) % 1000}`,
      action: ["login", "upload", "download", "logout"][i % 4],
      at: new Date(1_700_000_000_000 + i * 1037).toISOString(),
      bytes: (i * 104_729) % 9_999_991,
    });
    rows.push(row);
    length += row.length + 1;
  }
  return encoder.encode(rows.join("\n") + "\n");
}

const text = encoder.encode(
  "It was the best of times, it was the worst of times, it was the age of wisdom.\n".repeat(52),
);
const files: Record<string, Uint8Array> = {
  "notes/small.txt": text, // about 4 KiB
  "logs/events.json": jsonCorpus(300 * 1024),
  "logs/big.json": jsonCorpus(3 * 1024 * 1024), // sampled before it is compressed whole
};

Deno.test("s3: text and JSON are stored as z records and read back byte for byte", async () => {
  await using s3 = await openS3();
  for (const [name, bytes] of Object.entries(files)) {
    const metadata = await store(s3.storage, 1, name, bytes);
    assert.equal(metadata.size, bytes.length);
    assert.deepEqual(new Uint8Array(metadata.sha256), sha256(bytes));
  }
  const keys = await keysUnder(s3.client, `${s3.prefix}u/1/`);
  assert.equal(keys.length, 3);
  for (const { key, size } of keys) {
    const [, kind, , , , fileSize] = key.slice(key.indexOf(" ") + 1).split(" ");
    assert.equal(kind, "z", key);
    const name = Object.keys(files).find((n) => key.startsWith(`${s3.prefix}u/1/${n} `))!;
    assert.equal(Number(fileSize), files[name].length, "the key says the file's size");
    assert.ok(size <= files[name].length * 0.4, `${name}: ${size} of ${files[name].length}`);
  }
  for (const [name, bytes] of Object.entries(files)) {
    assert.deepEqual(await readWhole(s3.storage, 1, name), bytes, name);
    const stat = await s3.storage.stat(1, name);
    assert.equal(stat?.size, bytes.length);
    assert.deepEqual(new Uint8Array(stat!.sha256), sha256(bytes));
  }
  // Lists and versions show the file's size, not the stored one.
  for (const version of await allOf(s3.storage.entries(1))) {
    const name = new TextDecoder().decode(version.name);
    assert.equal(version.size, files[name].length, name);
  }
});

Deno.test("s3: incompressible bytes stay an f record, as they are", async () => {
  await using s3 = await openS3();
  const noise = crypto.getRandomValues(new Uint8Array(60_000));
  await store(s3.storage, 1, "noise.bin", noise);
  const [{ key, size }] = await keysUnder(s3.client, `${s3.prefix}u/1/`);
  const fields = key.slice(key.indexOf(" ") + 1).split(" ");
  assert.equal(fields[1], "f", key);
  assert.equal(fields.length, 5, "no SIZE: the record's bytes are the file");
  assert.equal(size, noise.length);
  assert.deepEqual(await readWhole(s3.storage, 1, "noise.bin"), noise);
  // An empty file is an f record too (nothing to compress).
  await store(s3.storage, 1, "empty", new Uint8Array(0));
  assert.deepEqual(await readWhole(s3.storage, 1, "empty"), new Uint8Array(0));
});

Deno.test("s3: a compressed file's usage is its stored bytes", async () => {
  await using s3 = await openS3({ quotaOf: () => 1 << 30 });
  const json = files["logs/events.json"];
  await store(s3.storage, 2, "events.json", json);
  const [{ size: storedSize }] = await keysUnder(s3.client, `${s3.prefix}u/2/`);
  assert.ok(storedSize < json.length * 0.4);
  assert.equal(await s3.storage.usage(2), storedSize + chargeOf("events.json"));
  // A second version adds its own stored bytes and charge.
  const noise = crypto.getRandomValues(new Uint8Array(5000));
  await store(s3.storage, 2, "events.json", noise);
  assert.equal(
    await s3.storage.usage(2),
    storedSize + noise.length + 2 * chargeOf("events.json"),
  );
});

/** Plants a `z` record of `name` claiming `bytes`, whose body is `body`. */
async function plantZ(
  s3: { client: { put(key: string, body: Uint8Array): Promise<void> }; prefix: string },
  userId: number,
  name: string,
  claimed: Uint8Array,
  body: Uint8Array,
  version = 0x100,
) {
  const ver = (Number.MAX_SAFE_INTEGER - version).toString(16).padStart(14, "0");
  const key = `${s3.prefix}u/${userId}/${encodeName(name)} ${ver} z 1000 420 ${
    base64url(sha256(claimed))
  } ${claimed.length}`;
  await s3.client.put(key, body);
}

Deno.test("s3: a z record that is not the file its key describes is refused, never served", async () => {
  await using s3 = await openS3();
  const file = encoder.encode("the file the key describes\n".repeat(200));
  const other = encoder.encode("another file, of the same length!!\n".repeat(200)).slice(
    0,
    file.length,
  );
  const longer = encoder.encode("the file the key describes\n".repeat(201));
  const frameOf = (bytes: Uint8Array) => {
    const encoded = encodeBlob(bytes);
    assert.equal(encoded.compression, "zstd");
    return encoded.stored;
  };
  const hostile: Record<string, Uint8Array> = {
    // A frame of more bytes than the key's SIZE.
    "larger": frameOf(longer),
    // A frame of fewer.
    "shorter": frameOf(file.subarray(0, 1000)),
    // Not zstd at all.
    "garbage": crypto.getRandomValues(new Uint8Array(300)),
    // A frame of SIZE bytes, but other bytes than the key's SHA-256.
    "other-bytes": frameOf(other),
    // A frame that does not declare its size (zstd's streaming form), then trailing bytes.
    "undeclared": new Uint8Array([...zstdCompressSync(file), 1, 2, 3]),
    // A body larger than the file itself.
    "oversized": new Uint8Array(file.length + 1),
    "empty-body": new Uint8Array(0),
  };
  for (const [name, body] of Object.entries(hostile)) await plantZ(s3, 3, name, file, body);
  for (const name of Object.keys(hostile)) {
    // Listed as the key says (lists read no object)...
    assert.equal((await s3.storage.stat(3, name))?.size, file.length, name);
    // ... but never opened as bytes.
    await assert.rejects(readWhole(s3.storage, 3, name), CorruptStoreError, name);
  }
  // A good one, planted the same way, reads.
  await plantZ(s3, 3, "good", file, frameOf(file));
  assert.deepEqual(await readWhole(s3.storage, 3, "good"), file);
});

Deno.test("s3: through a server, a corrupt z record is answered as an error and the server serves on", async () => {
  const prefix = freshPrefix();
  await using s3 = await openS3({}, prefix);
  const file = encoder.encode("served only if whole\n".repeat(100));
  await plantZ(s3, 4, "bad", file, crypto.getRandomValues(new Uint8Array(200)));
  await plantZ(s3, 4, "good", file, encodeBlob(file).stored);
  const server = await startS3Server(prefix);
  try {
    using client = await RawClient.connect(server.port);
    await client.send(retrieve(4, "bad"));
    assert.equal((await client.readResponse()).header.status, Status.GeneralError);
    await client.send(retrieve(4, "good"));
    const good = await client.readResponse();
    assert.equal(good.header.status, Status.FileRestored);
    assert.deepEqual(good.payload, file);
  } finally {
    await server.stop();
  }
});

Deno.test("s3: records in the layout of 9c7e87b are read, listed, counted and replaced", async () => {
  await using s3 = await openS3();
  const { client, prefix } = s3;
  // Keys spelled out as 9c7e87b wrote them (not through today's `recordKey`).
  const ver = (id: number) => (Number.MAX_SAFE_INTEGER - id).toString(16).padStart(14, "0");
  const inline = encoder.encode("an inline file of 9c7e87b, stored as it is\n".repeat(40));
  const past = encoder.encode("its past version\n");
  const large = new Uint8Array(100_000).map((_, i) => (i * 31) & 0xff);
  const user = `${prefix}u/5/`;
  const t = 1_700_000_000_000 * 1024;
  await client.put(`${user}old!!doc ${ver(t)} f 1000 - ${base64url(sha256(past))}`, past);
  await client.put(`${user}old!!doc ${ver(t + 5)} f 2000 420 ${base64url(sha256(inline))}`, inline);
  await client.put(`${prefix}d/5/srv.0000-legacy`, large);
  await client.put(
    `${user}big ${ver(t + 7)} f 3000 384 ${
      base64url(sha256(large))
    } ${large.length} srv.0000-legacy`,
    new Uint8Array(0),
  );
  await client.put(`${user}gone ${ver(t + 1)} f 1000 - ${base64url(sha256(past))}`, past);
  await client.put(`${user}gone ${ver(t + 2)} d`, new Uint8Array(0));

  const { storage } = s3;
  assert.deepEqual(await readWhole(storage, 5, "old doc"), inline);
  assert.deepEqual(await readWhole(storage, 5, "old doc", t), past);
  assert.deepEqual(await readWhole(storage, 5, "big"), large);
  assert.equal(await storage.stat(5, "gone"), undefined);
  const listed = [];
  for await (const page of (await storage.list(5)).pages) listed.push(page);
  assert.equal(new TextDecoder().decode(listed[0]), "big\nold doc\n");
  const big = await storage.stat(5, "big");
  assert.deepEqual({ size: big?.size, mtimeMs: big?.mtimeMs, mode: big?.mode }, {
    size: large.length,
    mtimeMs: 3000,
    mode: 384,
  });
  assert.equal(
    await storage.usage(5),
    past.length + inline.length + large.length + past.length + 2 * chargeOf("old doc") +
      chargeOf("big") + 2 * chargeOf("gone"),
  );
  // Replaced by today's code: the new version is a z record above the old ones, which stay.
  const next = encoder.encode("the new version, compressible ".repeat(100));
  await store(storage, 5, "old doc", next);
  assert.deepEqual(await readWhole(storage, 5, "old doc"), next);
  assert.deepEqual(await readWhole(storage, 5, "old doc", t + 5), inline);
  const kinds = (await keysUnder(client, `${user}old!!doc `)).map(({ key }) => key.split(" ")[2]);
  assert.deepEqual(kinds, ["z", "f", "f"]);
});
