/**
 * TLS answers must not wait for the client's delayed ACK. Deno's TLS stream sends each TLS record
 * (16 KiB of plaintext at most) with a `send` of its own; on a socket with Nagle's algorithm on,
 * the second send of an answer waits for the ACK of the first, which a client that has nothing
 * to send delays by 40 ms at least (Linux's minimum). The same wait hits the first answer after
 * a handshake, behind the session tickets. These tests count such waits: N exchanges that each
 * wait at least 40 ms take 40·N ms at least, whatever the machine; without the waits they take a
 * few ms each. The bound is half the floor, far above the few ms, and far under the floor.
 */
import assert from "node:assert/strict";
import { bytesSource } from "../io/byte_stream.ts";
import { makeKey, startV2Server } from "./_v2.ts";

Deno.test.sanitizer({ ops: true, resources: true });

/** Linux's minimum delayed-ACK time (`TCP_DELACK_MIN`). */
const DELAYED_ACK_MS = 40;
const EXCHANGES = 20;
const discard = { write: (bytes: Uint8Array) => Promise.resolve(bytes.length) };

Deno.test({
  name: "over TLS, a retrieve whose answer spans two TLS records does not wait for an ACK",
  fn: async () => {
    const alice = await makeKey();
    await using t = await startV2Server([{ id: 7, keys: [alice] }]);
    using client = await t.connect(7, alice);
    // 20,000 bytes and the header: two records, two sends.
    const content = new Uint8Array(20_000).fill(3);
    await client.backup("two-records.bin", bytesSource(content), content.length);
    await client.retrieve("two-records.bin", discard); // a first one, whatever it costs
    const started = performance.now();
    for (let i = 0; i < EXCHANGES; i++) await client.retrieve("two-records.bin", discard);
    const elapsed = performance.now() - started;
    assert.ok(
      elapsed < (EXCHANGES * DELAYED_ACK_MS) / 2,
      `${EXCHANGES} retrieves took ${elapsed.toFixed(0)} ms: answers waited for delayed ACKs`,
    );
  },
});

Deno.test({
  name: "over TLS, a new authenticated session does not wait for an ACK after the handshake",
  fn: async () => {
    const alice = await makeKey();
    await using t = await startV2Server([{ id: 7, keys: [alice] }]);
    {
      using warm = await t.connect(7, alice); // the first connection loads what it loads
      await warm.list();
    }
    const started = performance.now();
    for (let i = 0; i < EXCHANGES; i++) {
      using client = await t.connect(7, alice);
      await client.list(); // Hello, Challenge, Auth and a request answered with the 221
    }
    const elapsed = performance.now() - started;
    assert.ok(
      elapsed < (EXCHANGES * DELAYED_ACK_MS) / 2,
      `${EXCHANGES} sessions took ${elapsed.toFixed(0)} ms: the Challenge waited for an ACK`,
    );
  },
});
