//! The running daemon: its configuration and every hall, and the reload that
//! changes them without losing a queue.
//!
//! The top of the daemon's modules: it opens the [`shard`](crate::shard)s
//! and wires them to the cluster's loops, which see them only through
//! [`cluster::Halls`] (implemented here by the halls the daemon shares with
//! them, not by the daemon itself, so nothing below points back up).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use hallq_core::{Command, HallSpec};
use hallq_proto::wire::HealthReport;
use parking_lot::RwLock;

use crate::cluster::{self, Cluster, ClusterLink, SharedHall};
use crate::config::{Config, HallConfig, TokenGrant};
use crate::shard::{HallShard, OpenError};

/// Every hall the daemon serves, with the configuration it runs on.
#[derive(Debug)]
pub struct Daemon {
    /// Where the configuration came from (`None`: the bundled demo, which
    /// cannot be reloaded).
    config_path: Option<PathBuf>,
    /// The configuration and the halls (the cluster's loops share them).
    served: Arc<Served>,
    /// One reload at a time.
    reloading: tokio::sync::Mutex<()>,
    /// Cluster mode: the halls' link to etcd.
    link: Option<ClusterLink>,
    /// Cluster mode: ownership and following, once started.
    cluster: std::sync::OnceLock<Arc<Cluster>>,
    /// Bumped by a reload that changed the tokens: every connection checks
    /// its token again and closes if it no longer grants what it did.
    tokens_changed: tokio::sync::watch::Sender<u64>,
}

/// The configuration in force and every hall served under it.
#[derive(Debug)]
struct Served {
    config: RwLock<Arc<Config>>,
    halls: RwLock<HashMap<String, Arc<HallShard>>>,
}

impl cluster::Halls for Served {
    fn halls(&self) -> Vec<Arc<dyn SharedHall>> {
        self.halls
            .read()
            .values()
            .map(|shard| shard.clone() as Arc<dyn SharedHall>)
            .collect()
    }

    fn hall(&self, id: &str) -> Option<Arc<dyn SharedHall>> {
        let shard = self.halls.read().get(id)?.clone();
        Some(shard)
    }

    fn configured(&self, id: &str) -> Option<HallSpec> {
        self.config.read().hall(id).map(|hall| hall.spec.clone())
    }
}

/// Why a reload changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// There is no file to reload (the demo).
    #[error("hallqd runs the bundled demo config; there is no file to reload")]
    NoFile,
    /// The new file is not a valid config.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// A change cannot be applied while the hall is in its current state.
    #[error("hall {hall:?}: {reason}")]
    Refused {
        /// The hall.
        hall: String,
        /// Why.
        reason: String,
    },
}

impl Daemon {
    /// Opens every configured hall: replays its journal from
    /// `state_dir/halls/<id>/`, starts its writer, and brings it onto the
    /// configured items and windows (journaled, if they changed since the
    /// journal's last word on them).
    ///
    /// In cluster mode the halls start as followers (their configuration
    /// is journaled by whichever node takes them); connecting to etcd is
    /// retried until it answers. Call [`Daemon::start_cluster`] next.
    pub async fn open(
        config: Config,
        config_path: Option<PathBuf>,
    ) -> Result<Daemon, (String, OpenError)> {
        let link = match &config.cluster {
            Some(cluster) => Some(cluster::connect(cluster).await),
            None => None,
        };
        let mut halls = HashMap::new();
        for hall in &config.halls {
            let shard = open_hall(hall, &config.state_dir, link.clone()).await?;
            halls.insert(hall.id.clone(), shard);
        }
        Ok(Daemon {
            config_path,
            served: Arc::new(Served {
                config: RwLock::new(Arc::new(config)),
                halls: RwLock::new(halls),
            }),
            reloading: tokio::sync::Mutex::new(()),
            link,
            cluster: std::sync::OnceLock::new(),
            tokens_changed: tokio::sync::watch::channel(0).0,
        })
    }

    /// Cluster mode: starts taking, following and handing over halls.
    pub fn start_cluster(&self) {
        if let (Some(link), Some(config)) = (&self.link, &self.config().cluster) {
            let _ = self.cluster.set(Cluster::start(
                self.served.clone(),
                config.clone(),
                link.clone(),
            ));
        }
    }

    /// Cluster mode: the running cluster loops.
    pub fn cluster(&self) -> Option<&Arc<Cluster>> {
        self.cluster.get()
    }

    /// Cluster mode: where a client asking for hall `id` should go now.
    pub fn redirect(&self, id: &str) -> Option<String> {
        self.cluster.get()?.redirect(id)
    }

    /// The configuration in force.
    pub fn config(&self) -> Arc<Config> {
        self.served.config.read().clone()
    }

    /// The hall `id`, if served here.
    pub fn hall(&self, id: &str) -> Option<Arc<HallShard>> {
        self.served.halls.read().get(id).cloned()
    }

    /// Every hall.
    pub fn halls(&self) -> Vec<Arc<HallShard>> {
        self.served.halls.read().values().cloned().collect()
    }

    /// Changes whenever a reload changed the tokens in force (issue 19: a
    /// revoked token must not keep working on connections already open).
    pub fn tokens_changed(&self) -> tokio::sync::watch::Receiver<u64> {
        self.tokens_changed.subscribe()
    }

    /// The grant of a presented token (constant-time comparison).
    pub fn grant_for(&self, token: &[u8]) -> Option<TokenGrant> {
        self.served.config.read().grant_for(token).cloned()
    }

    /// Re-reads the config file and applies it: tokens, new halls, and each
    /// hall's items, windows, mappings and settings (journaled, so a replay
    /// sees them in order). Waiting tickets keep their places. If any hall
    /// cannot take its change, or the file is invalid, nothing changes and
    /// the old configuration stays in force. Returns what changed.
    pub async fn reload(&self) -> Result<Vec<String>, ReloadError> {
        let path = self.config_path.as_ref().ok_or(ReloadError::NoFile)?;
        let new = Config::load(path)?;
        let _one_at_a_time = self.reloading.lock().await;
        let old = self.config();
        let mut changes = Vec::new();
        for (what, changed) in [
            ("listen", old.listen != new.listen),
            ("state_dir", old.state_dir != new.state_dir),
            ("tls", old.tls != new.tls),
        ] {
            if changed {
                tracing::warn!(
                    key = what,
                    "changed in the config file: takes effect after a restart"
                );
            }
        }
        // Check every hall first, so a refusal leaves everything as it was.
        let mut reconfigure = Vec::new();
        for hall in &new.halls {
            match self.hall(&hall.id) {
                // Cluster mode: the hall's owner journals its changes.
                Some(shard) if !shard.serving() => {}
                Some(shard) => {
                    if shard.read(|h| h.spec() != &hall.spec) {
                        shard
                            .read(|h| h.check_reconfigure(&hall.spec))
                            .map_err(|e| ReloadError::Refused {
                                hall: hall.id.clone(),
                                reason: e.to_string(),
                            })?;
                        reconfigure.push((shard, hall.spec.clone()));
                    }
                }
                None => changes.push(format!("hall {:?} added", hall.id)),
            }
        }
        for id in self.served.halls.read().keys() {
            if new.hall(id).is_none() {
                return Err(ReloadError::Refused {
                    hall: id.clone(),
                    reason: "removing a hall takes a restart".into(),
                });
            }
        }
        for hall in &new.halls {
            if self.hall(&hall.id).is_none() {
                let shard = open_hall(hall, &new.state_dir, self.link.clone())
                    .await
                    .map_err(|(hall, e)| ReloadError::Refused {
                        hall,
                        reason: e.to_string(),
                    })?;
                self.served.halls.write().insert(hall.id.clone(), shard);
            }
        }
        for hall in &new.halls {
            if let Some(shard) = self.hall(&hall.id) {
                shard.set_phone_limits(hall.phone_limits, hall.sms_per_phone_per_hour);
                shard.set_counter_rules(hall.counter_rules, hall.wait_target_secs);
                if shard.set_visitor(hall.visitor.clone()) {
                    changes.push(format!("hall {:?} visitor settings", hall.id));
                }
                if shard.set_templates(hall.templates.clone()) {
                    changes.push(format!("hall {:?} message templates", hall.id));
                }
                if shard.set_alert_rules(
                    hall.alerts,
                    hall.alert_recipients.clone(),
                    hall.work_order_rules.clone(),
                ) {
                    changes.push(format!("hall {:?} alert and work order settings", hall.id));
                }
            }
        }
        let tokens_changed = old.tokens.len() != new.tokens.len()
            || old
                .tokens
                .iter()
                .zip(&new.tokens)
                .any(|(a, b)| !a.same_as(b));
        // The new tokens come into force before any hall's new mapping is
        // visible: a client that sees the reconfigured hall must never still
        // be let in with a token the same reload revoked.
        *self.served.config.write() = Arc::new(new);
        if tokens_changed {
            // After the new config is in force, so a connection that checks
            // its token again sees it.
            self.tokens_changed.send_modify(|n| *n += 1);
        }
        for (shard, spec) in reconfigure {
            if let Err(e) = shard
                .execute(Command::Reconfigure { spec }, |_, _| ())
                .await
            {
                // The check above passed, so only the journal can fail here:
                // put the old config (and its tokens) back, as a refusal does.
                *self.served.config.write() = old;
                if tokens_changed {
                    self.tokens_changed.send_modify(|n| *n += 1);
                }
                return Err(ReloadError::Refused {
                    hall: shard.id().to_owned(),
                    reason: e.to_string(),
                });
            }
            changes.push(format!("hall {:?} reconfigured", shard.id()));
        }
        if tokens_changed {
            changes.push(format!("tokens: {} in force", self.config().tokens.len()));
        }
        tracing::info!(?changes, "config reloaded");
        Ok(changes)
    }

    /// The health of every hall: `hallq admin health` and `/healthz`.
    pub fn health(&self) -> HealthReport {
        let halls: Vec<_> = self
            .halls()
            .iter()
            .map(|h| h.health(self.cluster().and_then(|c| c.owner_of(h.id()))))
            .collect();
        HealthReport {
            healthy: halls.iter().all(|h| h.journal_writable),
            halls,
        }
    }

    /// Flushes and closes every hall's journal.
    pub fn close(&self) {
        for shard in self.halls() {
            shard.close();
        }
    }
}

async fn open_hall(
    hall: &HallConfig,
    state_dir: &Path,
    link: Option<ClusterLink>,
) -> Result<Arc<HallShard>, (String, OpenError)> {
    let failed = |e: OpenError| (hall.id.clone(), e);
    let dir = hall_dir(state_dir, &hall.id);
    let clustered = link.is_some();
    let shard = HallShard::open(hall, &dir, link).map_err(failed)?;
    if !clustered {
        shard.adopt(hall.spec.clone()).await.map_err(failed)?;
    }
    Ok(Arc::new(shard))
}

/// Where hall `id` keeps its journal.
pub fn hall_dir(state_dir: &Path, id: &str) -> PathBuf {
    state_dir.join("halls").join(id)
}
