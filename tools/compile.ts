/**
 * `deno task compile [--all] [--root DIR] [--listen HOST:PORT] [--etc DIR] [--out DIR]`: standalone executables
 * `dist/backup-server` and `dist/backup-client` for this machine, or for every target with `--all`.
 *
 * @module
 */
import { taskArgs } from "../cli/flags.ts";
import { compileArgs, DEFAULT_BUILD_LISTEN, DEFAULT_BUILD_ROOT, TARGETS } from "./compile_flags.ts";

const { values } = taskArgs(
  "compile",
  "deno task compile [--all] [--root DIR] [--listen HOST:PORT] [--etc DIR] [--out DIR]\n  [--s3-endpoint URL --s3-bucket NAME [--s3-path-style]] [--admin-listen HOST:PORT]\n\nStandalone executables dist/backup-server and dist/backup-client for this machine, or for every\ntarget with --all; the server sandboxed to ROOT, the files in ETC and HOST:PORT, or, with\n--s3-endpoint, to that bucket (no files at all) and the AWS_* credential variables.",
  {
    all: { type: "boolean" },
    root: { type: "string" },
    listen: { type: "string" },
    etc: { type: "string" },
    out: { type: "string" },
    "s3-endpoint": { type: "string" },
    "s3-bucket": { type: "string" },
    "s3-path-style": { type: "boolean" },
    "admin-listen": { type: "string" },
  },
);
const projectDir = new URL("..", import.meta.url).pathname;
const outDir = values.out ?? `${projectDir}dist`;
const targets = values.all ? Object.keys(TARGETS) : [undefined];
console.log(
  `compile: server root ${values.root ?? DEFAULT_BUILD_ROOT}, listen ${
    values.listen ?? DEFAULT_BUILD_LISTEN
  }, into ${outDir}`,
);
for (const target of targets) {
  for (const program of ["server", "client"] as const) {
    const args = compileArgs({
      program,
      target,
      outDir,
      root: values.root,
      listen: values.listen,
      etc: values.etc,
      s3: values["s3-endpoint"] === undefined ? undefined : {
        endpoint: values["s3-endpoint"],
        bucket: values["s3-bucket"] ?? "",
        pathStyle: values["s3-path-style"],
      },
      admin: values["admin-listen"],
    });
    const result = await new Deno.Command(Deno.execPath(), {
      args,
      cwd: projectDir,
      env: { NO_COLOR: "1" },
      stdout: "inherit",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(result.stderr);
    if (!result.success) {
      const cannotDownload = /denort|download|dns|connect|network|tcp/i.test(stderr);
      console.error(
        cannotDownload
          ? `compile: cannot download Deno's runtime (denort) for ${target ?? "this machine"}: ` +
            "deno compile needs network access to fetch it. Build on a machine online, or in CI."
          : `compile: deno compile failed for ${program} ${target ?? ""}`,
      );
      // deno's own lines that say what failed, without its stack trace
      const said = stderr.split("\n")
        .filter((line) => /error|download/i.test(line));
      console.error(said.join("\n"));
      Deno.exit(1);
    }
    console.log(`compile: built ${args[args.indexOf("--output") + 1]}`);
  }
}
