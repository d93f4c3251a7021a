//! SIP over TLS: which CA roots the phone trusts, and errors an agent can act on.
//!
//! rsipstack 0.7.14 verifies the server's certificate with rustls against the roots in
//! `TlsConfig::ca_certs` (PEM) and the name it dialled (SNI from the domain, or the IP address),
//! and has no implicit trust anchors: without roots every server is refused. So the phone always
//! passes roots: a configured PEM file, else the operating system's store.

use crate::PhoneError;
use std::path::Path;

/// The PEM bundle to trust: `ca_file` when given, else the system's roots.
pub fn trusted_roots_pem(ca_file: Option<&Path>) -> Result<Vec<u8>, PhoneError> {
    if let Some(path) = ca_file {
        let pem = std::fs::read(path).map_err(|e| {
            PhoneError::Config(format!(
                "cannot read the TLS CA file {}: {e}",
                path.display()
            ))
        })?;
        if !String::from_utf8_lossy(&pem).contains("-----BEGIN CERTIFICATE-----") {
            return Err(PhoneError::Config(format!(
                "{} holds no PEM certificate",
                path.display()
            )));
        }
        return Ok(pem);
    }
    let loaded = rustls_native_certs::load_native_certs();
    if loaded.certs.is_empty() {
        return Err(PhoneError::Config(format!(
            "no system CA certificates for SIP over TLS ({:?}); set a CA file",
            loaded.errors
        )));
    }
    let mut pem = String::new();
    for cert in &loaded.certs {
        pem.push_str(&pem_block(cert.as_ref()));
    }
    Ok(pem.into_bytes())
}

fn pem_block(der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

/// A transport error as the agent should read it: certificate refusals say so plainly.
pub fn explain(error: &str) -> String {
    let cause = if error.contains("UnknownIssuer") {
        Some("the server's certificate is not signed by a trusted CA")
    } else if error.contains("NotValidForName") || error.contains("not valid for name") {
        Some("the server's certificate does not name the server's address")
    } else if error.contains("Expired") {
        Some("the server's certificate has expired")
    } else if error.contains("invalid peer certificate") {
        Some("the server's certificate was refused")
    } else {
        None
    };
    match cause {
        Some(c) => format!("TLS: {c} ({error})"),
        None => error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_refusals_are_explained() {
        let e = "I/O error: invalid peer certificate: UnknownIssuer";
        assert!(
            explain(e).starts_with("TLS: the server's certificate is not signed by a trusted CA")
        );
        assert!(explain(e).contains(e));
        let e = "I/O error: invalid peer certificate: NotValidForName";
        assert!(explain(e).contains("does not name"));
        let e = "invalid peer certificate: certificate not valid for name \"127.0.0.1\"";
        assert!(explain(e).contains("does not name"));
        assert_eq!(explain("Connection refused"), "Connection refused");
    }

    #[test]
    fn ca_file_must_hold_pem() {
        let dir = std::env::temp_dir().join(format!("seatline-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let bad = dir.join("bad.pem");
        std::fs::write(&bad, "not a certificate").unwrap();
        assert!(trusted_roots_pem(Some(&bad)).is_err());
        assert!(trusted_roots_pem(Some(&dir.join("missing.pem"))).is_err());
        let der = [0x30u8, 0x03, 0x02, 0x01, 0x01];
        let good = dir.join("good.pem");
        std::fs::write(&good, pem_block(&der)).unwrap();
        assert_eq!(
            trusted_roots_pem(Some(&good)).unwrap(),
            pem_block(&der).into_bytes()
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
