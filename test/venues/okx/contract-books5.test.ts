/** OKX against the venue contract suite on books5: full books, snapshot-only (the `books` runs: contract.test.ts). */
import { runVenueContract } from "../contract.ts";
import { harness } from "./contract-harness.ts";

runVenueContract(
  harness(
    true,
    [
      { market: "spot", symbol: "BTC-USDT", depth: 5 },
      { market: "linear", symbol: "ETH-USDT-SWAP", depth: 5 },
    ],
    {
      gap: "books5 carries full books: nothing to lose between two",
      reset: "books5 has no prevSeqId to reset",
      sequenceScope: "books5 carries full books: no gap exists",
      restSnapshot: "books5 needs no REST snapshot",
      checksum: "books5 carries no checksum",
    },
    true,
  ),
);
