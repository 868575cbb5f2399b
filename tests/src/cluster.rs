//! Cluster-mode support: a real etcd cluster (Debian's `etcd`) on
//! 127.0.0.1 and `hallqd` nodes joined to it.
//!
//! Every member and node is a child process stopped when its value is
//! dropped; ports are free ones picked on loopback, data dirs live in a
//! temporary directory.

use std::fmt::Write as _;
use std::fs;
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use hallq_client::follow::{FollowingClient, Hallqd};
use hallq_proto::wire::{HallHealth, Request, Response};
use rustls_pki_types::CertificateDer;
use tempfile::TempDir;

use crate::{config_toml, hallqd_path, Daemon, ADMIN, PROCESS_TIMEOUT};

/// The lease time to live the test nodes use (the figure).
pub const LEASE_TTL_SECS: u64 = 3;

/// A free TCP port on 127.0.0.1 (closed again; etcd binds it next).
fn free_tcp_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A free UDP port on 127.0.0.1 (for a node's QUIC endpoint).
fn free_udp_port() -> anyhow::Result<u16> {
    Ok(UdpSocket::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// The `etcd` binary: `ETCD` or the one on `PATH`.
fn etcd_binary() -> PathBuf {
    std::env::var_os("ETCD").map_or_else(|| PathBuf::from("etcd"), PathBuf::from)
}

/// One etcd member.
#[derive(Debug)]
struct Member {
    name: String,
    client_port: u16,
    child: Option<Child>,
}

/// An etcd cluster of a few members on 127.0.0.1.
#[derive(Debug)]
pub struct Etcd {
    members: Vec<Member>,
    dir: TempDir,
}

impl Etcd {
    /// Starts `n` members (with `extra` flags each) and waits until the
    /// cluster has a leader.
    pub fn start(n: usize, extra: &[&str]) -> anyhow::Result<Etcd> {
        let dir = tempfile::tempdir()?;
        let mut ports = Vec::new();
        for i in 0..n {
            ports.push((format!("e{i}"), free_tcp_port()?, free_tcp_port()?));
        }
        let initial: Vec<String> = ports
            .iter()
            .map(|(name, _, peer)| format!("{name}=http://127.0.0.1:{peer}"))
            .collect();
        let mut members = Vec::new();
        for (name, client, peer) in &ports {
            let log = fs::File::create(dir.path().join(format!("{name}.log")))?;
            let child = Command::new(etcd_binary())
                .args(["--name", name])
                .arg("--data-dir")
                .arg(dir.path().join(name))
                .args([
                    "--listen-client-urls",
                    &format!("http://127.0.0.1:{client}"),
                ])
                .args([
                    "--advertise-client-urls",
                    &format!("http://127.0.0.1:{client}"),
                ])
                .args(["--listen-peer-urls", &format!("http://127.0.0.1:{peer}")])
                .args([
                    "--initial-advertise-peer-urls",
                    &format!("http://127.0.0.1:{peer}"),
                ])
                .args(["--initial-cluster", &initial.join(",")])
                .args(["--initial-cluster-state", "new"])
                .args(["--initial-cluster-token", "hallq-test"])
                .args(["--logger", "zap", "--log-level", "warn"])
                .args(extra)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .context(
                    "cannot start etcd: install it (Debian: apt-get install etcd-server) \
                     or point ETCD at the binary",
                )?;
            members.push(Member {
                name: name.clone(),
                client_port: *client,
                child: Some(child),
            });
        }
        let etcd = Etcd { members, dir };
        let deadline = Instant::now() + PROCESS_TIMEOUT;
        while etcd.leader().is_none() {
            if Instant::now() > deadline {
                bail!(
                    "etcd has no leader after {PROCESS_TIMEOUT:?}:\n{}",
                    etcd.logs()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(etcd)
    }

    /// Every member's client URL.
    pub fn endpoints(&self) -> Vec<String> {
        self.members
            .iter()
            .map(|m| format!("http://127.0.0.1:{}", m.client_port))
            .collect()
    }

    /// `etcdctl` against the members still running.
    pub fn ctl(&self, args: &[&str]) -> anyhow::Result<String> {
        let endpoints: Vec<String> = self
            .members
            .iter()
            .filter(|m| m.child.is_some())
            .map(|m| format!("127.0.0.1:{}", m.client_port))
            .collect();
        let out = Command::new("etcdctl")
            .env("ETCDCTL_API", "3")
            .arg(format!("--endpoints={}", endpoints.join(",")))
            .args(["--command-timeout", "5s"])
            .args(args)
            .output()
            .context("cannot run etcdctl (Debian: apt-get install etcd-client)")?;
        if !out.status.success() {
            bail!(
                "etcdctl {args:?} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// The index of the member that leads now, if one does.
    pub fn leader(&self) -> Option<usize> {
        let status = self.ctl(&["endpoint", "status", "-w", "json"]).ok()?;
        let status: serde_json::Value = serde_json::from_str(&status).ok()?;
        for entry in status.as_array()? {
            let endpoint = entry["Endpoint"].as_str()?;
            let member = entry["Status"]["header"]["member_id"].as_u64()?;
            let leader = entry["Status"]["leader"].as_u64()?;
            if member == leader && leader != 0 {
                return self
                    .members
                    .iter()
                    .position(|m| endpoint.ends_with(&format!(":{}", m.client_port)));
            }
        }
        None
    }

    /// SIGKILLs member `i`.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.members[i].child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The members' logs (for failure messages).
    pub fn logs(&self) -> String {
        let mut all = String::new();
        for m in &self.members {
            let log = fs::read_to_string(self.dir.path().join(format!("{}.log", m.name)))
                .unwrap_or_default();
            let _ = writeln!(all, "--- etcd {} ---\n{log}", m.name);
        }
        all
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        for i in 0..self.members.len() {
            self.kill(i);
        }
    }
}

/// The test hall's config for node `node` of a cluster on `endpoints`,
/// listening on `port`, presenting the shared certificate in `tls`.
pub fn node_config_toml(
    state_dir: &Path,
    tls: &Path,
    node: &str,
    port: u16,
    endpoints: &[String],
) -> String {
    let mut toml = config_toml(state_dir).replace(
        "listen = \"127.0.0.1:0\"",
        &format!("listen = \"127.0.0.1:{port}\""),
    );
    let _ = write!(
        toml,
        "\n[tls]\ncert = {cert:?}\nkey = {key:?}\n\n[cluster]\nendpoints = {endpoints:?}\n\
         node = {node:?}\nlease_ttl_secs = {LEASE_TTL_SECS}\n",
        cert = tls.join("cert.pem").display().to_string(),
        key = tls.join("key.pem").display().to_string(),
    );
    toml
}

/// Several `hallqd` nodes sharing the test hall through one etcd cluster.
#[derive(Debug)]
pub struct Nodes {
    dir: TempDir,
    endpoints: Vec<String>,
    /// Node name, its config file and, when running, the process.
    nodes: Vec<(String, PathBuf, Option<Daemon>)>,
    cert: CertificateDer<'static>,
}

impl Nodes {
    /// Writes configs for nodes `names` (one shared certificate) and
    /// starts them all.
    pub fn start(etcd: &Etcd, names: &[&str]) -> anyhow::Result<Nodes> {
        let dir = tempfile::tempdir()?;
        let tls = dir.path().join("tls");
        let out = Command::new(hallqd_path())
            .args(["gen-cert", "--name", "127.0.0.1", "--out"])
            .arg(&tls)
            .output()?;
        if !out.status.success() {
            bail!(
                "hallqd gen-cert failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let cert = hallq_client::tls::load_cert_pem(&tls.join("cert.pem"))?;
        let mut nodes = Vec::new();
        for name in names {
            let config = dir.path().join(format!("{name}.toml"));
            let state = dir.path().join(format!("state-{name}"));
            fs::write(
                &config,
                node_config_toml(&state, &tls, name, free_udp_port()?, &etcd.endpoints()),
            )?;
            nodes.push((name.to_string(), config, None));
        }
        let mut this = Nodes {
            dir,
            endpoints: etcd.endpoints(),
            nodes,
            cert,
        };
        for i in 0..names.len() {
            this.restart(i)?;
        }
        Ok(this)
    }

    /// Starts node `i` (again), on its own state.
    pub fn restart(&mut self, i: usize) -> anyhow::Result<()> {
        let config = self.nodes[i].1.clone();
        let daemon = Daemon::start(&[std::ffi::OsStr::new("--config"), config.as_os_str()])?;
        self.nodes[i].2 = Some(daemon);
        Ok(())
    }

    /// Node `i`'s process, if running.
    pub fn node(&self, i: usize) -> Option<&Daemon> {
        self.nodes[i].2.as_ref()
    }

    /// Node `i`'s name.
    pub fn name(&self, i: usize) -> &str {
        &self.nodes[i].0
    }

    /// The index of node `name`.
    pub fn index(&self, name: &str) -> Option<usize> {
        self.nodes.iter().position(|(n, _, _)| n == name)
    }

    /// SIGKILLs node `i`.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut daemon) = self.nodes[i].2.take() {
            daemon.kill();
        }
    }

    /// Every running node's address.
    pub fn servers(&self) -> Vec<String> {
        self.nodes
            .iter()
            .filter_map(|(_, _, d)| d.as_ref().map(|d| d.addr().to_string()))
            .collect()
    }

    /// Every node's address, running or not (what a kiosk is configured
    /// with).
    pub fn all_servers(&self) -> Vec<String> {
        self.nodes
            .iter()
            .filter_map(|(_, config, _)| {
                let text = fs::read_to_string(config).ok()?;
                let line = text.lines().find(|l| l.starts_with("listen = "))?;
                Some(
                    line.trim_start_matches("listen = ")
                        .trim_matches('"')
                        .to_owned(),
                )
            })
            .collect()
    }

    /// A client that follows the hall across the nodes, as `token`.
    pub fn client(&self, token: &str) -> FollowingClient {
        FollowingClient::new(Hallqd {
            servers: self.all_servers(),
            cert: self.cert.clone(),
            token: token.to_owned(),
            hall: None,
        })
    }

    /// Hall `main`'s health as node `i` reports it.
    pub async fn health(&self, i: usize) -> anyhow::Result<HallHealth> {
        let daemon = self.node(i).context("node not running")?;
        let admin = daemon.client(ADMIN).await?;
        let answer = admin.request(&Request::Health).await?;
        admin.close().await;
        match answer {
            Response::Health(report) => report
                .halls
                .into_iter()
                .find(|h| h.hall == "main")
                .context("no hall main in the health report"),
            other => bail!("unexpected answer {other:?}"),
        }
    }

    /// The running node that serves hall `main`, once exactly one says so
    /// (bounded by `timeout`).
    pub async fn owner(&self, timeout: Duration) -> anyhow::Result<usize> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let mut owners = Vec::new();
            for i in 0..self.nodes.len() {
                if self.node(i).is_some() {
                    if let Ok(h) = self.health(i).await {
                        if h.role == "owner" {
                            owners.push(i);
                        }
                    }
                }
            }
            if let [one] = owners[..] {
                return Ok(one);
            }
            if tokio::time::Instant::now() > deadline {
                bail!("no single owner of hall main after {timeout:?} (owners: {owners:?})");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Where the nodes' files are.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The etcd endpoints the nodes use.
    pub fn endpoints(&self) -> &[String] {
        &self.endpoints
    }

    /// Node `i`'s stderr (for failure messages).
    pub fn stderr(&self, i: usize) -> String {
        self.node(i).map(Daemon::stderr).unwrap_or_default()
    }

    /// The address node `i` listens on.
    pub fn addr(&self, i: usize) -> Option<SocketAddr> {
        self.node(i).map(Daemon::addr)
    }
}
