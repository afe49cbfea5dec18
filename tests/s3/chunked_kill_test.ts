/**
 * A chunked upload killed after its packs were stored but before its record (SIGKILL of the
 * server process while the last bytes have not come): nothing new is listed, no index names the
 * packs, and the version stored before reads back whole.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { Status } from "../../protocol/mod.ts";
import { RawClient } from "../_helpers.ts";
import { backup } from "../_protocol_conformance.ts";
import { freshPrefix } from "../../harness/s3_location.ts";
import { startS3Server, waitFor } from "../../harness/s3_cluster.ts";
import { allOf, keysUnder, openS3, readWhole } from "./_s3_storage.ts";
import { randomBytes } from "./_chunked.ts";

// The client's keep-alive sockets outlive a test by design: only ops are checked.
Deno.test.sanitizer({ ops: true, resources: false });

const MiB = 1024 * 1024;

Deno.test("s3 chunked: an upload killed after its packs, before its record, lists nothing new", async () => {
  const prefix = freshPrefix();
  await using s3 = await openS3({}, prefix);
  const server = await startS3Server(prefix, { extraArgs: ["--s3-chunk-files"] });
  const old = randomBytes(2 * MiB);
  try {
    using client = await RawClient.connect(server.port);
    await client.send(backup(9, "vm.img", old));
    assert.equal((await client.readResponse()).header.status, Status.Done);
    const packsBefore = (await keysUnder(s3.client, `${prefix}p/9/`)).length;
    assert.ok(packsBefore >= 1, "the first version is chunked");
    await waitFor(
      async () => (await keysUnder(s3.client, `${prefix}x/9/`)).length === 1,
      "its index",
    );

    // 40 MiB, all but its last bytes: the packs of the first 32 MiB are cut and stored.
    const frame = backup(9, "vm.img", randomBytes(40 * MiB));
    await client.send(frame.subarray(0, frame.length - 1000));
    await waitFor(
      async () => (await keysUnder(s3.client, `${prefix}p/9/`)).length >= packsBefore + 2,
      "two new packs",
      6000,
    );
  } finally {
    await server.stop("SIGKILL");
  }
  const records = await keysUnder(s3.client, `${prefix}u/9/`);
  assert.equal(records.length, 1, "one record: the old version's");
  assert.equal((await keysUnder(s3.client, `${prefix}x/9/`)).length, 1, "no index names the packs");
  const versions = await allOf(s3.storage.versions(9, "vm.img"));
  assert.equal(versions.length, 1);
  assert.equal(versions[0].size, 2 * MiB);
  assert.ok(Buffer.from(await readWhole(s3.storage, 9, "vm.img")).equals(old), "the old version");
});
