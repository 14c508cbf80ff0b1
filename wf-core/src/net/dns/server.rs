//! A DNS server answering on UDP and TCP on one port (Workflow's
//! `WFDnsServer`, tutorial 19).

use std::net::SocketAddr;
use std::sync::Arc;

use super::protocol::Dns;
use crate::error::Error;
use crate::net::server::{Server, ServerTask};

/// A DNS server: one `process` answers queries over UDP and over TCP on
/// the same port.
///
/// `process` gets the query ([`req`](crate::net::ServerKind::req)) and fills the
/// reply ([`resp_mut`](crate::net::ServerKind::resp_mut)); the ID, question, opcode,
/// `RD` and `QR` are filled by the server, as in Workflow. A UDP reply
/// larger than the client takes (512 bytes, or its EDNS size up to
/// 1,232) is truncated: records that do not fit are left out and `TC` is
/// set, so the client asks again over TCP. A datagram that is not a DNS
/// query is dropped.
///
/// ```no_run
/// use wf_core::net::dns::{DnsServer, RData, Record};
///
/// let server = DnsServer::new(|t| {
///     let name = t.req().question().map(|q| q.name.clone()).unwrap_or_default();
///     t.resp_mut().answers.push(Record::new(&name, 60, RData::A([127, 0, 0, 1].into())));
/// });
/// server.start_on("127.0.0.1", 5353).unwrap();
/// // dig @127.0.0.1 -p 5353 example.test (or +tcp)
/// wf_core::signal::wait_for_shutdown();
/// server.stop();
/// ```
#[derive(Debug)]
pub struct DnsServer {
    udp: Server<Dns>,
    tcp: Server<Dns>,
}

impl DnsServer {
    /// A server with Workflow's DNS server parameters.
    pub fn new(process: impl Fn(&mut ServerTask<Dns>) + Send + Sync + 'static) -> DnsServer {
        let process = Arc::new(process);
        let p = process.clone();
        DnsServer { udp: Server::new(Dns::udp(), move |t| p(t)), tcp: Server::new(Dns::tcp(), move |t| process(t)) }
    }

    /// Listens on `host:port` over UDP and TCP. Port 0 picks a port free
    /// for both (see [`local_addr`](DnsServer::local_addr)).
    ///
    /// # Errors
    ///
    /// `SYS_ERROR` with the errno of the bind or listen that failed (then
    /// neither listens).
    pub fn start_on(&self, host: &str, port: u16) -> Result<(), Error> {
        // A free UDP port may be taken for TCP: a few tries when picking.
        let tries = if port == 0 { 20 } else { 1 };
        let mut last = Error::sys(libc::EADDRINUSE);
        for _ in 0..tries {
            self.udp.start_udp(host, port)?;
            let Some(bound) = self.udp.udp_addr() else { return Err(Error::sys(libc::EINVAL)) };
            match self.tcp.start_on(host, bound.port()) {
                Ok(()) => return Ok(()),
                Err(e) => {
                    self.udp.stop();
                    last = e;
                }
            }
        }
        Err(last)
    }

    /// Where it listens (the same port for UDP and TCP).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.udp.udp_addr()
    }

    /// The UDP half.
    pub fn udp(&self) -> &Server<Dns> {
        &self.udp
    }

    /// The TCP half.
    pub fn tcp(&self) -> &Server<Dns> {
        &self.tcp
    }

    /// Stops listening; queries in flight are still answered.
    pub fn shutdown(&self) {
        self.udp.shutdown();
        self.tcp.shutdown();
    }

    /// Waits until every query in flight is answered.
    pub fn wait_finish(&self) {
        self.udp.wait_finish();
        self.tcp.wait_finish();
    }

    /// [`shutdown`](DnsServer::shutdown), then [`wait_finish`](DnsServer::wait_finish).
    pub fn stop(&self) {
        self.shutdown();
        self.wait_finish();
    }
}
