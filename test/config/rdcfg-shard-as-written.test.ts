/**
 * A `shard` written with leading zeros ("01/2", taken as 1/2) was named in its problems as the loader normalised it
 * ("1/2"): an operator searching the file for the value the error names found nothing. Named as written.
 */
import { expect, test } from "vitest";
import { instrumentIdOf } from "../../src/core/instrument-id.ts";
import { shardOfId } from "../../src/config/share.ts";
import { configProblems } from "../support/config-problems.ts";

const VENUE = '[venues.bybit.linear]\nsymbols = ["BTCUSDT"]\n';

test("a share holding no symbol, and a shard without source_id, name the shard as the file writes it", () => {
  const empty = 1 - shardOfId(instrumentIdOf("bybit", "linear", "BTCUSDT"), 2);
  const [share] = configProblems(`shard = "0${empty}/02"\n[publish]\nsource_id = 4\n${VENUE}`);
  expect(share).toMatch(new RegExp(`^shard: "0${empty}/02" is not a share holding a configured symbol`));
  const full = 1 - empty;
  expect(configProblems(`shard = "0${full}/2"\n${VENUE}`)).toEqual([expect.stringMatching(new RegExp(`^publish\\.source_id: missing \\(expected a source id set for shard = "0${full}/2":`))]);
});
