/**
 * A/B of snapshot backups' CPU between checkouts (e.g. a `git worktree` of HEAD and the work
 * tree), interleaved round by round so that each meets the same minutes of a shared machine: per
 * checkout, a fresh server of that checkout, then its client CLI backs up a tree of 3,000 files of
 * 1-32 KiB (first, unchanged) and, if asked, a random file (first, after 1 MiB overwritten in its
 * middle). Prints each run and the medians: wall time, the client's CPU (`/usr/bin/time`) and the
 * server's over the same run (`/proc`).
 *
 * `deno run -A bench/snapshots_ab.ts ROUNDS FILE_MIB CHECKOUT...` (FILE_MIB 0: the tree only);
 * with `SNAPSHOTS_AB_TLS=1` in the environment, over TLS (the test certificate); with
 * `SNAPSHOTS_AB_TLS=both`, each checkout plain and then over TLS in every round (its TLS runs
 * named `CHECKOUT+tls`), and the median of each round's TLS / plain ratio of wall time printed.
 *
 * @module
 */
import { median, medianLine } from "./ab_medians.ts";
import { cpuSeconds, startServerProcess } from "../harness/server_process.ts";
import { timedDeno, writeSmallTree } from "./snapshots_tools.ts";
import { overwriteMiddle, writeRandomFile } from "./corpus_tools.ts";
import { clientRunArgs } from "./processes.ts";
import { pinDenoDir } from "./deno_dir.ts";
import { TLS_DIR } from "./workloads_v2.ts";

// Each run has its own HOME: it must not get its own Deno cache too (see deno_dir.ts).
await pinDenoDir();
const [roundsArg, bigArg, ...checkouts] = Deno.args;
const rounds = Number(roundsArg);
const bigMiB = Number(bigArg);
const work = await Deno.makeTempDir({ prefix: "v3ab-" });
await writeSmallTree(`${work}/tree`, 3000);
if (bigMiB > 0) {
  await Deno.mkdir(`${work}/big`);
  await writeRandomFile(`${work}/big/file.bin`, bigMiB * 2 ** 20);
}
const run = timedDeno;
const tlsMode = Deno.env.get("SNAPSHOTS_AB_TLS");
const modes = tlsMode === "both" ? [false, true] : [tlsMode === "1"];
const cert = `${TLS_DIR}/server-cert.pem`;
const results: Record<string, Record<string, number[][]>> = {};
const names: string[] = [];
for (let r = 0; r < rounds; r++) {
  for (const checkout of checkouts) for (const tls of modes) await runOne(r, checkout, tls);
}

async function runOne(r: number, checkout: string, tls: boolean): Promise<void> {
  const co = tlsMode === "both" && tls ? `${checkout}+tls` : checkout;
  if (!names.includes(co)) names.push(co);
  const tlsServer = tls ? ["--tls-cert", cert, "--tls-key", `${TLS_DIR}/server-key.pem`] : [];
  const base = `${work}/${r}-${co.replaceAll("/", "_")}`;
  await Deno.mkdir(`${base}/root`, { recursive: true });
  await Deno.mkdir(`${base}/home`, { recursive: true });
  const server = await startServerProcess(
    `${base}/root`,
    ["--quiet", ...tlsServer],
    tls ? [TLS_DIR] : [],
    { checkout },
  );
  const env = { HOME: `${base}/home`, XDG_CONFIG_HOME: `${base}/home/.config` };
  const cli = [...clientRunArgs(checkout)];
  await run([...cli, "keygen"], env, work);
  const step = async (name: string, paths: string[]) => {
    const s0 = await cpuSeconds(server.pid);
    const f = await run(
      [
        ...cli,
        `--server=127.0.0.1:${server.port}`,
        ...(tls ? [`--ca=${cert}`] : []),
        "--user=1",
        "--quiet",
        "backup",
        ...paths,
      ],
      env,
      work,
    );
    const s = (await cpuSeconds(server.pid) - s0) * 1000;
    ((results[co] ??= {})[name] ??= []).push([f.ms, f.cpu, s]);
    console.log(
      co,
      name,
      Math.round(f.ms),
      "ms wall; client cpu",
      Math.round(f.cpu),
      "server cpu",
      Math.round(s),
    );
  };
  await step("tree-first", ["tree"]);
  await step("tree-unchanged", ["tree"]);
  if (bigMiB > 0) {
    await step("big-first", ["big"]);
    await overwriteMiddle(`${work}/big/file.bin`, bigMiB * 2 ** 20);
    await step("big-changed", ["big"]);
  }
  await server.stop();
  await Deno.remove(base, { recursive: true });
}
for (const co of names) {
  for (const [name, rows] of Object.entries(results[co])) console.log(medianLine(co, name, rows));
}
if (tlsMode === "both") {
  for (const co of checkouts) {
    for (const [name, rows] of Object.entries(results[co])) {
      const ratios = rows.map((row, at) => results[`${co}+tls`][name][at][0] / row[0]);
      console.log(`TLS/plain ${co} ${name}: median ${median(ratios).toFixed(2)}`);
    }
  }
}
await Deno.remove(work, { recursive: true });
