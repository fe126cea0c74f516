//! Certificates for `--starttls`: a throwaway CA and a leaf for
//! `localhost`, written beside the relay's configuration, and a client that
//! trusts that CA. The certificate is verified for real, as a mail client
//! would; only the CA is new.

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use tokio_rustls::TlsConnector;

/// The name the clients ask for and the leaf certificate carries.
pub(crate) const SERVER_NAME: &str = "localhost";

/// The server's files and the client's configuration.
pub(crate) struct Pki {
    /// The leaf certificate, then the CA's (PEM).
    pub(crate) cert: PathBuf,
    /// The leaf's private key (PEM, mode 0600).
    pub(crate) key: PathBuf,
    /// A client that trusts the CA.
    pub(crate) connector: TlsConnector,
}

/// Makes the CA and the leaf and writes `cert.pem` and `key.pem` into `dir`.
pub(crate) fn make_pki(dir: &Path) -> Result<Pki, String> {
    let failed = |what: &str, e: &dyn std::fmt::Display| format!("making the test certificates: {what}: {e}");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(|e| failed("CA", &e))?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(DnType::CommonName, "relay_load throwaway CA");
    ca_params.key_usages =
        vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    let ca_key = KeyPair::generate().map_err(|e| failed("CA key", &e))?;
    let ca = CertifiedIssuer::self_signed(ca_params, ca_key).map_err(|e| failed("CA", &e))?;
    let names = vec![SERVER_NAME.to_owned(), "relay.test".to_owned(), "127.0.0.1".to_owned()];
    let mut leaf_params = CertificateParams::new(names).map_err(|e| failed("leaf", &e))?;
    leaf_params.distinguished_name.push(DnType::CommonName, SERVER_NAME);
    leaf_params.use_authority_key_identifier_extension = true;
    leaf_params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let leaf_key = KeyPair::generate().map_err(|e| failed("leaf key", &e))?;
    let leaf = leaf_params.signed_by(&leaf_key, &ca).map_err(|e| failed("leaf", &e))?;

    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    let write = |path: &Path, text: String| {
        fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
    };
    write(&cert, format!("{}{}", leaf.pem(), ca.pem()))?;
    write(&key, leaf_key.serialize_pem())?;
    // The relay, like our server driver, refuses a key others may read.
    fs::set_permissions(&key, fs::Permissions::from_mode(0o600))
        .map_err(|e| format!("cannot chmod 600 {}: {e}", key.display()))?;

    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.der().clone()).map_err(|e| failed("trusting the CA", &e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| failed("client configuration", &e))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Pki { cert, key, connector: TlsConnector::from(Arc::new(config)) })
}
