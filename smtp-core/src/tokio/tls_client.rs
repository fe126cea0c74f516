//! The client side of TLS for the tokio driver: trust anchors, certificate
//! verification, and the one dangerous switch.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// Which certificates the client trusts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum TrustAnchors {
    /// The operating system's store, read with `rustls-native-certs`
    /// (`SSL_CERT_FILE` / `SSL_CERT_DIR` override it).
    #[default]
    System,
    /// Only the certificates in this PEM file: a private CA, or a smart
    /// host's own certificate.
    CaFile(PathBuf),
}

/// How the client checks the server's certificate.
///
/// ```
/// use smarthost_smtp_core::tokio::{TlsClientOptions, TrustAnchors};
/// let options = TlsClientOptions { trust: TrustAnchors::System, ..TlsClientOptions::default() };
/// assert!(!options.dangerous_accept_invalid_certs);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsClientOptions {
    /// The certificates that may sign the server's.
    pub trust: TrustAnchors,
    /// **Dangerous.** Accept any certificate: expired, self-signed, for
    /// another name, signed by anyone. The connection is still encrypted and
    /// the handshake signature still checked, but a man in the middle can
    /// read and change everything, AUTH passwords included. For tests and
    /// for peers known to have broken certificates, where opportunistic
    /// encryption beats plaintext; never with credentials you care about.
    pub dangerous_accept_invalid_certs: bool,
}

/// Why the TLS client configuration could not be built. The operator has
/// to act on all of these.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsClientError {
    /// The CA file could not be read.
    #[error("cannot read the CA file {path}: {source}; point the TLS CA setting at a readable PEM file")]
    ReadCaFile {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The CA file holds no certificate, or a broken one.
    #[error(
        "{path}: {reason}; expected PEM certificates (`-----BEGIN CERTIFICATE-----` blocks), as \
         `openssl x509 -outform PEM` writes them"
    )]
    BadCaFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The system store gave no usable certificate.
    #[error(
        "no trusted root certificates in the system store ({errors}); install the distribution's \
         CA bundle (ca-certificates), set SSL_CERT_FILE, or configure a CA file"
    )]
    NoSystemRoots {
        /// What went wrong while reading the store.
        errors: String,
    },
    /// rustls refused the configuration (should not happen with its defaults).
    #[error("TLS configuration: {0}")]
    Config(#[from] rustls::Error),
}

/// A TLS client configuration, built once and shared by connections.
#[derive(Clone)]
pub struct TlsClient {
    connector: TlsConnector,
    dangerous: bool,
}

impl std::fmt::Debug for TlsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsClient").field("dangerous_accept_invalid_certs", &self.dangerous).finish()
    }
}

impl TlsClientOptions {
    /// Loads the trust anchors and builds the configuration.
    pub fn build(&self) -> Result<TlsClient, TlsClientError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()?;
        let config = if self.dangerous_accept_invalid_certs {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider)))
                .with_no_client_auth()
        } else {
            let roots = match &self.trust {
                TrustAnchors::System => system_roots()?,
                TrustAnchors::CaFile(path) => file_roots(path)?,
            };
            builder.with_root_certificates(roots).with_no_client_auth()
        };
        Ok(TlsClient {
            connector: TlsConnector::from(Arc::new(config)),
            dangerous: self.dangerous_accept_invalid_certs,
        })
    }
}

impl TlsClient {
    /// Runs the handshake on `tcp` for `server_name` (sent as SNI when it is
    /// a DNS name, and checked against the certificate).
    pub(crate) async fn handshake(
        &self,
        tcp: TcpStream,
        server_name: &str,
    ) -> Result<TlsStream<TcpStream>, String> {
        let name = ServerName::try_from(server_name.to_owned())
            .map_err(|_| format!("{server_name:?} is not a host name or IP address"))?;
        self.connector.connect(name, tcp).await.map_err(|error| error.to_string())
    }
}

/// The TLS 1.3 `tls-exporter` channel binding (RFC 9266), for SCRAM-PLUS.
pub(crate) fn channel_binding(stream: &TlsStream<TcpStream>) -> Option<Vec<u8>> {
    let (_, connection) = stream.get_ref();
    if connection.protocol_version() != Some(rustls::ProtocolVersion::TLSv1_3) {
        return None;
    }
    connection.export_keying_material([0u8; 32], b"EXPORTER-Channel-Binding", None).ok().map(|b| b.to_vec())
}

fn system_roots() -> Result<RootCertStore, TlsClientError> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = RootCertStore::empty();
    roots.add_parsable_certificates(found.certs);
    if roots.is_empty() {
        let errors: Vec<String> = found.errors.iter().map(ToString::to_string).collect();
        let errors = if errors.is_empty() { "none found".to_owned() } else { errors.join("; ") };
        return Err(TlsClientError::NoSystemRoots { errors });
    }
    Ok(roots)
}

fn file_roots(path: &Path) -> Result<RootCertStore, TlsClientError> {
    let bad = |reason: String| TlsClientError::BadCaFile { path: path.to_owned(), reason };
    let pem =
        std::fs::read(path).map_err(|source| TlsClientError::ReadCaFile { path: path.to_owned(), source })?;
    let mut roots = RootCertStore::empty();
    for certificate in CertificateDer::pem_slice_iter(&pem) {
        let certificate = certificate.map_err(|e| bad(format!("unreadable PEM: {e}")))?;
        roots.add(certificate).map_err(|e| bad(format!("not a usable CA certificate: {e}")))?;
    }
    if roots.is_empty() {
        return Err(bad("no certificate found".to_owned()));
    }
    Ok(roots)
}

/// The verifier behind `dangerous_accept_invalid_certs`: any certificate
/// chain is accepted, but the handshake signature must still be made with
/// the key of the certificate presented.
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
