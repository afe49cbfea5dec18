import { fuzzServer } from "../fuzz/server_property.ts";

Deno.test.sanitizer({ ops: true, resources: true });

Deno.test("hostile byte streams: answered per protocol or closed, no leak, server still serves", async () => {
  // A fixed seed keeps the suite repeatable; `deno task fuzz` explores with fresh seeds.
  const seed = Number(Deno.env.get("FUZZ_SEED") ?? 20261125);
  console.log(
    `seed ${seed} (replay: FUZZ_SEED=${seed} deno task test, or deno task fuzz --seed ${seed})`,
  );
  await fuzzServer({ seed, runs: 150 });
});
