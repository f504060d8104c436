//! A client's byte stream: plain TCP, or TLS (`wss://`) over TCP with rustls.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;

use rustls::{ServerConfig as TlsConfig, ServerConnection, StreamOwned};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// What tungstenite reads and writes: the transport, and the bytes of the
/// request head already read by `http::read_head`, given back first.
pub(crate) struct Stream {
    io: Io,
    /// Bytes read ahead (the request head) that reads return before the socket's.
    replay: Vec<u8>,
    at: usize,
}

enum Io {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ServerConnection, TcpStream>>),
}

impl Stream {
    /// Wraps `tcp` in TLS when `tls` is configured (the TLS handshake happens on first use).
    pub(crate) fn new(tcp: TcpStream, tls: Option<&Arc<TlsConfig>>) -> std::io::Result<Self> {
        let io = match tls {
            None => Io::Plain(tcp),
            Some(cfg) => {
                let conn = ServerConnection::new(Arc::clone(cfg)).map_err(std::io::Error::other)?;
                Io::Tls(Box::new(StreamOwned::new(conn, tcp)))
            }
        };
        Ok(Self { io, replay: Vec::new(), at: 0 })
    }

    /// The TCP socket underneath (timeouts, blocking mode, shutdown).
    pub(crate) fn tcp(&self) -> &TcpStream {
        match &self.io {
            Io::Plain(s) => s,
            Io::Tls(s) => &s.sock,
        }
    }

    /// Makes the next reads return `bytes` (read ahead) before the socket's.
    pub(crate) fn unread(&mut self, bytes: Vec<u8>) {
        debug_assert!(self.at >= self.replay.len(), "nothing left to replay");
        self.replay = bytes;
        self.at = 0;
    }

    /// Ends the stream politely: TLS close_notify and flush, then `flushed`
    /// (everything written is out), then no more writes (the peer sees the end).
    pub(crate) fn finish(&mut self, flushed: impl FnOnce(&TcpStream)) {
        if let Io::Tls(s) = &mut self.io {
            s.conn.send_close_notify();
        }
        let _ = self.flush();
        flushed(self.tcp());
        let _ = self.tcp().shutdown(std::net::Shutdown::Write);
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.at < self.replay.len() {
            let n = buf.len().min(self.replay.len() - self.at);
            buf[..n].copy_from_slice(&self.replay[self.at..self.at + n]);
            self.at += n;
            if self.at == self.replay.len() {
                self.replay = Vec::new();
                self.at = 0;
            }
            return Ok(n);
        }
        match &mut self.io {
            Io::Plain(s) => s.read(buf),
            Io::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match &mut self.io {
            Io::Plain(s) => s.write(buf),
            Io::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match &mut self.io {
            Io::Plain(s) => s.flush(),
            Io::Tls(s) => s.flush(),
        }
    }
}

/// Loads a certificate chain and private key (PEM files) into a TLS server config.
pub(crate) fn load_tls(cert: &Path, key: &Path) -> Result<Arc<TlsConfig>, String> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| format!("cannot read the certificate {}: {e}", cert.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{}: not a PEM certificate chain: {e}", cert.display()))?;
    if certs.is_empty() {
        return Err(format!("{}: no certificate in the file", cert.display()));
    }
    let key =
        PrivateKeyDer::from_pem_file(key).map_err(|e| format!("cannot read the private key {}: {e}", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = TlsConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("the certificate and key do not work together: {e}"))?;
    Ok(Arc::new(cfg))
}
