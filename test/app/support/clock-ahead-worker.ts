/**
 * The feeder worker (src/app/worker-main.ts), unchanged, on a wall clock CLOCK_AHEAD_MS ahead while the test's
 * marker file exists (clock-ahead-preload.ts, imported first so core/clock.ts loads on the shifted clock).
 */
import "./clock-ahead-preload.ts";
import "../../../src/app/worker-main.ts";
