/**
 * `deno run -A bench/handshake_steps.ts`: where the time of one authenticated version 2 connection
 * over TLS goes, one connection at a time (an in-process server with one account): TCP connect,
 * TLS handshake, Hello to Challenge, signing, Auth plus the first answer. Averages of 200.
 *
 * @module
 */
import { openServer } from "../cli/open_server.ts";
import { createLogger } from "../server/log.ts";
import { authMessage, formatSshPublicKey } from "../protocol/v2/auth.ts";
import { encodeRequestV2 } from "../protocol/v2/requests.ts";
const dir = await Deno.makeTempDir();
const pair = await crypto.subtle.generateKey({ name: "Ed25519" }, true, [
  "sign",
  "verify",
]) as CryptoKeyPair;
const pub = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
await Deno.writeTextFile(
  `${dir}/u.json`,
  JSON.stringify({ users: [{ id: 1, keys: [formatSshPublicKey(pub)] }] }),
);
const TLS = new URL("../tests/fixtures/tls", import.meta.url).pathname;
const server = await openServer({
  root: `${dir}/r`,
  port: 0,
  logger: createLogger({ quiet: true, writeLine: () => {} }),
  access: { usersFile: `${dir}/u.json` },
  tls: { certFile: `${TLS}/server-cert.pem`, keyFile: `${TLS}/server-key.pem` },
});
const ca = [Deno.readTextFileSync(`${TLS}/server-cert.pem`)];
const t = { connect: 0, tls: 0, challenge: 0, sign: 0, answer: 0 };
const N = 200;
for (let i = 0; i < N; i++) {
  let a = performance.now();
  const tcp = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
  tcp.setNoDelay(true);
  t.connect += performance.now() - a;
  a = performance.now();
  const c = await Deno.startTls(tcp, { hostname: "127.0.0.1", caCerts: ca });
  await c.handshake();
  t.tls += performance.now() - a;
  a = performance.now();
  await c.write(encodeRequestV2({ op: 1, userId: 1 }));
  const buf = new Uint8Array(4096);
  let n = 0;
  while (n < 35) n += (await c.read(buf.subarray(n)))!;
  t.challenge += performance.now() - a;
  a = performance.now();
  const nonce = buf.slice(3, 35);
  const sig = new Uint8Array(
    await crypto.subtle.sign(
      "Ed25519",
      pair.privateKey,
      new Uint8Array(authMessage(nonce, 1, pub)),
    ),
  );
  t.sign += performance.now() - a;
  a = performance.now();
  await c.write(encodeRequestV2({ op: 2, userId: 1, publicKey: pub, signature: sig }));
  await c.write(encodeRequestV2({ op: 200, userId: 1, name: "missing", versionId: 0 }));
  n = 0;
  while (n < 4 + 3 + 2 + 7) n += (await c.read(buf.subarray(n)))!;
  t.answer += performance.now() - a;
  c.close();
}
for (const [k, v] of Object.entries(t)) console.log(k, (v / N).toFixed(3), "ms");
await server.close();
await Deno.remove(dir, { recursive: true });
