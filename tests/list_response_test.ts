import assert from "node:assert/strict";
import { sendListing } from "../server/list_response.ts";
import { ConnectionLostError } from "../io/connection_errors.ts";
import type { FileListing } from "../storage/storage.ts";

const utf8 = new TextEncoder();

function listing(declared: string[], yielded: string[]): FileListing {
  return {
    files: declared.length,
    nameBytes: declared.join("").length,
    pages: (async function* () {
      for (const name of yielded) yield utf8.encode(`${name}\n`);
    })(),
    [Symbol.dispose]: () => {},
  };
}

Deno.test("a listing that yields more than it declared is cut: never a byte past the declared size", async () => {
  const sent: number[] = [];
  const many = Array.from({ length: 50 }, (_, i) => `name-${i}`);
  await assert.rejects(
    sendListing(listing(many.slice(0, 40), many), new Uint8Array(64), (bytes) => {
      sent.push(bytes.length);
      return Promise.resolve();
    }),
    ConnectionLostError,
  );
  const declared = many.slice(0, 40).join("\n").length + 1;
  assert.ok(sent.reduce((a, b) => a + b, 0) <= 7 + 32 + 4 + declared, "header and names at most");
});

Deno.test("a listing that yields fewer names than declared, before anything was sent, is an error", async () => {
  await assert.rejects(
    sendListing(listing(["a", "b"], ["a"]), new Uint8Array(1024), () => Promise.resolve()),
    (error) => !(error instanceof ConnectionLostError) && /declared/.test(String(error)),
  );
});
