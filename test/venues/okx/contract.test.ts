/**
 * OKX against the venue contract suite, `books` with its initial snapshot (checksums real, so verify() checks every
 * message). The run without it is contract-rest.test.ts, books5 contract-books5.test.ts (a file each: side by side).
 */
import { runVenueContract } from "../contract.ts";
import { BOOKS, harness } from "./contract-harness.ts";

runVenueContract(
  harness(true, BOOKS, {
    restSnapshot: "covered by the run without an initial snapshot (contract-rest.test.ts; here every subscribe brings a snapshot)",
    snapshotOnly: "books sends a snapshot, then increments",
  }),
);
