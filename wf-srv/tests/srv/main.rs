//! wf-srv's integration tests, in one test binary: lookups against a real
//! dnsmasq (testkit), hostile replies from a fake server, and discovery
//! feeding an upstream that HTTP tasks go through.

mod support;

mod discovery;
mod hostile;
mod lookup;
