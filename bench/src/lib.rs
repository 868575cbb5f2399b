//! Benchmarks and the load generator for hallq live in `benches/` and `src/bin/`.
