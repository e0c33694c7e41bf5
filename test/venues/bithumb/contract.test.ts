/** Bithumb runs the venue contract suite against the simulator in Bithumb's dialect (ms timestamps, text and binary frames). */
import { BITHUMB_VENUE } from "../../../src/venues/bithumb/index.ts";
import { runVenueContract } from "../contract.ts";
import { upbitHarness } from "../upbit/harness.ts";

runVenueContract(upbitHarness(BITHUMB_VENUE));
