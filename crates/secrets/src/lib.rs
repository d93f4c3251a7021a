//! Secrets (SIP passwords, server tokens) kept in the OS keychain, never in files or logs.
//!
//! Code that needs a secret takes a `&dyn SecretStore`: the desktop and CLI pass the keychain
//! store, tests pass [`MemoryStore`] (Linux CI has no keychain daemon).

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;

#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("the OS keychain is not available: {0}")]
    Unavailable(String),
    #[error("the OS keychain refused access to {key}: {reason}")]
    Access { key: String, reason: String },
    #[error("the secret stored under {0} is not valid text")]
    BadEncoding(String),
    #[error("invalid secret name {0:?}: use letters, digits and . _ - : @ / only")]
    InvalidName(String),
}

/// A secret value. `Debug` and `Display` never show it, so it cannot leak into logs.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    /// The value itself, for the one place that must send it (digest auth, a bearer header).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// The name a secret is stored under, e.g. `sip:1001@pbx.example.com` or `server:https://…`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SecretName(String);

impl SecretName {
    pub fn new(name: &str) -> Result<Self, SecretsError> {
        let ok = !name.is_empty()
            && name.len() <= 200
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-:@/".contains(c));
        if ok {
            Ok(Self(name.to_owned()))
        } else {
            Err(SecretsError::InvalidName(name.to_owned()))
        }
    }
    /// The SIP password of an account.
    pub fn sip_password(user: &str, domain: &str) -> Result<Self, SecretsError> {
        Self::new(&format!("sip:{user}@{domain}"))
    }
    /// The bearer token for a central server.
    pub fn server_token(server_url: &str) -> Result<Self, SecretsError> {
        Self::new(&format!("server:{server_url}"))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SecretName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where secrets live.
pub trait SecretStore: Send + Sync {
    fn get(&self, name: &SecretName) -> Result<Option<Secret>, SecretsError>;
    fn set(&self, name: &SecretName, value: &Secret) -> Result<(), SecretsError>;
    /// Deletes a secret; deleting one that is not there is not an error.
    fn delete(&self, name: &SecretName) -> Result<(), SecretsError>;
}

/// The OS keychain: Keychain Services on macOS, Credential Manager on Windows, the Secret
/// Service on Linux. `service` separates installs (tests use their own identifier).
#[derive(Debug, Clone)]
pub struct KeychainStore {
    service: String,
}

impl KeychainStore {
    pub fn new(service: impl Into<String>) -> Self {
        Self {
            service: service.into(),
        }
    }

    /// Whether the OS keychain can be used at all on this machine (a Linux box without a
    /// Secret Service daemon cannot), with the reason when not.
    pub fn availability() -> Result<(), SecretsError> {
        keyring::Entry::store_status()
            .as_ref()
            .map(|_| ())
            .map_err(|e| SecretsError::Unavailable(e.to_string()))
    }

    fn entry(&self, name: &SecretName) -> Result<keyring::Entry, SecretsError> {
        keyring::Entry::new(&self.service, name.as_str()).map_err(|e| map_error(name, e))
    }
}

fn map_error(name: &SecretName, error: keyring::Error) -> SecretsError {
    match error {
        keyring::Error::NoDefaultStore => SecretsError::Unavailable(
            KeychainStore::availability()
                .err()
                .map_or_else(|| "no credential store".to_owned(), |e| e.to_string()),
        ),
        keyring::Error::BadEncoding(_) => SecretsError::BadEncoding(name.to_string()),
        other => SecretsError::Access {
            key: name.to_string(),
            reason: other.to_string(),
        },
    }
}

impl SecretStore for KeychainStore {
    fn get(&self, name: &SecretName) -> Result<Option<Secret>, SecretsError> {
        match self.entry(name)?.get_password() {
            Ok(value) => Ok(Some(Secret(value))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(map_error(name, e)),
        }
    }

    fn set(&self, name: &SecretName, value: &Secret) -> Result<(), SecretsError> {
        self.entry(name)?
            .set_password(value.expose())
            .map_err(|e| map_error(name, e))?;
        tracing::info!(secret = %name, "secret stored in the OS keychain");
        Ok(())
    }

    fn delete(&self, name: &SecretName) -> Result<(), SecretsError> {
        match self.entry(name)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(map_error(name, e)),
        }
    }
}

/// Secrets in memory only, for tests and for machines without a keychain (nothing is written
/// anywhere; everything is gone when the process ends).
#[derive(Debug, Default)]
pub struct MemoryStore {
    values: Mutex<HashMap<SecretName, Secret>>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn values(&self) -> std::sync::MutexGuard<'_, HashMap<SecretName, Secret>> {
        // A panic while holding the lock cannot leave a HashMap half-updated for our uses.
        self.values
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl SecretStore for MemoryStore {
    fn get(&self, name: &SecretName) -> Result<Option<Secret>, SecretsError> {
        Ok(self.values().get(name).cloned())
    }
    fn set(&self, name: &SecretName, value: &Secret) -> Result<(), SecretsError> {
        self.values().insert(name.clone(), value.clone());
        Ok(())
    }
    fn delete(&self, name: &SecretName) -> Result<(), SecretsError> {
        self.values().remove(name);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(store: &dyn SecretStore) {
        let name = SecretName::sip_password("1001", "pbx.example.test").unwrap();
        assert_eq!(store.get(&name).unwrap(), None);
        store.set(&name, &Secret::new("s3cr3t")).unwrap();
        assert_eq!(store.get(&name).unwrap().unwrap().expose(), "s3cr3t");
        store.set(&name, &Secret::new("changed")).unwrap();
        assert_eq!(store.get(&name).unwrap().unwrap().expose(), "changed");
        store.delete(&name).unwrap();
        assert_eq!(store.get(&name).unwrap(), None);
        store.delete(&name).unwrap();
    }

    #[test]
    fn memory_store_round_trips() {
        round_trip(&MemoryStore::new());
    }

    #[test]
    fn secrets_never_print() {
        let secret = Secret::new("hunter2");
        assert!(!format!("{secret:?}").contains("hunter2"));
        assert!(!format!("{secret}").contains("hunter2"));
        assert!(!format!("{:?}", Some(&secret)).contains("hunter2"));
    }

    #[test]
    fn names_are_checked() {
        assert!(SecretName::new("").is_err());
        assert!(SecretName::new("a b").is_err());
        assert!(SecretName::new(&"x".repeat(201)).is_err());
        assert_eq!(
            SecretName::server_token("https://srv.example.test:8443")
                .unwrap()
                .as_str(),
            "server:https://srv.example.test:8443"
        );
    }

    /// The real keychain where the machine has one; where it has none (Linux CI without a
    /// Secret Service), every call must fail with a clear `Unavailable`, never panic or pretend.
    #[test]
    fn keychain_store_works_or_says_it_is_unavailable() {
        let store = KeychainStore::new("com.seatline.test.secrets");
        match KeychainStore::availability() {
            Ok(()) => round_trip(&store),
            Err(reason) => {
                assert!(matches!(reason, SecretsError::Unavailable(_)));
                let name = SecretName::new("probe").unwrap();
                let err = store.get(&name).unwrap_err();
                assert!(matches!(err, SecretsError::Unavailable(_)), "{err}");
                let err = store.set(&name, &Secret::new("x")).unwrap_err();
                assert!(err.to_string().contains("not available"), "{err}");
            }
        }
    }
}
