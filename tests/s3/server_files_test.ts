/**
 * `startS3Server` (harness/s3_cluster.ts) given a users file and TLS files: the server process may
 * read them (and only them), so it serves accounts over TLS; a key it does not know is refused.
 */
import assert from "node:assert/strict";
import { startS3Server } from "../../harness/s3_cluster.ts";
import { freshPrefix } from "../../harness/s3_location.ts";
import { SessionV3 } from "../../client/session_v3.ts";
import type { ClientKey } from "../../client/keys.ts";
import { ServerRefusedError } from "../../client/client_errors.ts";
import { formatSshPublicKey } from "../../protocol/v2/auth.ts";
import { CA, TLS } from "../_v2.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const USER = 41;

async function newKey(): Promise<ClientKey> {
  const pair = await crypto.subtle.generateKey({ name: "Ed25519" }, false, [
    "sign",
    "verify",
  ]) as CryptoKeyPair;
  const publicKey = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
  return { privateKey: pair.privateKey, publicKey, path: "(memory)" };
}

Deno.test("a server on S3 started with a users file and TLS files signs accounts in over TLS and refuses unknown keys", async () => {
  const dir = await Deno.makeTempDir({ prefix: "s3-server-files-" });
  try {
    const key = await newKey();
    const usersFile = `${dir}/users.json`;
    await Deno.writeTextFile(
      usersFile,
      JSON.stringify({
        users: [{ id: USER, name: "owner", keys: [formatSshPublicKey(key.publicKey, "owner")] }],
      }),
    );
    const server = await startS3Server(freshPrefix(), { usersFile, tls: TLS });
    try {
      const at = { hostname: "127.0.0.1", port: server.port, tls: true, caCerts: [CA] };
      {
        await using session = await SessionV3.connect({ ...at, userId: USER, key });
        const listed = [];
        for await (const snapshot of session.listSnapshots()) listed.push(snapshot);
        assert.deepEqual(listed, []);
      }
      await assert.rejects(
        SessionV3.connect({ ...at, userId: USER, key: await newKey() }),
        ServerRefusedError,
      );
    } finally {
      await server.stop();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
