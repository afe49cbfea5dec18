/**
 * A client workspace with a key made by `keygen` and a TLS server (in this process) that knows
 * it: for tests that run the client's command line against a real server with accounts.
 */
import { type ClientWorkspace, clientWorkspace, keyedUsersFile } from "./_processes.ts";
import { DENO, PROJECT_DIR, startTestServer, type TestServer } from "./_helpers.ts";
import { TLS } from "./_v2.ts";

/** The user id of the account. */
export const ACCOUNT_ID = 7;

/** A workspace whose `client` talks to `server` as `ACCOUNT_ID` with its key, over TLS. */
export interface AccountWorkspace extends AsyncDisposable {
  w: ClientWorkspace;
  server: TestServer;
  /** Runs the client CLI with the server, user and CA given. */
  client(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
}

/** Makes the workspace, its key, and a server with that key's account; `root` if given. */
export async function accountWorkspace(prefix: string, root?: string): Promise<AccountWorkspace> {
  const w = await clientWorkspace(prefix, { below: "work" });
  const usersFile = await keyedUsersFile(w, ACCOUNT_ID);
  const server = await startTestServer({ tls: TLS, access: { usersFile }, root });
  const at = [`--server=127.0.0.1:${server.port}`, `--user=${ACCOUNT_ID}`, `--ca=${TLS.certFile}`];
  return {
    w,
    server,
    client: (...args) => w.client(...at, ...args),
    async [Symbol.asyncDispose]() {
      await server[Symbol.asyncDispose]();
      await w[Symbol.asyncDispose]();
    },
  };
}

/** The client of `a` as a child process with stdin and stdout piped. */
export function spawnClient(a: AccountWorkspace, args: string[]): Deno.ChildProcess {
  return new Deno.Command(DENO, {
    args: [
      "run",
      "--quiet",
      "--no-prompt",
      `--config=${PROJECT_DIR}/deno.json`,
      "-P=client",
      `${PROJECT_DIR}/client.ts`,
      `--server=127.0.0.1:${a.server.port}`,
      `--user=${ACCOUNT_ID}`,
      `--ca=${TLS.certFile}`,
      ...args,
    ],
    cwd: a.w.options.cwd,
    env: { NO_COLOR: "1", ...a.w.options.env },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}
