"""Tests of the whole service: real processes, faults under load, the deploy files, the docs."""
