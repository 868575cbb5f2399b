//! `[cluster]`: several daemons share the halls through etcd (hall
//! ownership on leases, a fenced replicated journal). This is only the
//! section as configured and its checks; `crate::cluster` does the work.
//!
//! Named `cluster_config` so that the daemon has one module called
//! `cluster`, the one that runs it.

use std::net::SocketAddr;

use serde::Deserialize;

use super::HallConfig;

/// `[cluster]`: hall ownership and a fenced, replicated journal on etcd.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// etcd's client URLs (`http://10.0.0.1:2379`); any member will do, the
    /// others are tried when one fails.
    pub endpoints: Vec<String>,
    /// This daemon's name in the cluster: unique, stable across restarts.
    pub node: String,
    /// Seconds this node's lease lives without a keep-alive: a dead node's
    /// halls are taken over after at most this long.
    #[serde(default = "default_lease_ttl_secs")]
    pub lease_ttl_secs: u64,
    /// The halls this node may own (default: every configured hall). It
    /// follows the others as a hot standby.
    #[serde(default)]
    pub halls: Option<Vec<String>>,
    /// The address clients are sent to when this node owns a hall they
    /// asked another node for (default: `listen`, which must then not be
    /// `0.0.0.0` or `[::]`).
    #[serde(default)]
    pub advertise: Option<String>,
    /// Every key hallq writes in etcd starts with this.
    #[serde(default = "default_cluster_prefix")]
    pub prefix: String,
}

/// `[cluster] lease_ttl_secs` when not set.
pub const DEFAULT_LEASE_TTL_SECS: u64 = 3;

fn default_lease_ttl_secs() -> u64 {
    DEFAULT_LEASE_TTL_SECS
}

fn default_cluster_prefix() -> String {
    "/hallq".to_owned()
}

impl ClusterConfig {
    /// Whether this node may own hall `id`.
    pub fn may_own(&self, id: &str) -> bool {
        self.halls
            .as_ref()
            .is_none_or(|halls| halls.iter().any(|h| h == id))
    }

    /// Checks the section against the rest of the config.
    pub(super) fn validate(
        &mut self,
        listen: Option<SocketAddr>,
        halls: &[HallConfig],
        problems: &mut Vec<String>,
    ) {
        if self.endpoints.is_empty() {
            problems.push(
                "[cluster] endpoints is empty: list etcd's client URLs, e.g. \
                 [\"http://10.0.0.1:2379\"]"
                    .to_owned(),
            );
        }
        for e in &self.endpoints {
            let rest = e
                .strip_prefix("http://")
                .or_else(|| e.strip_prefix("https://"))
                .unwrap_or(e);
            if rest
                .rsplit_once(':')
                .is_none_or(|(h, p)| h.is_empty() || p.parse::<u16>().is_err())
            {
                problems.push(format!(
                    "[cluster] endpoint {e:?} is not a URL such as \"http://10.0.0.1:2379\""
                ));
            }
        }
        if self.node.is_empty()
            || self.node.len() > 64
            || !self
                .node
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        {
            problems.push(format!(
                "[cluster] node = {:?} must be 1-64 letters, digits, '-', '_' or '.'",
                self.node
            ));
        }
        if !(2..=60).contains(&self.lease_ttl_secs) {
            problems.push(format!(
                "[cluster] lease_ttl_secs = {} must be 2-60",
                self.lease_ttl_secs
            ));
        }
        for id in self.halls.iter().flatten() {
            if !halls.iter().any(|h| &h.id == id) {
                problems.push(format!(
                    "[cluster] halls names {id:?}, which is no configured [[hall]]"
                ));
            }
        }
        if !self.prefix.starts_with('/') || self.prefix.ends_with('/') {
            problems.push(format!(
                "[cluster] prefix = {:?} must start with '/' and not end with one",
                self.prefix
            ));
        }
        match &self.advertise {
            Some(a) => {
                if a.rsplit_once(':')
                    .is_none_or(|(h, p)| h.is_empty() || p.parse::<u16>().map_or(true, |p| p == 0))
                {
                    problems.push(format!(
                        "[cluster] advertise = {a:?} is not HOST:PORT such as \"10.0.0.5:7878\""
                    ));
                }
            }
            None => match listen {
                Some(l) if l.ip().is_unspecified() => problems.push(format!(
                    "[cluster] advertise is needed: listen = \"{l}\" is no address a client \
                     can be sent to; give this node's own, e.g. advertise = \"10.0.0.5:{}\"",
                    l.port()
                )),
                Some(l) => self.advertise = Some(l.to_string()),
                None => {}
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::super::ConfigError;
    use super::*;

    #[test]
    fn cluster_section_is_read_with_its_defaults() {
        let text = format!(
            "{}\n[cluster]\nendpoints = [\"http://127.0.0.1:2379\"]\nnode = \"node-a\"\n",
            doc("", KIOSK, HALL)
        );
        let cluster = parse(&text).unwrap().cluster.unwrap();
        assert_eq!(cluster.lease_ttl_secs, DEFAULT_LEASE_TTL_SECS);
        assert_eq!(cluster.prefix, "/hallq");
        // Clients are sent to the listen address unless told otherwise.
        assert_eq!(cluster.advertise.as_deref(), Some("127.0.0.1:7878"));
        assert!(cluster.may_own("main"));
        // Without the section: one daemon, no etcd.
        assert!(parse(&doc("", KIOSK, HALL)).unwrap().cluster.is_none());
    }

    #[test]
    fn a_bad_cluster_section_names_every_problem() {
        let text = format!(
            "listen = \"0.0.0.0:7878\"\nstate_dir = \"/tmp/x\"\n{KIOSK}\n{HALL}\n[cluster]\n\
             endpoints = []\nnode = \"no spaces\"\nlease_ttl_secs = 1\nhalls = [\"north\"]\n\
             prefix = \"hallq/\"\n"
        );
        let Err(ConfigError::Invalid { problems, .. }) = parse(&text) else {
            panic!("accepted: {text}");
        };
        let all = problems.join("\n");
        for expected in [
            "endpoints is empty",
            "node = \"no spaces\"",
            "lease_ttl_secs = 1",
            "\"north\", which is no configured [[hall]]",
            "prefix = \"hallq/\"",
            "advertise is needed",
        ] {
            assert!(all.contains(expected), "{expected:?} not in:\n{all}");
        }
        // A misspelt key is an error too, not a setting left at its default.
        let typo = format!(
            "{}\n[cluster]\nendpoints = [\"http://e:2379\"]\nnode = \"a\"\nlease_ttl = 3\n",
            doc("", KIOSK, HALL)
        );
        // (Reported with every other problem: issue 19.)
        assert!(matches!(
            parse(&typo),
            Err(ConfigError::Invalid { problems, .. })
                if problems.iter().any(|p| p.contains("unknown field `lease_ttl`"))
        ));
    }
}
