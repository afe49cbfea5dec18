/**
 * A/B of the client's start-up between checkouts (e.g. a `git worktree` of HEAD and the work
 * tree), interleaved round by round: per checkout, the client CLI's `--help` (parse the flags and
 * print), and a `snapshots` with a key to a port where nothing listens (everything a snapshot
 * command loads before it connects, then the refusal's message), beside `deno run` of an empty
 * file (Deno's own start). Prints the medians of wall time and CPU.
 *
 * `deno run -A bench/startup_ab.ts ROUNDS CHECKOUT...`
 *
 * @module
 */
import { clientRunArgs } from "./processes.ts";
import { pinDenoDir } from "./deno_dir.ts";

// Start-up with a warm cache, as an installed client's (see deno_dir.ts).
await pinDenoDir();
const [roundsArg, ...checkouts] = Deno.args;
const rounds = Number(roundsArg);
const work = await Deno.makeTempDir({ prefix: "startup-ab-" });
// A port that was free a moment ago: the connection is refused, not left to time out.
const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
const closedPort = listener.addr.port;
listener.close();

/**
 * Runs `deno ARGS`; resolves wall and CPU milliseconds, whatever the exit code. Bash's `time`
 * gives the CPU to the millisecond (`/usr/bin/time` to ten).
 */
async function timed(args: string[], env: Record<string, string>): Promise<[number, number]> {
  const output = await new Deno.Command("bash", {
    args: [
      "-c",
      'TIMEFORMAT="%3R %3U %3S"; { time "$@" >/dev/null 2>&1; } 2>&1',
      "bash",
      Deno.execPath(),
      ...args,
    ],
    env,
    cwd: work,
    stdin: "null",
  }).output();
  const [real, user, system] = new TextDecoder().decode(output.stdout).trim().split(/\s+/)
    .map(Number);
  return [real * 1000, (user + system) * 1000];
}

await Deno.writeTextFile(`${work}/empty.ts`, "");
const homes: Record<string, Record<string, string>> = {};
for (const co of checkouts) {
  const home = `${work}/${co.replaceAll("/", "_")}`;
  homes[co] = { HOME: home, XDG_CONFIG_HOME: `${home}/.config` };
  await timed([...clientRunArgs(co), "keygen"], homes[co]);
}
const runs: Record<string, string[]> = {
  "empty file": ["run", "--quiet", `${work}/empty.ts`],
  "--help": ["--help"],
  snapshots: [`--server=127.0.0.1:${closedPort}`, "--user=1", "snapshots"],
};
const results: Record<string, [number, number][]> = {};
for (let r = 0; r < rounds; r++) {
  for (const co of checkouts) {
    for (const [name, args] of Object.entries(runs)) {
      const full = name === "empty file" ? args : [...clientRunArgs(co), ...args];
      (results[`${co} ${name}`] ??= []).push(await timed(full, homes[co]));
    }
  }
}
const med = (xs: number[]) => xs.toSorted((a, b) => a - b)[Math.floor(xs.length / 2)];
for (const [name, rows] of Object.entries(results)) {
  const wall = med(rows.map((x) => x[0])).toFixed(1);
  console.log(`MEDIAN ${name}: wall ${wall} ms, cpu ${med(rows.map((x) => x[1])).toFixed(0)} ms`);
}
await Deno.remove(work, { recursive: true });
