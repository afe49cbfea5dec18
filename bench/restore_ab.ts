/**
 * A/B of snapshot restores' CPU between checkouts (e.g. a `git worktree` of HEAD and the work
 * tree), interleaved round by round so that each meets the same minutes of a shared machine: per
 * checkout, a fresh server of that checkout and one backup of a tree of 3,000 files of 1-32 KiB;
 * then, each round, each checkout's client CLI restores it into an empty folder. Prints each run
 * and the medians: wall time, the client's CPU (`/usr/bin/time`) and the server's (`/proc`).
 *
 * `deno run -A bench/restore_ab.ts ROUNDS CHECKOUT...` (`PROFILE=DIR`: the first checkout's last
 * restore runs with `--cpu-prof --cpu-prof-dir=DIR`; `TLS=1`: each server over TLS, with the test
 * certificate of tests/fixtures/tls; `KEEP=1`: restored trees are removed only at the end, so that no
 * restore meets the inodes of one removed just before: ext4 without a journal passes over each
 * inode freed in the last minute, in the group it allocates from, at every file it makes).
 *
 * @module
 */
import { medianLine } from "./ab_medians.ts";
import { cpuSeconds, startServerProcess } from "../harness/server_process.ts";
import { timedDeno, writeSmallTree } from "./snapshots_tools.ts";
import { clientRunArgs } from "./processes.ts";
import { pinDenoDir } from "./deno_dir.ts";
import { TLS_DIR } from "./workloads_v2.ts";

// Each run has its own HOME: it must not get its own Deno cache too (see deno_dir.ts).
await pinDenoDir();
const [roundsArg, ...checkouts] = Deno.args;
const rounds = Number(roundsArg);
const profile = Deno.env.get("PROFILE");
const tls = Deno.env.get("TLS") === "1";
const keep = Deno.env.get("KEEP") === "1";
const cert = `${TLS_DIR}/server-cert.pem`;
const work = await Deno.makeTempDir({ prefix: "restore-ab-" });
await writeSmallTree(`${work}/tree`, 3000);
const run = timedDeno;
const stores = [];
for (const co of checkouts) {
  const base = `${work}/${co.replaceAll("/", "_")}`;
  await Deno.mkdir(`${base}/root`, { recursive: true });
  await Deno.mkdir(`${base}/home`, { recursive: true });
  const server = await startServerProcess(
    `${base}/root`,
    ["--quiet", ...(tls ? ["--tls-cert", cert, "--tls-key", `${TLS_DIR}/server-key.pem`] : [])],
    tls ? [TLS_DIR] : [],
    { checkout: co },
  );
  const env = { HOME: `${base}/home`, XDG_CONFIG_HOME: `${base}/home/.config` };
  const cli = [
    ...clientRunArgs(co),
    `--server=127.0.0.1:${server.port}`,
    "--user=1",
    "--quiet",
    ...(tls ? [`--ca=${cert}`] : []),
  ];
  await run([...clientRunArgs(co), "keygen"], env, work);
  await run([...cli, "backup", "tree"], env, work);
  stores.push({ co, base, server, env, cli, rows: [] as number[][] });
}
for (let r = 0; r < rounds; r++) {
  for (const store of stores) {
    const target = `${store.base}/restored-${r}`;
    const prof = profile && store === stores[0] && r === rounds - 1
      ? [`--cpu-prof`, `--cpu-prof-dir=${profile}`]
      : [];
    const cli = [store.cli[0], ...prof, ...store.cli.slice(1)];
    const s0 = await cpuSeconds(store.server.pid);
    const f = await run([...cli, "restore", "latest", "--target", target], store.env, work);
    const s = (await cpuSeconds(store.server.pid) - s0) * 1000;
    store.rows.push([f.ms, f.cpu, s]);
    console.log(
      store.co,
      Math.round(f.ms),
      "ms wall; client cpu",
      Math.round(f.cpu),
      "server cpu",
      Math.round(s),
    );
    if (!keep) await Deno.remove(target, { recursive: true });
  }
}
for (const { co, rows, server } of stores) {
  console.log(medianLine(co, "restore", rows));
  await server.stop();
}
await Deno.remove(work, { recursive: true });
