//! Redis for wf.
