//! End-to-end tests across hallqd and hallq: see `tests/`.
