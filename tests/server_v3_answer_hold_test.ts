/**
 * A version 3 session holds its gathered answers while a request is half read (its sender is still
 * writing), but only for a moment: a client that sends a request in part and waits for the
 * answers to those before it gets them, over plain TCP and over TLS.
 */
import assert from "node:assert/strict";
import { encodeRequestV3, OpV3, StatusV3 } from "../protocol/v3/mod.ts";
import { concat } from "./_helpers.ts";
import { makeKey, startV2Server } from "./_v2.ts";
import { putData, RawV3 } from "./_v3.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const USER = 77;
const blob = (i: number) => new TextEncoder().encode(`held answer ${i} `.repeat(50 + i));

for (const tls of [false, true]) {
  const over = tls ? "TLS" : "plain TCP";
  Deno.test(`answers held behind a half-read request reach a client waiting for them (${over})`, async () => {
    const alice = await makeKey();
    await using t = await startV2Server(
      [{ id: USER, keys: [alice] }],
      tls ? {} : { tls: undefined },
    );
    using raw = await RawV3.connect(t.port, tls);
    const welcome = await raw.signIn(USER, alice);
    assert.equal(welcome?.kind === "handshake" && welcome.response.status, StatusV3.Authenticated);
    const last = encodeRequestV3(putData(USER, 12, blob(2)));
    const cut = last.length - 100;
    await raw.send(concat(
      encodeRequestV3({ op: OpV3.OpenSnapshot, userId: USER, tag: 2 }),
      encodeRequestV3(putData(USER, 10, blob(0))),
      encodeRequestV3(putData(USER, 11, blob(1))),
      last.subarray(0, cut),
    ));
    // The last request stays half sent until the answers before it are in.
    for (const tag of [2, 10, 11]) {
      assert.deepEqual(await raw.answer(), { status: StatusV3.Done, tag });
    }
    await raw.send(last.subarray(cut));
    assert.deepEqual(await raw.answer(), { status: StatusV3.Done, tag: 12 });
  });
}
