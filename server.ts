/**
 * The backup server's command line: `deno task serve` or
 * `deno run -P=server server.ts --root DIR --port N`. See `--help`.
 *
 * @module
 */
import { runServerCli } from "./cli/server_cli.ts";

if (import.meta.main) Deno.exit(await runServerCli(Deno.args));
