import assert from "node:assert/strict";
import { PROJECT_DIR } from "./_helpers.ts";

Deno.test.sanitizer({ ops: true, resources: true });

/** A module of the client's graph: what it imports at load time, and what only when it runs. */
interface GraphModule {
  specifier: string;
  dependencies?: { code?: { specifier: string }; isDynamic?: boolean }[];
}

/** `deno info --json client.ts`: every module `deno compile` would embed, with its imports. */
async function clientGraph(): Promise<Map<string, GraphModule>> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", "client.ts"],
    cwd: PROJECT_DIR,
  }).output();
  assert.ok(output.success, new TextDecoder().decode(output.stderr));
  const { modules } = JSON.parse(new TextDecoder().decode(output.stdout)) as {
    modules: GraphModule[];
  };
  const root = new URL(`file://${PROJECT_DIR}/`).href;
  return new Map(modules.map((m) => [m.specifier.replace(root, ""), m]));
}

/** The project's modules loaded with `from`, before anything runs (no dynamic or type imports). */
function loadedWith(graph: Map<string, GraphModule>, from: string[]): Set<string> {
  const root = new URL(`file://${PROJECT_DIR}/`).href;
  const seen = new Set<string>();
  const todo = [...from];
  while (todo.length > 0) {
    const name = todo.pop()!;
    if (seen.has(name)) continue;
    seen.add(name);
    for (const dep of graph.get(name)?.dependencies ?? []) {
      if (dep.code && !dep.isDynamic) todo.push(dep.code.specifier.replace(root, ""));
    }
  }
  return seen;
}

// Each command's own modules, and those of the error messages and the per-file client.
const COMMAND_MODULES = [
  "cli/snapshot_backup.ts",
  "cli/snapshot_restore.ts",
  "cli/snapshot_browse.ts",
  "cli/snapshot_forget.ts",
  "cli/snapshot_check.ts",
  "cli/snapshot_prune.ts",
  "cli/snapshot_repair.ts",
  "cli/key_command.ts",
  "cli/keygen_command.ts",
  "cli/profile_command.ts",
  "cli/per_file_command.ts",
  "cli/client_backup.ts",
  "cli/client_restore.ts",
  "cli/run_session.ts",
  "cli/client_failure.ts",
  "client/backup_client.ts",
  "client/backup_client_v2.ts",
  "client/client_pool.ts",
];

Deno.test("the client loads no command's modules before one runs, and deno compile still has them all", async () => {
  const graph = await clientGraph();
  const atStart = loadedWith(graph, ["client.ts", "cli/client_cli.ts"]);
  assert.deepEqual(COMMAND_MODULES.filter((name) => atStart.has(name)), []);
  assert.deepEqual(COMMAND_MODULES.filter((name) => !graph.has(name)), []);
});

Deno.test("a snapshot backup loads neither the per-file client nor the other snapshot commands", async () => {
  const graph = await clientGraph();
  const backup = loadedWith(graph, ["client.ts", "cli/client_cli.ts", "cli/snapshot_backup.ts"]);
  const others = COMMAND_MODULES.filter((name) => name !== "cli/snapshot_backup.ts").concat(
    "client/snapshot/tar_dump.ts",
    "client/snapshot/check.ts",
    "client/snapshot/forget_plan.ts",
    "client/snapshot/restorer.ts",
    "client/encryption/names.ts",
  );
  assert.deepEqual(others.filter((name) => backup.has(name)), []);
});
