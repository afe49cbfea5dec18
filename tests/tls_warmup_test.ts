/** Which command lines start the TLS stack early (`client/tls_warmup.ts`). */
import assert from "node:assert/strict";
import { asksForTls } from "../client/tls_warmup.ts";

Deno.test.sanitizer({ ops: true, resources: true });

Deno.test("--tls, --ca FILE and --ca=FILE ask for TLS; after -- they are operands", () => {
  assert.equal(asksForTls(["backup", "--tls", "docs"]), true);
  assert.equal(asksForTls(["--ca", "cert.pem", "snapshots"]), true);
  assert.equal(asksForTls(["snapshots", "--ca=cert.pem"]), true);
  assert.equal(asksForTls(["backup", "docs"]), false);
  assert.equal(asksForTls(["backup", "--", "--tls", "--ca=x"]), false);
  assert.equal(asksForTls(["backup", "--cat", "--tlsx"]), false);
});
