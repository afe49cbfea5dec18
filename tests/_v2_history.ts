/**
 * The v2 history scenario, shared by the embedded engine's tests and the S3 backend's.
 *
 * @module
 */
import assert from "node:assert/strict";
import { bytesSource } from "../io/byte_stream.ts";
import { FileNotFoundError } from "../protocol/errors.ts";
import type { OpenServerOptions } from "../cli/open_server.ts";
import { makeKey, startV2Server } from "./_v2.ts";
import { concat } from "./_helpers.ts";

const bytes = (size: number, fill: number) => new Uint8Array(size).fill(fill);

/**
 * Versions of a name, a past version retrieved, and a prefix listed as it was at a time, over v2 on
 * a server started with `options` (the embedded engine here, S3 in `tests/s3/`).
 */
export async function versionsAndTimes(options: Partial<OpenServerOptions> = {}): Promise<void> {
  let now = Date.UTC(2026, 0, 1);
  const alice = await makeKey();
  await using t = await startV2Server([{ id: 77, keys: [alice] }], { ...options, now: () => now });
  using client = await t.connect(77, alice);
  await client.backup("docs/a", bytesSource(bytes(10, 1)), 10);
  await client.backup("docs/b", bytesSource(bytes(70_000, 2)), 70_000);
  const before = now;
  now += 60_000;
  await client.backup("docs/a", bytesSource(bytes(11, 3)), 11); // replaces a
  await client.delete("docs/b");
  await client.backup("docs/c", bytesSource(bytes(12, 4)), 12);
  now += 60_000;

  const versions = await client.versions("docs/a");
  assert.deepEqual(versions.map((v) => [v.size, v.endedMs !== null]), [[10, true], [11, false]]);
  const b = await client.versions("docs/b");
  assert.equal(b.length, 1);
  assert.equal(b[0].deleted, true, "b ended by a delete");

  const chunks: Uint8Array[] = [];
  const sink = { write: (c: Uint8Array) => (chunks.push(c.slice()), Promise.resolve(c.length)) };
  const info = await client.retrieve("docs/a", sink, { versionId: versions[0].versionId });
  assert.equal(info.size, 10);
  assert.deepEqual(concat(...chunks), bytes(10, 1));

  const then = await Array.fromAsync(client.entries({ prefix: "docs/", atMs: before }));
  assert.deepEqual(then.map((e) => [e.name, e.info.size]), [["docs/a", 10], ["docs/b", 70_000]]);
  const nowList = await Array.fromAsync(client.entries({ prefix: "docs/" }));
  assert.deepEqual(nowList.map((e) => [e.name, e.info.size]), [["docs/a", 11], ["docs/c", 12]]);
  // b is gone now but its past version can be fetched by id, as a point-in-time restore does.
  const pastB = then[1].info.versionId;
  assert.equal(
    (await client.retrieve("docs/b", { write: (c) => Promise.resolve(c.length) }, {
      versionId: pastB,
    })).size,
    70_000,
  );
  await assert.rejects(client.versions("never"), FileNotFoundError);
  await assert.rejects(
    client.retrieve("docs/a", { write: (c) => Promise.resolve(c.length) }, { versionId: 999_999 }),
    FileNotFoundError,
  );
}
