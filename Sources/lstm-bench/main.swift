// Benchmarks: commands, not timed tests. Filled in per benchmark.
print("lstm-bench")
