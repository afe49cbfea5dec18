import { S3Storage } from "../../storage/s3/engine.ts";
import { storageContract } from "../_storage_contract.ts";
import { recordCharge } from "../../storage/quota_charge.ts";
import { encodeName } from "../../storage/s3/keys.ts";
import { freshPrefix, testLocation } from "../../harness/s3_location.ts";

storageContract("s3", async (options) => {
  const { storage } = await S3Storage.open({
    location: testLocation(),
    prefix: freshPrefix(),
    serverTag: "contract",
    pruneIntervalMs: 0,
    quotaOf: () => options.quotaBytes ?? 0,
    appendOnlyOf: options.appendOnlyOf,
    retention: options.retention,
    now: options.now,
  });
  return Object.assign(storage, { [Symbol.asyncDispose]: () => storage.close() });
}, (name) => recordCharge(new TextEncoder().encode(encodeName(name)).length));

// The same contract with large files stored as chunks in packs (experimental `chunkFiles`).
storageContract("s3 chunked", async (options) => {
  const { storage } = await S3Storage.open({
    location: testLocation(),
    prefix: freshPrefix(),
    serverTag: "contract",
    pruneIntervalMs: 0,
    quotaOf: () => options.quotaBytes ?? 0,
    appendOnlyOf: options.appendOnlyOf,
    retention: options.retention,
    now: options.now,
    chunkFiles: true,
  });
  return Object.assign(storage, { [Symbol.asyncDispose]: () => storage.close() });
}, (name) => recordCharge(new TextEncoder().encode(encodeName(name)).length));
