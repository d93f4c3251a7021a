//! Kamailio as a loopback registrar + proxy with digest auth (tests/peers/kamailio/).

use crate::digest::Client;
use crate::error::{io, Error, Result};
use crate::ports::free_port_range;
use crate::process::{log_dir, require_binary, PeerProcess};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The digest algorithm Kamailio offers in its 401/407 challenges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigestAlgorithm {
    Md5,
    Sha256,
}

impl DigestAlgorithm {
    /// The value of the `algorithm=` challenge parameter.
    pub fn as_sip(self) -> &'static str {
        match self {
            Self::Md5 => "MD5",
            Self::Sha256 => "SHA-256",
        }
    }
}

/// What to start. [`KamailioConfig::new`] picks free ports and the users 1001..=1005 with
/// passwords `pw-1001`...
#[derive(Debug, Clone)]
pub struct KamailioConfig {
    pub algorithm: DigestAlgorithm,
    /// (user, password); user names are digits or letters only.
    pub users: Vec<(String, String)>,
    pub udp_port: u16,
    pub tcp_port: u16,
    /// Digest realm; also accepted as this proxy's domain.
    pub realm: String,
    /// Challenge out-of-dialog requests other than REGISTER with 407 (default true).
    pub invite_auth: bool,
    /// SIP over TLS too (Kamailio's tls module, Debian package kamailio-tls-modules).
    pub tls: Option<KamailioTls>,
}

/// A TLS listener: its port and the server certificate chain and key (PEM).
#[derive(Debug, Clone)]
pub struct KamailioTls {
    pub port: u16,
    pub cert_pem: String,
    pub key_pem: String,
}

impl KamailioConfig {
    pub fn new(algorithm: DigestAlgorithm) -> Self {
        // Port selection cannot fail in practice; fall back to fixed ports if it does, and
        // the start will report the bind error.
        let base = free_port_range(2).unwrap_or(25060);
        Self {
            algorithm,
            users: (1001..=1005)
                .map(|u| (u.to_string(), format!("pw-{u}")))
                .collect(),
            udp_port: base,
            tcp_port: base.saturating_add(1),
            realm: "seatline.test".into(),
            invite_auth: true,
            tls: None,
        }
    }

    /// The same configuration on newly picked free ports.
    fn with_fresh_ports(mut self) -> Self {
        let base = free_port_range(2).unwrap_or(25060);
        self.udp_port = base;
        self.tcp_port = base.saturating_add(1);
        if let Some(tls) = &mut self.tls {
            tls.port = free_port_range(1).unwrap_or(25061);
        }
        self
    }

    /// Listens for SIP over TLS on a free port with this certificate chain and key (PEM).
    pub fn tls(mut self, cert_pem: &str, key_pem: &str) -> Self {
        self.tls = Some(KamailioTls {
            port: free_port_range(1).unwrap_or(25061),
            cert_pem: cert_pem.into(),
            key_pem: key_pem.into(),
        });
        self
    }

    pub fn users(mut self, users: &[(&str, &str)]) -> Self {
        self.users = users
            .iter()
            .map(|(u, p)| (u.to_string(), p.to_string()))
            .collect();
        self
    }

    pub fn invite_auth(mut self, on: bool) -> Self {
        self.invite_auth = on;
        self
    }

    /// The config file text for `runtime_dir`.
    pub fn render(&self, runtime_dir: &Path) -> Result<String> {
        let template_path = crate::peers_dir()
            .join("kamailio")
            .join("kamailio.cfg.tmpl");
        let template = std::fs::read_to_string(&template_path)
            .map_err(io(format!("read {}", template_path.display())))?;
        let mut passwords = String::new();
        for (user, password) in &self.users {
            let ok = |s: &str, extra: &[char]| {
                !s.is_empty()
                    && s.chars()
                        .all(|c| c.is_ascii_alphanumeric() || extra.contains(&c))
            };
            if !ok(user, &['-', '_', '.']) || !ok(password, &['-', '_', '.', '!', '+']) {
                return Err(Error::Config(format!(
                    "user {user:?}: names and passwords must be non-empty [A-Za-z0-9-_.]"
                )));
            }
            let _ = writeln!(
                passwords,
                "\tif ($au == \"{user}\") {{ $var(pw) = \"{password}\"; }}"
            );
        }
        if self.realm.is_empty() || self.realm.contains(['"', '\n', ' ']) {
            return Err(Error::Config(format!("bad realm {:?}", self.realm)));
        }
        let mut defines = String::new();
        if self.invite_auth {
            defines.push_str("#!define WITH_INVITE_AUTH\n");
        }
        if self.tls.is_some() {
            defines.push_str("#!define WITH_TLS\n");
        }
        let tls_port = self.tls.as_ref().map_or(0, |t| t.port);
        Ok(template
            .replace("@UDP_PORT@", &self.udp_port.to_string())
            .replace("@TCP_PORT@", &self.tcp_port.to_string())
            .replace("@ALGORITHM@", self.algorithm.as_sip())
            .replace("@REALM@", &self.realm)
            .replace("@RUNTIME_DIR@", &runtime_dir.display().to_string())
            .replace("@USER_PASSWORDS@", passwords.trim_end())
            .replace("@TLS_PORT@", &tls_port.to_string())
            .replace("@DEFINES@", &defines))
    }
}

/// A running Kamailio; killed on drop.
#[derive(Debug)]
pub struct Kamailio {
    config: KamailioConfig,
    process: Option<PeerProcess>,
    dir: tempfile::TempDir,
    config_path: PathBuf,
    logs: PathBuf,
    starts: u32,
}

impl Kamailio {
    /// Renders the config, checks it with `kamailio -c`, starts `kamailio -DD -E` and waits
    /// until it answers OPTIONS on UDP and accepts TCP connections (up to 10 s).
    pub fn start(mut config: KamailioConfig) -> Result<Self> {
        // The free ports were picked before Kamailio binds them; another process of the test
        // run (a phone's ephemeral socket) can take one in between. Then Kamailio exits at
        // once with "Address already in use": pick new ports and start again.
        let mut tries = 0;
        loop {
            match Self::start_on(config.clone()) {
                Err(Error::Exited { log, .. })
                    if tries < 3
                        && std::fs::read_to_string(&log)
                            .is_ok_and(|l| l.contains("Address already in use")) =>
                {
                    tries += 1;
                    config = config.with_fresh_ports();
                }
                result => return result,
            }
        }
    }

    fn start_on(config: KamailioConfig) -> Result<Self> {
        require_binary("kamailio", "kamailio")?;
        let dir = tempfile::Builder::new()
            .prefix("seatline-kamailio-")
            .tempdir()
            .map_err(io("create Kamailio temp dir"))?;
        let config_path = dir.path().join("kamailio.cfg");
        let text = config.render(dir.path())?;
        if let Some(tls) = &config.tls {
            // The tls module's own config (tls.cfg in the runtime dir, named by the template).
            let cert = dir.path().join("tls-cert.pem");
            let key = dir.path().join("tls-key.pem");
            std::fs::write(&cert, &tls.cert_pem).map_err(io("write the TLS certificate"))?;
            std::fs::write(&key, &tls.key_pem).map_err(io("write the TLS key"))?;
            let tls_cfg = format!(
                "[server:default]\nmethod = TLSv1.2+\nverify_certificate = no\n\
                 require_certificate = no\nprivate_key = {}\ncertificate = {}\n",
                key.display(),
                cert.display()
            );
            std::fs::write(dir.path().join("tls.cfg"), tls_cfg)
                .map_err(io("write Kamailio's tls.cfg"))?;
        }
        std::fs::write(&config_path, text)
            .map_err(io(format!("write {}", config_path.display())))?;
        let logs = log_dir()?;
        std::fs::copy(&config_path, logs.join("kamailio.cfg"))
            .map_err(io("copy the Kamailio config to the log dir"))?;
        Self::check(&config_path)?;
        let mut k = Self {
            config,
            process: None,
            dir,
            config_path,
            logs,
            starts: 0,
        };
        k.spawn()?;
        Ok(k)
    }

    /// `kamailio -c -f FILE`: Ok with the checker's output if the config is valid.
    pub fn check(config_path: &Path) -> Result<String> {
        require_binary("kamailio", "kamailio")?;
        let out = Command::new("kamailio")
            .args(["-c", "-f"])
            .arg(config_path)
            .output()
            .map_err(io("run kamailio -c"))?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if out.status.success() && text.contains("config file ok") {
            Ok(text)
        } else {
            Err(Error::Config(format!(
                "kamailio -c -f {} failed:\n{text}",
                config_path.display()
            )))
        }
    }

    fn spawn(&mut self) -> Result<()> {
        self.starts += 1;
        let name = if self.starts == 1 {
            "kamailio".to_string()
        } else {
            format!("kamailio-{}", self.starts)
        };
        let mut cmd = Command::new("kamailio");
        cmd.args(["-DD", "-E", "-m", "32", "-M", "8", "-f"])
            .arg(&self.config_path)
            .current_dir(self.dir.path());
        let mut process = PeerProcess::spawn(&name, cmd, &self.logs)?;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            process.ensure_running()?;
            let udp_ok = Client::new(self.addr())
                .and_then(|mut c| c.options(Duration::from_millis(300)))
                .is_ok_and(|status| status == 200);
            let tcp_ok =
                std::net::TcpStream::connect_timeout(&self.tcp_addr(), Duration::from_millis(300))
                    .is_ok()
                    && self.tls_addr().is_none_or(|a| {
                        std::net::TcpStream::connect_timeout(&a, Duration::from_millis(300)).is_ok()
                    });
            if udp_ok && tcp_ok {
                break;
            }
            if Instant::now() > deadline {
                let logs = format!("\n{}", process.log_tail(2000));
                return Err(Error::Timeout {
                    what: format!("Kamailio ready on {}", self.addr()),
                    after: Duration::from_secs(10),
                    logs,
                });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.process = Some(process);
        Ok(())
    }

    /// Stops Kamailio (SIGTERM to its process group) and starts it again on the same ports
    /// and config. The location table is in memory: registrations are lost.
    pub fn restart(&mut self) -> Result<()> {
        if let Some(mut p) = self.process.take() {
            p.kill(Duration::from_secs(3));
        }
        self.spawn()
    }

    /// Stops Kamailio now (also done on drop).
    pub fn stop(&mut self) {
        if let Some(mut p) = self.process.take() {
            p.kill(Duration::from_secs(3));
        }
    }

    /// The UDP (and default) address: 127.0.0.1:udp_port.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.config.udp_port))
    }

    pub fn tcp_addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.config.tcp_port))
    }

    /// The TLS address (127.0.0.1:tls port) when TLS is on.
    pub fn tls_addr(&self) -> Option<SocketAddr> {
        self.config
            .tls
            .as_ref()
            .map(|t| SocketAddr::from(([127, 0, 0, 1], t.port)))
    }

    pub fn realm(&self) -> &str {
        &self.config.realm
    }

    pub fn algorithm(&self) -> DigestAlgorithm {
        self.config.algorithm
    }

    pub fn config(&self) -> &KamailioConfig {
        &self.config
    }

    /// The password of a configured user.
    pub fn password(&self, user: &str) -> Option<&str> {
        self.config
            .users
            .iter()
            .find(|(u, _)| u == user)
            .map(|(_, p)| p.as_str())
    }

    /// The generated config file.
    pub fn config_path(&self) -> &Path {
        &self.config_path
    }

    /// The current process's stderr log (Kamailio logs there with -E).
    pub fn log_path(&self) -> Option<PathBuf> {
        self.process.as_ref().map(|p| p.stderr_log().to_path_buf())
    }

    /// Registers `contact` as `user`'s location with this proxy's algorithm (the reference
    /// digest client, so SHA-256 works too). For peers that cannot answer the challenge
    /// themselves: sipp UAS processes, or baresip 1.0 (MD5 only) behind a SHA-256 proxy.
    pub fn register_contact(&self, user: &str, contact: SocketAddr, expires: u32) -> Result<()> {
        let password = self
            .password(user)
            .ok_or_else(|| Error::Config(format!("no such user {user}")))?;
        let mut client = Client::new(self.addr())?;
        let resp = client.register(
            self.realm(),
            user,
            password,
            Some(contact),
            expires,
            Duration::from_secs(5),
        )?;
        if resp.status == 200 {
            Ok(())
        } else {
            Err(Error::Sip(format!(
                "REGISTER {user} -> {contact}: {} {}",
                resp.status, resp.reason
            )))
        }
    }

    /// An error if Kamailio has died.
    pub fn ensure_running(&mut self) -> Result<()> {
        match self.process.as_mut() {
            Some(p) => p.ensure_running(),
            None => Err(Error::Config("Kamailio is stopped".into())),
        }
    }
}
