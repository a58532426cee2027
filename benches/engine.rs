//! Criterion benchmarks of the engine's write path (filled in below).
fn main() {}
