/**
 * What the server says at start-up besides "listening": what opening the root found, and warnings
 * about a port reachable beyond loopback without accounts or TLS.
 *
 * @module
 */
import type { OpenReport } from "../storage/embedded/engine.ts";
import type { Access } from "./access.ts";
import type { ListenSpec } from "./listeners.ts";
import type { Logger } from "./log.ts";

/** Logs what opening the root found: a crash's leftovers, an import of the version 1 layout. */
export function logOpenReport(report: OpenReport, logger: Logger): void {
  if (report.orphansRemoved > 0) {
    logger.info("removed data files of uploads cut off", { count: report.orphansRemoved });
  }
  const imported = report.imported;
  if (!imported) return;
  logger.notice("imported the version 1 layout", {
    users: imported.users,
    files: imported.files,
    bytes: imported.bytes,
    skipped: imported.skippedCount,
  });
  for (const { path, reason } of imported.skipped) {
    logger.warn("left in place, not imported", { path, reason });
  }
}

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
