/** Upbit runs the venue contract suite against its simulator (snapshot-only: the gap cases are skipped, saying why). */
import { UPBIT_VENUE } from "../../../src/venues/upbit/index.ts";
import { runVenueContract } from "../contract.ts";
import { upbitHarness } from "./harness.ts";

runVenueContract(upbitHarness(UPBIT_VENUE));
