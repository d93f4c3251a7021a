//! A private PostgreSQL cluster for the tests that run the server on PostgreSQL: `initdb` in a
//! temp dir, `pg_ctl start` on a free loopback port (as the `postgres` user when running as
//! root; PostgreSQL refuses root), stopped on drop. The binaries come from `$SEATLINE_PG_BIN`
//! or the newest `/usr/lib/postgresql/*/bin` (the test command installs the `postgresql`
//! package); crates/server/tests/common does the same for the server's own tests.

use std::path::PathBuf;
use std::process::Command;

pub struct PgCluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    run_as: Option<String>,
}

fn find_bin() -> PathBuf {
    if let Some(dir) = std::env::var_os("SEATLINE_PG_BIN") {
        return PathBuf::from(dir);
    }
    let mut dirs: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| {
                    let version = e.file_name().to_str()?.parse().ok()?;
                    Some((version, e.path().join("bin")))
                })
                .collect()
        })
        .unwrap_or_default();
    dirs.sort();
    dirs.pop().map(|(_, dir)| dir).unwrap_or_else(|| {
        panic!(
            "PostgreSQL server binaries not found in /usr/lib/postgresql: install the Debian \
             package `postgresql` (apt-get install -y postgresql) or set SEATLINE_PG_BIN"
        )
    })
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

impl PgCluster {
    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        match &self.run_as {
            Some(user) => {
                let mut cmd = Command::new("runuser");
                cmd.args(["-u", user, "--"]).arg(path);
                cmd
            }
            None => Command::new(path),
        }
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn start() -> PgCluster {
        let dir = tempfile::Builder::new()
            .prefix("seatline-pg-")
            .tempdir()
            .unwrap();
        let run_as = is_root().then(|| "postgres".to_owned());
        if let Some(user) = &run_as {
            let ok = Command::new("chown")
                .args(["-R", &format!("{user}:")])
                .arg(dir.path())
                .status()
                .unwrap()
                .success();
            assert!(ok, "chown of the PostgreSQL temp dir to {user} failed");
        }
        let mut cluster = PgCluster {
            dir,
            bin: find_bin(),
            port: 0,
            run_as,
        };
        let out = cluster
            .command("initdb")
            .arg("-D")
            .arg(cluster.data_dir())
            .args(["-U", "seatline", "--auth=trust", "-E", "UTF8"])
            .args(["--no-sync", "--no-locale"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "initdb failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let mut last_error = String::new();
        // A free port can be taken between the probe and the start: try a few.
        for _ in 0..5 {
            let port = super::free_port();
            let options = format!(
                "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off \
                 -c synchronous_commit=off -c full_page_writes=off",
                cluster.dir.path().display()
            );
            let out = cluster
                .command("pg_ctl")
                .arg("-D")
                .arg(cluster.data_dir())
                .arg("-l")
                .arg(cluster.dir.path().join("server.log"))
                .args(["-w", "-t", "60", "-o", &options, "start"])
                .output()
                .unwrap();
            if out.status.success() {
                cluster.port = port;
                return cluster;
            }
            last_error = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        panic!("pg_ctl start failed: {last_error}");
    }

    /// The cluster's own `postgres` database (each test starts its own cluster).
    pub fn url(&self) -> String {
        format!("postgres://seatline@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.data_dir())
            .args(["-m", "immediate", "-w", "stop"])
            .output();
    }
}
