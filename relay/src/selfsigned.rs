//! The certificate the embedded example configuration needs: made at first
//! start so that `smarthost serve` works on a fresh checkout, and logged so
//! the operator knows to replace it.

use std::fs::{self, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;

use rcgen::{CertificateParams, DnType, KeyPair};

/// Writes a self-signed certificate for `hostname` (and `localhost`,
/// `127.0.0.1`, `::1`) to `cert` and its key to `key` (mode 0600).
pub(crate) fn generate(hostname: &str, cert: &Path, key: &Path) -> Result<(), String> {
    let mut names = vec![hostname.to_owned()];
    for extra in ["localhost", "127.0.0.1", "::1"] {
        if !names.iter().any(|n| n == extra) {
            names.push(extra.to_owned());
        }
    }
    let mut params = CertificateParams::new(names)
        .map_err(|e| format!("cannot make a certificate for `{hostname}`: {e}"))?;
    params.distinguished_name.push(DnType::CommonName, hostname);
    let pair = KeyPair::generate().map_err(|e| format!("cannot make a key: {e}"))?;
    let certificate = params.self_signed(&pair).map_err(|e| format!("cannot sign the certificate: {e}"))?;
    for file in [cert, key] {
        if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir).map_err(|e| format!("{}: cannot create: {e}", dir.display()))?;
        }
    }
    write_new(key, pair.serialize_pem().as_bytes(), 0o600)?;
    write_new(cert, certificate.pem().as_bytes(), 0o644)?;
    Ok(())
}

fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), String> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|e| format!("{}: cannot create: {e}", path.display()))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| format!("{}: cannot write: {e}", path.display()))
}
