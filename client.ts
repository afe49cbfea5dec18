/**
 * The backup client's command line: `deno task client -- list`, or
 * `deno run -P=client client.ts backup FILE`. See `--help`.
 *
 * @module
 */
import { asksForTls, warmUpTls } from "./client/tls_warmup.ts";

if (import.meta.main) {
  // The TLS stack starts up on another thread while the command line's modules load.
  if (asksForTls(Deno.args)) warmUpTls();
  const { runClientCli } = await import("./cli/client_cli.ts");
  Deno.exit(await runClientCli(Deno.args));
}
