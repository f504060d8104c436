//! The client's byte stream: plain TCP (`ws://`) or TLS over TCP (`wss://`, rustls).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, RootCertStore, SignatureScheme, StreamOwned};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

use crate::ClientError;

/// What the WebSocket reads and writes.
pub enum ClientStream {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
}

impl ClientStream {
    /// The TCP socket underneath (timeouts, shutdown).
    pub fn tcp(&self) -> &TcpStream {
        match self {
            ClientStream::Plain(s) => s,
            ClientStream::Tls(s) => &s.sock,
        }
    }

    /// Starts TLS to `host` on `tcp`, trusting the certificates in `ca_cert`
    /// or, without one, the system's bundle (see [`crate::ConnectOptions::ca_cert`]).
    pub(crate) fn tls(tcp: TcpStream, host: &str, ca_cert: Option<&Path>) -> Result<Self, ClientError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = Verifier::new(ca_cert, &provider)?;
        let config = ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(|e| ClientError::Tls(e.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth();
        let name = ServerName::try_from(host.to_owned())
            .map_err(|e| ClientError::Tls(format!("{host:?} is not a valid server name: {e}")))?;
        let conn = ClientConnection::new(Arc::new(config), name).map_err(|e| ClientError::Tls(e.to_string()))?;
        Ok(ClientStream::Tls(Box::new(StreamOwned::new(conn, tcp))))
    }
}

/// Standard WebPKI checks against the trusted roots, plus pinning: a server
/// presenting exactly a certificate from the file the user named is trusted.
/// That is how a viewer's self-signed certificate (`openssl req -x509`, which
/// marks it as a CA, so WebPKI refuses it as a server certificate) is used.
#[derive(Debug)]
struct Verifier {
    pinned: Vec<CertificateDer<'static>>,
    webpki: Arc<WebPkiServerVerifier>,
    provider: Arc<CryptoProvider>,
}

impl Verifier {
    fn new(ca_cert: Option<&Path>, provider: &Arc<CryptoProvider>) -> Result<Self, ClientError> {
        let (certs, path) = certificates(ca_cert)?;
        let mut roots = RootCertStore::empty();
        for cert in &certs {
            // A bundle may hold certificates rustls cannot use as roots; skip those.
            let _ = roots.add(cert.clone());
        }
        if roots.is_empty() {
            return Err(ClientError::Tls(format!("no usable certificate in {}", path.display())));
        }
        let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), Arc::clone(provider))
            .build()
            .map_err(|e| ClientError::Tls(e.to_string()))?;
        let pinned = if ca_cert.is_some() { certs } else { Vec::new() };
        Ok(Self { pinned, webpki, provider: Arc::clone(provider) })
    }
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if self.pinned.iter().any(|c| c.as_ref() == end_entity.as_ref()) {
            return Ok(ServerCertVerified::assertion());
        }
        self.webpki.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

/// System bundles tried when no certificate file is given (Debian/Ubuntu, Fedora/RHEL, Alpine/Arch).
const SYSTEM_BUNDLES: [&str; 3] =
    ["/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/cert.pem"];

/// The certificates in `ca_cert`, or in the system bundle without one.
fn certificates(ca_cert: Option<&Path>) -> Result<(Vec<CertificateDer<'static>>, PathBuf), ClientError> {
    let path: PathBuf = match ca_cert {
        Some(p) => p.to_owned(),
        None => std::env::var_os("SSL_CERT_FILE")
            .map(PathBuf::from)
            .or_else(|| SYSTEM_BUNDLES.iter().map(PathBuf::from).find(|p| p.is_file()))
            .ok_or_else(|| {
                ClientError::Tls(
                    "no certificates to trust: set ConnectOptions::ca_cert to the viewer's certificate (PEM) \
                     or SSL_CERT_FILE to a bundle"
                        .into(),
                )
            })?,
    };
    let certs = CertificateDer::pem_file_iter(&path)
        .map_err(|e| ClientError::Tls(format!("cannot read certificates from {}: {e}", path.display())))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ClientError::Tls(format!("bad certificate in {}: {e}", path.display())))?;
    Ok((certs, path))
}

impl Read for ClientStream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            ClientStream::Plain(s) => s.read(buf),
            ClientStream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for ClientStream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            ClientStream::Plain(s) => s.write(buf),
            ClientStream::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            ClientStream::Plain(s) => s.flush(),
            ClientStream::Tls(s) => s.flush(),
        }
    }
}
