"""Benchmarks: a numpy-only timing loop, a worker that runs on the device, local/SSH runners, reports."""
