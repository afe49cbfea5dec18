/** A version 1 list is one moment of the store, even while the same user writes. */
import assert from "node:assert/strict";
import { BackupClient } from "../client/backup_client.ts";
import { bytesSource } from "../io/byte_stream.ts";
import { startTestServer } from "./_helpers.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const NAMES = 3000;
const LISTS = 12;

Deno.test("a v1 list while the same user uploads and deletes is whole: its count matches its names", async () => {
  await using t = await startTestServer();
  const writer = await BackupClient.connect({ userId: 5, port: t.port });
  try {
    for (let i = 0; i < NAMES; i++) {
      await writer.backup(`n${String(i).padStart(5, "0")}`, bytesSource(new Uint8Array(0)), 0);
    }
    let stop = false;
    let written = 0;
    const writing = (async () => {
      while (!stop) {
        // Names that sort before, among and after the listed ones, added and removed.
        for (const name of [`a${written}`, `n${written}x`, `z${written}`]) {
          await writer.backup(name, bytesSource(new Uint8Array(0)), 0);
        }
        await writer.delete(`n${written}x`);
        written++;
      }
    })();
    try {
      for (let i = 0; i < LISTS; i++) {
        const reader = await BackupClient.connect({ userId: 5, port: t.port });
        try {
          const names = await reader.list();
          assert.ok(names.length >= NAMES, `list ${i}: ${names.length} names`);
          assert.equal(new Set(names).size, names.length);
        } finally {
          reader.close();
        }
      }
    } finally {
      stop = true;
      await writing;
    }
    assert.ok(written > 0, "the writer ran while the lists were read");
  } finally {
    writer.close();
  }
});
