//! A small certificate authority kept as PEM files in a folder.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};

use crate::TlsError;

const CA_CERT: &str = "ca.pem";
const CA_KEY: &str = "ca-key.pem";

/// A certificate authority whose key and certificate live in `dir`.
pub struct Authority {
    name: String,
    key: KeyPair,
    cert_pem: String,
    dir: PathBuf,
}

/// A server's certificate chain and key, ready for rustls or tonic.
#[derive(Clone)]
pub struct ServerIdentity {
    pub cert_pem: String,
    pub key_pem: String,
    /// The issuing CA, which clients must trust.
    pub ca_pem: String,
}

impl Authority {
    /// Loads the authority kept in `dir`, or creates one named `name` there on first start.
    pub fn load_or_create(dir: &Path, name: &str) -> Result<Self, TlsError> {
        let (cert_path, key_path) = (dir.join(CA_CERT), dir.join(CA_KEY));
        if cert_path.exists() && key_path.exists() {
            let key_pem = read(&key_path)?;
            let key = KeyPair::from_pem(&key_pem).map_err(|e| TlsError::BadPem {
                path: key_path.clone(),
                what: "private key",
                reason: e.to_string(),
            })?;
            let cert_pem = read(&cert_path)?;
            return Ok(Authority {
                name: name.to_owned(),
                key,
                cert_pem,
                dir: dir.to_owned(),
            });
        }
        std::fs::create_dir_all(dir).map_err(|source| TlsError::Write {
            path: dir.to_owned(),
            source,
        })?;
        let key = KeyPair::generate()?;
        let cert_pem = ca_params(name).self_signed(&key)?.pem();
        write_private(&key_path, &key.serialize_pem())?;
        write(&cert_path, &cert_pem)?;
        tracing::info!(ca = %cert_path.display(), "created certificate authority '{name}'");
        Ok(Authority {
            name: name.to_owned(),
            key,
            cert_pem,
            dir: dir.to_owned(),
        })
    }

    /// Where the CA certificate is, for clients to trust.
    pub fn cert_path(&self) -> PathBuf {
        self.dir.join(CA_CERT)
    }

    /// The CA certificate in PEM.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// Issues a server certificate for the given names and addresses. A fresh one at each
    /// start means a changed host name never leaves a stale certificate behind; clients
    /// trust the CA, which does not change.
    pub fn issue_server(&self, names: &[String]) -> Result<ServerIdentity, TlsError> {
        let mut params = CertificateParams::default();
        params.distinguished_name = dn(names.first().map_or("localhost", |s| s.as_str()));
        params.subject_alt_names = names
            .iter()
            .map(|n| match n.parse::<std::net::IpAddr>() {
                Ok(ip) => Ok(SanType::IpAddress(ip)),
                Err(_) => n.as_str().try_into().map(SanType::DnsName),
            })
            .collect::<Result<_, _>>()?;
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        let key = KeyPair::generate()?;
        let issuer = Issuer::new(ca_params(&self.name), &self.key);
        let cert = params.signed_by(&key, &issuer)?;
        Ok(ServerIdentity {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            ca_pem: self.cert_pem.clone(),
        })
    }
}

impl ServerIdentity {
    /// Reads a certificate chain and key given by the operator.
    pub fn from_files(cert: &Path, key: &Path, ca: Option<&Path>) -> Result<Self, TlsError> {
        let cert_pem = read(cert)?;
        Ok(ServerIdentity {
            ca_pem: match ca {
                Some(ca) => read(ca)?,
                None => cert_pem.clone(),
            },
            cert_pem,
            key_pem: read(key)?,
        })
    }

    /// A rustls server configuration offering HTTP/2 and HTTP/1.1.
    pub fn rustls_config(&self) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        crate::install_crypto_provider();
        use rustls::pki_types::pem::{self, PemObject};
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let certs = CertificateDer::pem_slice_iter(self.cert_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| bad("certificate", e.to_string()))?;
        if certs.is_empty() {
            return Err(bad("certificate", "no certificate found".into()));
        }
        let key = PrivateKeyDer::from_pem_slice(self.key_pem.as_bytes()).map_err(|e| match e {
            pem::Error::NoItemsFound => bad("private key", "no key found".into()),
            e => bad("private key", e.to_string()),
        })?;
        let mut config = rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(certs, key)?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

/// The names a server certificate should carry by default: loopback plus this machine's name.
pub fn default_server_names() -> Vec<String> {
    let mut names = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    if let Some(host) = host_name()
        && !names.contains(&host)
    {
        names.push(host);
    }
    names
}

/// This machine's name as the operating system knows it: not `$HOSTNAME`, which a shell does
/// not export and an init system does not set.
pub fn host_name() -> Option<String> {
    let name = system_host_name()?;
    let name = name.trim().to_ascii_lowercase();
    // Only what can be a DNS name in a certificate.
    let usable = !name.is_empty()
        && name.len() <= 253
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
    usable.then_some(name)
}

#[cfg(unix)]
fn system_host_name() -> Option<String> {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most `buf.len()` bytes into `buf`.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return None;
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8(buf[..end].to_vec()).ok()
}

/// Windows sets `COMPUTERNAME` for every process, services included.
#[cfg(not(unix))]
fn system_host_name() -> Option<String> {
    std::env::var("COMPUTERNAME").ok()
}

fn ca_params(name: &str) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = dn(name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params
}

fn dn(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    dn
}

fn bad(what: &'static str, reason: String) -> TlsError {
    TlsError::BadPem {
        path: PathBuf::from("<server identity>"),
        what,
        reason,
    }
}

fn read(path: &Path) -> Result<String, TlsError> {
    std::fs::read_to_string(path).map_err(|source| TlsError::Read {
        path: path.to_owned(),
        source,
    })
}

fn write(path: &Path, contents: &str) -> Result<(), TlsError> {
    std::fs::write(path, contents).map_err(|source| TlsError::Write {
        path: path.to_owned(),
        source,
    })
}

/// Writes a private key readable by its owner only (where the platform has such modes).
pub(crate) fn write_private(path: &Path, contents: &str) -> Result<(), TlsError> {
    write(path, contents)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_authority_survives_a_restart_and_issues_usable_certificates() {
        let dir = std::env::temp_dir().join(format!("tls-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let first = Authority::load_or_create(&dir, "Test CA").unwrap();
        let again = Authority::load_or_create(&dir, "Test CA").unwrap();
        assert_eq!(first.cert_pem(), again.cert_pem());
        let id = again.issue_server(&default_server_names()).unwrap();
        id.rustls_config().unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_default_names_carry_the_machines_own_name_whatever_the_environment() {
        let from_system = std::fs::read_to_string("/proc/sys/kernel/hostname");
        let names = default_server_names();
        assert!(names.contains(&"localhost".to_owned()));
        if let Ok(expected) = from_system {
            let expected = expected.trim().to_ascii_lowercase();
            assert!(names.contains(&expected), "{names:?} lacks {expected}");
        }
    }
}
