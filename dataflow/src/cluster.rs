//! The cluster: which timely processes exist, which one this is, and a local launcher.
//!
//! `workers.toml` lists the processes in order (one `address` each, `host:port` where the
//! process listens for its peers) and the number of worker threads every process runs
//! (timely needs the same number everywhere). Process `I` is entry `I`; worker `w` of process
//! `I` is global worker `I × workers_per_process + w`. Without a file the cluster is one
//! process with [`DEFAULT_WORKERS`] worker threads.
//!
//! ```toml
//! workers_per_process = 2
//!
//! [[process]]
//! address = "127.0.0.1:2101"
//!
//! [[process]]
//! address = "127.0.0.1:2102"
//! ```

use std::collections::HashSet;
use std::path::Path;

use serde::Deserialize;

/// Worker threads of the one-process default cluster.
pub const DEFAULT_WORKERS: usize = 1;

/// The process list of a timely cluster, as read from `workers.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// Worker threads in every process, ≥ 1.
    pub workers_per_process: usize,
    /// The processes, in order; at least one.
    #[serde(rename = "process")]
    pub processes: Vec<ProcessEntry>,
}

/// One timely process.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcessEntry {
    /// `host:port` this process listens on for the other processes of the cluster.
    pub address: String,
}

/// Why a process list cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML of the expected shape.
    #[error("{path} is not a valid process list: {source}")]
    Parse {
        /// The file.
        path: String,
        /// What the TOML parser said.
        source: Box<toml::de::Error>,
    },
    /// The contents are inconsistent.
    #[error("invalid process list: {0}")]
    Invalid(String),
}

impl ClusterConfig {
    /// One process running `workers` threads; no network.
    pub fn single_process(workers: usize) -> Self {
        ClusterConfig {
            workers_per_process: workers,
            processes: vec![ProcessEntry {
                address: "127.0.0.1:0".into(),
            }],
        }
    }

    /// Reads and validates `workers.toml`.
    ///
    /// # Errors
    /// [`ClusterError`] when the file is missing, malformed or inconsistent.
    pub fn load(path: &Path) -> Result<Self, ClusterError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ClusterError::Read {
            path: shown.clone(),
            source,
        })?;
        Self::parse(&text).map_err(|e| match e {
            ClusterError::Parse { source, .. } => ClusterError::Parse {
                path: shown,
                source,
            },
            other => other,
        })
    }

    /// Parses and validates a process list given as TOML text.
    ///
    /// # Errors
    /// [`ClusterError::Parse`] or [`ClusterError::Invalid`].
    pub fn parse(text: &str) -> Result<Self, ClusterError> {
        let config: ClusterConfig = toml::from_str(text).map_err(|e| ClusterError::Parse {
            path: "workers.toml".into(),
            source: Box::new(e),
        })?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ClusterError> {
        if self.workers_per_process == 0 {
            return Err(ClusterError::Invalid(
                "workers_per_process must be ≥ 1".into(),
            ));
        }
        if self.processes.is_empty() {
            return Err(ClusterError::Invalid(
                "at least one [[process]] is needed".into(),
            ));
        }
        let mut seen = HashSet::new();
        for (i, p) in self.processes.iter().enumerate() {
            let port_ok = p
                .address
                .rsplit_once(':')
                .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
            if !port_ok {
                return Err(ClusterError::Invalid(format!(
                    "process {i}: address {:?} is not host:port",
                    p.address
                )));
            }
            if !seen.insert(&p.address) {
                return Err(ClusterError::Invalid(format!(
                    "process {i}: address {} is listed twice",
                    p.address
                )));
            }
        }
        Ok(())
    }

    /// Number of processes.
    pub fn process_count(&self) -> usize {
        self.processes.len()
    }

    /// Worker threads in the whole cluster: processes × workers per process.
    pub fn total_workers(&self) -> usize {
        self.processes.len() * self.workers_per_process
    }

    /// The timely configuration for process `process` (0-based index into the list).
    ///
    /// # Errors
    /// [`ClusterError::Invalid`] when `process` is not in the list.
    pub fn timely_config(&self, process: usize) -> Result<timely::Config, ClusterError> {
        if process >= self.processes.len() {
            return Err(ClusterError::Invalid(format!(
                "--process {process} is not in the list of {} processes",
                self.processes.len()
            )));
        }
        let communication = if self.processes.len() == 1 {
            if self.workers_per_process == 1 {
                timely::CommunicationConfig::Thread
            } else {
                timely::CommunicationConfig::Process(self.workers_per_process)
            }
        } else {
            timely::CommunicationConfig::Cluster {
                threads: self.workers_per_process,
                process,
                addresses: self.processes.iter().map(|p| p.address.clone()).collect(),
                report: false,
                zerocopy: false,
            }
        };
        Ok(timely::Config {
            communication,
            worker: timely::WorkerConfig::default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO: &str = r#"
        workers_per_process = 2
        [[process]]
        address = "127.0.0.1:2101"
        [[process]]
        address = "127.0.0.1:2102"
    "#;

    #[test]
    fn parses_a_two_process_list() {
        let c = ClusterConfig::parse(TWO).unwrap();
        assert_eq!(c.process_count(), 2);
        assert_eq!(c.total_workers(), 4);
        match c.timely_config(1).unwrap().communication {
            timely::CommunicationConfig::Cluster {
                threads,
                process,
                addresses,
                ..
            } => {
                assert_eq!((threads, process), (2, 1));
                assert_eq!(addresses, vec!["127.0.0.1:2101", "127.0.0.1:2102"]);
            }
            other => panic!("expected a cluster config, got {other:?}"),
        }
        assert!(c.timely_config(2).is_err());
    }

    #[test]
    fn the_repository_workers_toml_is_valid() {
        let c = ClusterConfig::parse(include_str!("../../workers.toml")).unwrap();
        assert!(c.total_workers() >= 1);
    }

    #[test]
    fn one_process_needs_no_network() {
        let c = ClusterConfig::single_process(3);
        assert!(matches!(
            c.timely_config(0).unwrap().communication,
            timely::CommunicationConfig::Process(3)
        ));
        assert!(matches!(
            ClusterConfig::single_process(1)
                .timely_config(0)
                .unwrap()
                .communication,
            timely::CommunicationConfig::Thread
        ));
    }

    #[test]
    fn refuses_inconsistent_lists() {
        let bad = [
            "workers_per_process = 0\n[[process]]\naddress = \"a:1\"",
            "workers_per_process = 1\nprocess = []",
            "workers_per_process = 1\n[[process]]\naddress = \"nohost\"",
            "workers_per_process = 1\n[[process]]\naddress = \"a:1\"\n[[process]]\naddress = \"a:1\"",
            "workers_per_process = 1\nthreads = 2\n[[process]]\naddress = \"a:1\"",
        ];
        for text in bad {
            assert!(ClusterConfig::parse(text).is_err(), "accepted: {text}");
        }
    }
}
