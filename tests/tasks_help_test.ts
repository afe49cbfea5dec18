import assert from "node:assert/strict";
import { DENO, PROJECT_DIR } from "./_helpers.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const TASKS = {
  bench: "bench/main.ts",
  soak: "soak/main.ts",
  fuzz: "fuzz/main.ts",
  compile: "tools/compile.ts",
};

Deno.test("every task answers --help with its usage and refuses an unknown flag in one line, exit 2", async () => {
  for (const [task, script] of Object.entries(TASKS)) {
    const run = (...args: string[]) =>
      new Deno.Command(DENO, {
        args: [
          "run",
          "--quiet",
          `--config=${PROJECT_DIR}/deno.json`,
          "-P=harness",
          `${PROJECT_DIR}/${script}`,
          ...args,
        ],
        stdin: "null",
      }).output();
    const help = await run("--help");
    assert.equal(help.code, 0, task);
    assert.match(
      new TextDecoder().decode(help.stdout),
      new RegExp(`^deno (task|run -A bench/)\\S* ?${task}`),
    );
    const bogus = await run("--bogus");
    assert.equal(bogus.code, 2, task);
    assert.equal(
      new TextDecoder().decode(bogus.stderr),
      `${task}: Unknown option '--bogus' (see --help)\n`,
    );
  }
});
