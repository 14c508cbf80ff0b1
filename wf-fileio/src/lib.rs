//! File IO for wf.
