/**
 * What the server says at start-up besides "listening": warnings about a port reachable beyond
 * loopback without accounts or TLS.
 *
 * @module
 */
import type { Access } from "./access.ts";
import type { ListenSpec } from "./listeners.ts";
import type { Logger } from "./log.ts";

/**
 * Warns when a port off loopback lets anyone act for any user id, or carries traffic in clear
 * (`plainAllowsAccounts`: accounts' sessions too, on the plain port beside TLS).
 */
export function warnIfExposed(
  specs: ListenSpec[],
  access: Access,
  logger: Logger,
  plainAllowsAccounts = false,
): void {
  for (const spec of specs) {
    if (isLoopback(spec.hostname)) continue;
    if (!access.accountsRequired) {
      logger.warn(
        "listening beyond loopback without accounts (--users): anyone who reaches the port can " +
          "read, replace and delete every user's files",
        { address: `${spec.hostname}:${spec.port}` },
      );
    } else if (!spec.tls) {
      const besideTls = specs.some((other) => other.tls);
      const what = besideTls && plainAllowsAccounts
        ? "listening beyond loopback without TLS, accounts' sessions included " +
          "(--plain-allow-accounts): their traffic can be read and changed on the way"
        : "listening beyond loopback without TLS: traffic can be read on the way";
      logger.warn(what, { address: `${spec.hostname}:${spec.port}` });
    }
  }
}

function isLoopback(hostname: string): boolean {
  return hostname === "localhost" || hostname === "::1" || hostname.startsWith("127.");
}
