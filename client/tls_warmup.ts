/**
 * The TLS stack's one-time start-up, begun early on another thread. A process's first TLS
 * connection initializes the crypto library under rustls (AWS-LC), tens of milliseconds on the
 * main thread inside `Deno.startTls` (docs/performance.md, "The first backup over TLS"). WebCrypto
 * runs key generation on a worker thread and initializes the same library, so generating one
 * throwaway key while the command's modules still load takes that start-up off the connection's
 * path; `Deno.startTls` then finds the library ready.
 *
 * @module
 */

let started = false;

/**
 * Whether command-line `args` ask for TLS (`--tls`, `--ca FILE`, `--ca=FILE`) before the
 * end of options (`--`). A profile may ask for it too: that is only known later, and such a run
 * simply goes without the head start.
 *
 * @example
 * ```ts
 * import { asksForTls } from "./tls_warmup.ts";
 * import assert from "node:assert/strict";
 * assert.equal(asksForTls(["backup", "--ca=cert.pem", "docs"]), true);
 * assert.equal(asksForTls(["backup", "--", "--tls"]), false);
 * ```
 */
export function asksForTls(args: readonly string[]): boolean {
  for (const arg of args) {
    if (arg === "--") return false;
    if (arg === "--tls" || arg === "--ca" || arg.startsWith("--ca=")) return true;
  }
  return false;
}

/**
 * Starts the crypto library's initialization on a worker thread and returns at once (once per
 * process; a failure is ignored: the first connection then pays the start-up, as without this).
 *
 * @example
 * ```ts ignore
 * if (asksForTls(Deno.args)) warmUpTls();
 * const { runClientCli } = await import("./cli/client_cli.ts");
 * ```
 */
export function warmUpTls(): void {
  if (started) return;
  started = true;
  crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign"]).catch(
    () => {},
  );
}
