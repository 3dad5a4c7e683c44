//! TLS for the links (`mqtts`, `https`): a CA and a server certificate for `127.0.0.1` made at start
//! with the `openssl` command (installed wherever mosquitto is; no certificate crate needed), and the
//! rustls server configuration the links terminate TLS with.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::error::{Error, Result};

/// The instance's certificate authority and the server side of its TLS.
pub(crate) struct TestTls {
    /// The CA certificate (PEM) a unit must trust.
    pub(crate) ca_file: PathBuf,
    pub(crate) server: Arc<rustls::ServerConfig>,
}

impl TestTls {
    /// Makes a CA and a certificate for the IP address 127.0.0.1 only (so `localhost` is a wrong host
    /// name) in `dir`.
    pub(crate) fn generate(dir: &Path) -> Result<TestTls> {
        let ca_key = dir.join("ca.key");
        let ca_file = dir.join("ca.pem");
        let key = dir.join("server.key");
        let request = dir.join("server.csr");
        let cert = dir.join("server.pem");
        let extensions = dir.join("server.ext");
        std::fs::write(
            &extensions,
            "subjectAltName=IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\n\
             keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
        )
        .map_err(|e| Error::io(&extensions, e))?;
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        openssl(
            &[
                &["req", "-x509"],
                &ec[..],
                &["-days", "2", "-subj", "/CN=pepeunit-testkit-ca"],
            ],
            &[("-keyout", &ca_key), ("-out", &ca_file)],
        )?;
        openssl(
            &[&["req"], &ec[..], &["-subj", "/CN=127.0.0.1"]],
            &[("-keyout", &key), ("-out", &request)],
        )?;
        openssl(
            &[&["x509", "-req", "-days", "2", "-set_serial", "2"]],
            &[
                ("-in", &request),
                ("-CA", &ca_file),
                ("-CAkey", &ca_key),
                ("-extfile", &extensions),
                ("-out", &cert),
            ],
        )?;
        let pem_error = |path: &Path, e: rustls::pki_types::pem::Error| Error::Invalid {
            source_name: path.display().to_string(),
            reason: format!("PEM: {e}"),
        };
        let chain = vec![CertificateDer::from_pem_file(&cert).map_err(|e| pem_error(&cert, e))?];
        let private = PrivateKeyDer::from_pem_file(&key).map_err(|e| pem_error(&key, e))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let server = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .and_then(|b| b.with_no_client_auth().with_single_cert(chain, private))
            .map_err(|e| Error::Invalid {
                source_name: cert.display().to_string(),
                reason: format!("TLS: {e}"),
            })?;
        Ok(TestTls {
            ca_file,
            server: Arc::new(server),
        })
    }
}

/// Runs `openssl` with `args` then `(flag, path)` pairs; an error names the command's complaint.
fn openssl(args: &[&[&str]], paths: &[(&str, &Path)]) -> Result<()> {
    let mut command = Command::new("openssl");
    command.args(args.iter().flat_map(|a| a.iter()));
    for (flag, path) in paths {
        command.arg(flag).arg(path);
    }
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error::io("openssl (needed for the testkit's TLS)", e))?;
    if output.status.success() {
        return Ok(());
    }
    Err(Error::io(
        "openssl",
        std::io::Error::other(String::from_utf8_lossy(&output.stderr).trim().to_owned()),
    ))
}
