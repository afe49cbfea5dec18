import { EmbeddedStorage } from "../storage/embedded/engine.ts";
import { storageContract } from "./_storage_contract.ts";
import { indexVersionCharge } from "../storage/quota_charge.ts";

storageContract("embedded", async (options) => {
  const root = await Deno.makeTempDir({ prefix: "backup-contract-" });
  const { storage } = await EmbeddedStorage.open({ root, pruneIntervalMs: 0, ...options });
  return Object.assign(storage, {
    async [Symbol.asyncDispose]() {
      await storage.close();
      await Deno.remove(root, { recursive: true });
    },
  });
}, (name) => indexVersionCharge(new TextEncoder().encode(name).length));
