"""Model analysis without running it: compute, memory, op compatibility, Edge TPU lint, latency estimates."""
