/**
 * A server for crash tests: `deno run … tests/_crash_server.ts ROOT STEP` serves on a free port
 * (printed as `port N`), and when an upload of the name `target` reaches commit step STEP it prints
 * `paused at STEP` and waits there for the SIGKILL.
 */
import { openServer } from "../cli/open_server.ts";
import { createLogger } from "../server/log.ts";

const [root, step] = Deno.args;
const server = await openServer({
  root,
  port: 0,
  logger: createLogger({ quiet: true, writeLine: () => {} }),
  onCommitStep: async (at, _userId, name) => {
    if (at !== step || new TextDecoder().decode(name) !== "target") return;
    console.log(`paused at ${at}`);
    await new Promise(() => {}); // until killed
  },
});
console.log(`port ${server.addr.port}`);
