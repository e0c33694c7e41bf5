/**
 * OKX against the venue contract suite, `books` without its initial snapshot: every start and resync bridges a REST
 * snapshot by seqId (the run with it: contract.test.ts).
 */
import { runVenueContract } from "../contract.ts";
import { BOOKS, harness } from "./contract-harness.ts";

runVenueContract(
  harness(false, BOOKS, {
    snapshotOnly: "books sends increments",
  }),
);
