"""DSRS development tooling: the local stack, benchmarks, the demo and its synthetic households."""
