"""Benchmarks (`make bench`) and reliability drills (`make drill`) of the Workflow Store."""
