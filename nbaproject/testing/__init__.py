"""Test helpers shared by every app's tests: service probes and real worker processes."""
