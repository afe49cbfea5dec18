/**
 * A client that connects and resets before the server accepts it (any client on the Internet can)
 * is passed over: the port neither stops nor pauses, and the next client is served. Deno's accept
 * of such a connection fails with ENOTCONN, which once stopped the listener for good.
 */
import assert from "node:assert/strict";
import net from "node:net";
import { ServerListener } from "../server/listeners.ts";
import { TLS } from "./_v2.ts";

Deno.test.sanitizer({ ops: true, resources: true });

/** Connects to `port` and resets the connection (RST); resolves once the socket is closed. */
function connectAndReset(port: number): Promise<void> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1", () => socket.resetAndDestroy());
    socket.on("error", () => {});
    socket.on("close", () => resolve());
  });
}

for (const tls of [undefined, TLS]) {
  Deno.test(`${tls ? "TLS" : "plain"}: connections reset in the queue are passed over, the next is accepted`, async () => {
    const listener = await ServerListener.open({ hostname: "127.0.0.1", port: 0, tls });
    try {
      // Reset while nothing accepts: they wait in the kernel's queue, reset, for the accepts below.
      for (let i = 0; i < 3; i++) await connectAndReset(listener.addr.port);
      const connections = listener.connections(() => assert.fail("no pause for a peer's reset"));
      const client = Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
      const accepted = await connections.next();
      assert.equal(accepted.done, false, "a connection after the resets is accepted");
      (await client).close();
      accepted.value!.close();
      assert.deepEqual(listener.health(), { ok: true });
    } finally {
      listener.close();
    }
  });
}
