/**
 * The backup client's command line: `deno task client -- list`, or
 * `deno run -P=client client.ts backup FILE`. See `--help`.
 *
 * @module
 */
import { runClientCli } from "./cli/client_cli.ts";

if (import.meta.main) Deno.exit(await runClientCli(Deno.args));
