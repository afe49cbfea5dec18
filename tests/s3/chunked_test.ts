/**
 * Large files as chunks in packs on a real S3 engine (`chunkFiles`): a 1 MiB edit in a 40 MiB file
 * costs a few MiB, the same bytes under a second name nothing, every version reads back byte for
 * byte; a damaged pack byte is refused; a pack a repack moved is found again through the record;
 * old records (`f`, data objects, `z`) and `c` records live side by side in one history and in
 * the usage.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { CorruptChunkError, MissingChunkError } from "../../repository/chunked_source.ts";
import { recordCharge } from "../../storage/quota_charge.ts";
import { DigestMismatchError } from "../../storage/errors.ts";
import { decodeChunkTable, encodeChunkTable } from "../../storage/s3/chunk_list.ts";
import { encodeName } from "../../storage/s3/keys.ts";
import { allOf, keysUnder, openS3, readWhole, store } from "./_s3_storage.ts";
import { bytesUnder, randomBytes, recordKinds } from "./_chunked.ts";

// The client's keep-alive sockets outlive a test by design: only ops are checked.
Deno.test.sanitizer({ ops: true, resources: false });

const MiB = 1024 * 1024;
const chargeOf = (name: string) => recordCharge(new TextEncoder().encode(encodeName(name)).length);

Deno.test("s3 chunked: 1 MiB changed in a 40 MiB file grows the store by at most 8 MiB", async () => {
  await using s3 = await openS3({ chunkFiles: true });
  const first = randomBytes(40 * MiB);
  await store(s3.storage, 1, "disk.img", first);
  const before = await bytesUnder(s3.client, s3.prefix);
  assert.ok(before < 41 * MiB, `the first backup stores the file once: ${before}`);
  const second = first.slice();
  second.set(randomBytes(MiB), 20 * MiB);
  await store(s3.storage, 1, "disk.img", second);
  await s3.storage.settled(); // the index object too
  const grown = (await bytesUnder(s3.client, s3.prefix)) - before;
  assert.ok(grown <= 8 * MiB, `grew by ${(grown / MiB).toFixed(2)} MiB`);
  assert.deepEqual(await recordKinds(s3.client, `${s3.prefix}u/1/`, "disk.img"), ["c", "c"]);
  const versions = await allOf(s3.storage.versions(1, "disk.img"));
  assert.equal(versions.length, 2);
  assert.ok(sameBytes(await readWhole(s3.storage, 1, "disk.img"), second), "the new version");
  assert.ok(
    sameBytes(await readWhole(s3.storage, 1, "disk.img", versions[0].versionId), first),
    "the old version",
  );

  // The same bytes under a second name: no chunk stored again.
  const beforeCopy = await bytesUnder(s3.client, s3.prefix);
  await store(s3.storage, 1, "copy/disk.img", second);
  await s3.storage.settled();
  const copyGrown = (await bytesUnder(s3.client, s3.prefix)) - beforeCopy;
  assert.ok(copyGrown <= MiB, `a copy grew the store by ${copyGrown} bytes`);
  assert.ok(sameBytes(await readWhole(s3.storage, 1, "copy/disk.img"), second));
  // Never across users: another user's copy is stored in full.
  await store(s3.storage, 2, "disk.img", second);
  assert.ok((await bytesUnder(s3.client, `${s3.prefix}p/2/`)) >= 40 * MiB);
});

Deno.test("s3 chunked: a damaged byte in a pack is refused on read, never served", async () => {
  await using s3 = await openS3({ chunkFiles: true });
  const bytes = randomBytes(3 * MiB);
  await store(s3.storage, 1, "f", bytes);
  const [pack] = await keysUnder(s3.client, `${s3.prefix}p/1/`);
  assert.ok(pack, "the file went into a pack");
  const response = await s3.client.get(pack.key);
  const damaged = new Uint8Array(await response.arrayBuffer());
  damaged[MiB + 12345] ^= 0x01;
  await s3.client.put(pack.key, damaged);
  await assert.rejects(readWhole(s3.storage, 1, "f"), CorruptChunkError);
  // A pack gone (and no repack that moved it): refused as missing.
  await s3.client.delete(pack.key);
  await assert.rejects(readWhole(s3.storage, 1, "f"), MissingChunkError);
});

Deno.test("s3 chunked: a pack moved while a file is read is found again through its record", async () => {
  await using s3 = await openS3({ chunkFiles: true, packTargetBytes: 4 * MiB });
  const bytes = randomBytes(40 * MiB);
  await store(s3.storage, 1, "big", bytes);
  const [record] = await keysUnder(s3.client, `${s3.prefix}u/1/big `);
  const list = decodeChunkTable(
    "list",
    new Uint8Array(await (await s3.client.get(record.key)).arrayBuffer()),
  );
  assert.ok(list.packs.length >= 8, `${list.packs.length} packs`);
  using file = await s3.storage.open(1, "big"); // its list read, its first run too
  // A repack of the last pack: its bytes under a new name, the record rewritten, the old one gone.
  const last = list.packs.at(-1)!;
  const moved = `${"f".repeat(16)}.1`;
  const old = `${s3.prefix}p/1/${last}`;
  await s3.client.put(
    `${s3.prefix}p/1/${moved}`,
    new Uint8Array(await (await s3.client.get(old)).arrayBuffer()),
  );
  const packs = list.packs.map((pack) => pack === last ? moved : pack);
  await s3.client.put(record.key, encodeChunkTable("list", { ...list, packs }));
  await s3.client.delete(old);
  const read = new Uint8Array(bytes.length);
  let at = 0;
  for (let n; (n = await file.source.read(read.subarray(at))) !== null && n > 0;) at += n;
  assert.equal(at, bytes.length);
  assert.ok(sameBytes(read, bytes));
});

Deno.test("s3 chunked: f, data-object, c and z versions of one name read back and count in usage", async () => {
  await using plain = await openS3({ partSize: 5 * MiB, quotaOf: () => 1 << 30 });
  await using chunked = await openS3({ chunkFiles: true }, plain.prefix);
  const user = `${plain.prefix}u/3/`;
  const small = randomBytes(4096);
  const large = randomBytes(6 * MiB); // above the part size: a data object
  const middle = randomBytes(MiB);
  const text = new TextEncoder().encode("a line of text, said again\n".repeat(400));
  await store(plain.storage, 3, "doc", small);
  await store(plain.storage, 3, "doc", large);
  await store(chunked.storage, 3, "doc", middle);
  await store(chunked.storage, 3, "doc", text);
  await chunked.storage.settled();
  assert.deepEqual(await recordKinds(plain.client, user, "doc"), ["z", "c", "f", "f"]);
  const versions = await allOf(plain.storage.versions(3, "doc"));
  const expected = [small, large, middle, text];
  for (const storage of [plain.storage, chunked.storage]) {
    for (const [i, version] of versions.entries()) {
      assert.ok(
        sameBytes(await readWhole(storage, 3, "doc", version.versionId), expected[i]),
        `${i}`,
      );
      assert.equal(version.size, expected[i].length);
    }
  }
  // Usage: the records' own bytes, the data object, the packs, a charge per record.
  const records = (await keysUnder(plain.client, user)).reduce((sum, { size }) => sum + size, 0);
  const data = await bytesUnder(plain.client, `${plain.prefix}d/3/`);
  const packs = await bytesUnder(plain.client, `${plain.prefix}p/3/`);
  assert.ok(packs >= MiB && data === large.length);
  const usage = records + data + packs + 4 * chargeOf("doc");
  assert.equal(await plain.storage.usage(3), usage);
  assert.equal(await chunked.storage.usage(3), usage);
});

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.length).equals(b);
}

Deno.test("s3 chunked: a wrong digest, found once the last pack is written, leaves no pack and the old version whole", async () => {
  await using s3 = await openS3({ chunkFiles: true, packTargetBytes: 4 * MiB });
  const old = randomBytes(6 * MiB);
  await store(s3.storage, 1, "big", old);
  const packsBefore = await keysUnder(s3.client, `${s3.prefix}p/1/`);
  const upload = await s3.storage.beginUpload(1, "big", { size: 12 * MiB });
  await upload.write(randomBytes(12 * MiB));
  await assert.rejects(upload.commit({ sha256: new Uint8Array(32) }), DigestMismatchError);
  await upload.abort();
  assert.deepEqual(await keysUnder(s3.client, `${s3.prefix}p/1/`), packsBefore);
  assert.deepEqual(await readWhole(s3.storage, 1, "big"), old);
  assert.equal((await allOf(s3.storage.versions(1, "big"))).length, 1);
});
