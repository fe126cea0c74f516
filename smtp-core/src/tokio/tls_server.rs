//! The server's certificate and key, from PEM files.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Why the server's TLS configuration could not be built; each message
/// names the file and what to do about it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsConfigError {
    /// A file could not be read.
    #[error(
        "{path}: cannot read it: {source}; check the path in the configuration and that the server may read it"
    )]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: io::Error,
    },
    /// The certificate file holds no certificate.
    #[error(
        "{path}: no PEM certificate found; expected the certificate chain, leaf first, in \
         `-----BEGIN CERTIFICATE-----` blocks"
    )]
    NoCertificate {
        /// The file.
        path: PathBuf,
    },
    /// The key file holds no private key.
    #[error(
        "{path}: no PEM private key found; expected one `-----BEGIN PRIVATE KEY-----` (PKCS#8), \
         `BEGIN RSA PRIVATE KEY` or `BEGIN EC PRIVATE KEY` block"
    )]
    NoPrivateKey {
        /// The file.
        path: PathBuf,
    },
    /// A PEM block is damaged.
    #[error("{path}: malformed PEM: {detail}; re-export the file in PEM form")]
    BadPem {
        /// The file.
        path: PathBuf,
        /// What the PEM reader said.
        detail: String,
    },
    /// The key file can be read by any user.
    #[error(
        "{path}: mode is {mode:04o}, but a private key must not be accessible to other users; \
         run `chmod o-rwx {path}`"
    )]
    KeyTooPermissive {
        /// The key file.
        path: PathBuf,
        /// Its mode.
        mode: u32,
    },
    /// rustls refused the pair (the key does not match the certificate, or
    /// the key type is unsupported).
    #[error(
        "{cert} and {key} cannot be used together: {source}; check that the key belongs to the certificate"
    )]
    Rustls {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// What rustls said.
        source: rustls::Error,
    },
}

/// Loads the certificate chain and private key for the server side of
/// STARTTLS and implicit TLS (ring provider, TLS 1.2 and 1.3).
///
/// The key file must not be accessible to other users (mode `o-rwx`).
pub fn server_tls_config(
    cert_path: &Path,
    key_path: &Path,
) -> Result<Arc<rustls::ServerConfig>, TlsConfigError> {
    let cert_pem = read(cert_path)?;
    check_key_permissions(key_path)?;
    let key_pem = read(key_path)?;
    let bad_pem = |path: &Path, e: rustls::pki_types::pem::Error| TlsConfigError::BadPem {
        path: path.to_owned(),
        detail: e.to_string(),
    };
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad_pem(cert_path, e))?;
    if chain.is_empty() {
        return Err(TlsConfigError::NoCertificate { path: cert_path.to_owned() });
    }
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => {
            TlsConfigError::NoPrivateKey { path: key_path.to_owned() }
        }
        e => bad_pem(key_path, e),
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let rustls_error =
        |source| TlsConfigError::Rustls { cert: cert_path.to_owned(), key: key_path.to_owned(), source };
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(rustls_error)?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(rustls_error)?;
    Ok(Arc::new(config))
}

fn read(path: &Path) -> Result<Vec<u8>, TlsConfigError> {
    fs::read(path).map_err(|source| TlsConfigError::Io { path: path.to_owned(), source })
}

#[cfg(unix)]
fn check_key_permissions(path: &Path) -> Result<(), TlsConfigError> {
    use std::os::unix::fs::PermissionsExt as _;
    let metadata =
        fs::metadata(path).map_err(|source| TlsConfigError::Io { path: path.to_owned(), source })?;
    let mode = metadata.permissions().mode() & 0o7777;
    if mode & 0o007 != 0 {
        return Err(TlsConfigError::KeyTooPermissive { path: path.to_owned(), mode });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_key_permissions(_path: &Path) -> Result<(), TlsConfigError> {
    Ok(())
}
