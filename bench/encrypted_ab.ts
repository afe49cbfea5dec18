/**
 * A/B of an encrypted repository's backups between checkouts (e.g. a `git worktree` of HEAD and
 * the work tree; issue #23), interleaved round by round so that each meets the same minutes of a
 * shared machine: per round and checkout, a fresh server of that checkout, a plain account's first
 * and second (unchanged) backups of a tree of 3,000 files of 1-32 KiB, then another account made
 * encrypted (`init --repository-key-file`) and its two backups of the same tree. Prints each run
 * and the medians: wall time, the client's CPU (`/usr/bin/time`), the server's over the same run
 * (`/proc`), and the median of each round's encrypted/plain ratio.
 *
 * `deno run -A bench/encrypted_ab.ts ROUNDS CHECKOUT...` (`PROFILE=DIR`: the first checkout's last
 * commands run with `--cpu-prof`, profiles into `DIR/plain` and `DIR/encrypted`).
 *
 * @module
 */
import { median, medianLine } from "./ab_medians.ts";
import { cpuSeconds, startServerProcess } from "../harness/server_process.ts";
import { timedDeno, writeSmallTree } from "./snapshots_tools.ts";
import { clientRunArgs } from "./processes.ts";
import { pinDenoDir } from "./deno_dir.ts";

// Each run has its own HOME: it must not get its own Deno cache too (see deno_dir.ts).
await pinDenoDir();
const [roundsArg, ...checkouts] = Deno.args;
const rounds = Number(roundsArg);
if (!(rounds > 0) || checkouts.length === 0) {
  console.error("deno run -A bench/encrypted_ab.ts ROUNDS CHECKOUT...");
  Deno.exit(2);
}
const profile = Deno.env.get("PROFILE");
const work = await Deno.makeTempDir({ prefix: "encrypted-ab-" });
await writeSmallTree(`${work}/tree`, 3000);
const STEPS = ["first", "unchanged"];
const results: Record<string, Record<string, number[][]>> = {};
for (let r = 0; r < rounds; r++) {
  for (const co of checkouts) {
    const base = `${work}/${r}-${co.replaceAll("/", "_")}`;
    await Deno.mkdir(`${base}/root`, { recursive: true });
    const server = await startServerProcess(`${base}/root`, ["--quiet"], [], { checkout: co });
    try {
      for (const encrypted of [false, true]) {
        const name = encrypted ? "encrypted" : "plain";
        const home = `${base}/home-${name}`;
        await Deno.mkdir(home);
        const env = { HOME: home, XDG_CONFIG_HOME: `${home}/.config` };
        const prof = profile && co === checkouts[0] && r === rounds - 1
          ? ["--cpu-prof", `--cpu-prof-dir=${profile}/${name}`]
          : [];
        const [runWord, ...rest] = clientRunArgs(co);
        const cli = [runWord, ...prof, ...rest, `--server=127.0.0.1:${server.port}`, "--quiet"];
        // One account per repository: the plain one is user 1, the encrypted one user 2.
        const user = `--user=${encrypted ? 2 : 1}`;
        const secret = encrypted ? [`--repository-key-file=${base}/repo.key`] : [];
        await timedDeno([...clientRunArgs(co), "keygen"], env, work);
        if (encrypted) await timedDeno([...cli, user, "init", ...secret], env, work);
        for (const step of STEPS) {
          const s0 = await cpuSeconds(server.pid);
          const f = await timedDeno([...cli, user, "backup", "tree", ...secret], env, work);
          const s = (await cpuSeconds(server.pid) - s0) * 1000;
          ((results[co] ??= {})[`${name} ${step}`] ??= []).push([f.ms, f.cpu, s]);
          console.log(
            co,
            name,
            step,
            Math.round(f.ms),
            "ms wall; client cpu",
            Math.round(f.cpu),
            "server cpu",
            Math.round(s),
            "load",
            (await Deno.readTextFile("/proc/loadavg")).split(" ")[0],
          );
        }
      }
    } finally {
      await server.stop();
    }
    await Deno.remove(base, { recursive: true });
  }
}
for (const co of checkouts) {
  for (const [name, rows] of Object.entries(results[co])) console.log(medianLine(co, name, rows));
  for (const step of STEPS) {
    const [plain, encrypted] = [results[co][`plain ${step}`], results[co][`encrypted ${step}`]];
    const ratio = (at: number) => median(plain.map((p, i) => encrypted[i][at] / p[at])).toFixed(2);
    console.log(
      `MEDIAN ${co} ${step}, encrypted/plain: wall ${ratio(0)}x, client cpu ${ratio(1)}x`,
    );
  }
}
await Deno.remove(work, { recursive: true });
