//! The Docker Compose stack (`compose/`) against the code, without a Docker engine: Compose v2
//! accepts the file (`docker compose config`), the Dockerfile builds and ships exactly the
//! workspace's binaries, every variable a service of ours sets is one its program reads
//! (from the program's own `--help`), the dataflow services are the process list
//! `compose/workers.toml`, the init steps and the programs agree on HDFS paths, topic,
//! database and endpoints, the dashboard reads the feed the dataflow publishes and scrapes every
//! dataflow process, and every start-order condition can be met.
//!
//! Needs Compose v2 (a missing one fails with what to install) but not the local stack.

#![allow(clippy::unwrap_used)] // a test fails by panicking

#[path = "compose/support.rs"]
mod support;

use std::collections::{BTreeMap, BTreeSet};

use dataflow::cluster::ClusterConfig;
use support::*;

/// Repositories of the official images the infrastructure services may use.
const OFFICIAL_IMAGES: [&str; 5] = [
    "apache/kafka",
    "apache/hadoop",
    "apache/hive",
    "postgres",
    "maven",
];

/// Variables our services may set besides the `WA_*` flags' twins: read by libraries.
const LIBRARY_VARIABLES: [(&str, &str); 2] = [
    ("RUST_LOG", "the tracing-subscriber filter of every binary"),
    (
        "HADOOP_CONF_DIR",
        "hdfs-native reads core-site.xml and hdfs-site.xml there",
    ),
];

/// Long-running programs: they must start after every init step.
const PROGRAMS_AFTER_INIT: [&str; 2] = ["wa-archiver", "wa-dataflow"];

#[test]
fn compose_v2_accepts_the_file() {
    let out = compose(&["config", "--quiet"]);
    assert!(
        out.status.success(),
        "docker compose config failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let services = services();
    for name in [
        "kafka",
        "kafka-init",
        "namenode",
        "datanode1",
        "datanode2",
        "hdfs-init",
        "metastore-db",
        "hive-metastore",
        "hiveserver2",
        "hive-init",
        "simulator",
        "collector",
        "archiver",
    ] {
        assert!(services.contains_key(name), "service {name} is missing");
    }
    for service in services.values().filter(|s| !s.is_ours()) {
        let image = service.image();
        let (repository, tag) = image
            .rsplit_once(':')
            .unwrap_or_else(|| panic!("{}: image {image:?} has no pinned tag", service.name));
        assert!(
            OFFICIAL_IMAGES.contains(&repository),
            "{}: {image} is not one of the official images {OFFICIAL_IMAGES:?}",
            service.name
        );
        assert_ne!(tag, "latest", "{}: pin a version, not latest", service.name);
        assert!(
            service.def["build"].is_null(),
            "{}: only our programs are built here",
            service.name
        );
    }
    for service in services.values().filter(|s| s.is_ours()) {
        assert_eq!(
            service.def["build"]["context"]
                .as_str()
                .map(std::path::Path::new),
            Some(repo_root().as_path()),
            "{}: our image is built from the repository root",
            service.name
        );
    }
    let ours: BTreeSet<&str> = services
        .values()
        .filter(|s| s.is_ours())
        .map(|s| s.image())
        .collect();
    assert_eq!(ours.len(), 1, "our services share one image, got {ours:?}");
}

#[test]
fn dockerfile_builds_and_ships_the_workspace_binaries() {
    let text = std::fs::read_to_string(repo_root().join(DOCKERFILE)).unwrap();
    let instructions = dockerfile_instructions(&text);
    let workspace = workspace_binaries();

    let cargo_build: Vec<&Instruction> = instructions
        .iter()
        .filter(|i| i.keyword == "RUN" && i.args.contains("cargo build"))
        .collect();
    assert_eq!(
        cargo_build.len(),
        1,
        "one `cargo build` builds the programs"
    );
    let build = &cargo_build[0].args;
    for flag in ["--release", "--locked"] {
        assert!(
            build.contains(flag),
            "`cargo build` without {flag}: {build}"
        );
    }
    let built = bin_flags(build);

    let cooked: BTreeSet<String> = instructions
        .iter()
        .filter(|i| i.keyword == "RUN" && i.args.contains("cargo chef cook"))
        .flat_map(|i| bin_flags(&i.args))
        .collect();
    assert_eq!(
        cooked, built,
        "the cached dependency layer (cargo chef cook) must be cooked for the binaries built"
    );

    // Path dependencies outside the workspace ([patch.crates-io]) are not in cargo-chef's
    // recipe: the builder stage must copy them before it cooks, or the cook cannot resolve.
    let builder_start = instructions
        .iter()
        .position(|i| i.keyword == "FROM" && i.args.ends_with(" AS builder"))
        .expect("a stage named builder");
    let cook_at = instructions
        .iter()
        .position(|i| i.keyword == "RUN" && i.args.contains("cargo chef cook"))
        .expect("the dependency layer: cargo chef cook");
    let copied_before_cook: Vec<String> = instructions[builder_start..cook_at]
        .iter()
        .filter(|i| i.keyword == "COPY" && !i.args.starts_with("--from"))
        .filter_map(|i| i.args.split_whitespace().next())
        .map(|source| source.trim_end_matches('/').to_string())
        .collect();
    for path in patched_paths() {
        assert!(
            copied_before_cook
                .iter()
                .any(|source| path == *source || path.starts_with(&format!("{source}/"))),
            "{path} ([patch.crates-io]) is not copied into the builder before cargo chef cook"
        );
    }

    let shipped: BTreeSet<String> = instructions
        .iter()
        .filter(|i| i.keyword == "COPY" && i.args.starts_with("--from=builder"))
        .filter_map(|i| {
            let source = i.args.split_whitespace().nth(1)?;
            source
                .strip_prefix("/src/target/release/")
                .map(str::to_string)
        })
        .collect();
    assert_eq!(shipped, built, "the runtime stage copies what was built");
    let unknown: Vec<&String> = built.difference(&workspace).collect();
    assert!(
        unknown.is_empty(),
        "not [[bin]] targets of the workspace: {unknown:?} (workspace: {workspace:?})"
    );
    assert_eq!(
        built, workspace,
        "the image carries every binary of the workspace"
    );

    for service in services().values().filter(|s| s.is_ours()) {
        let program = service.command().first().copied().unwrap_or_default();
        assert!(
            shipped.contains(program),
            "{} runs {program:?}, which the image does not ship",
            service.name
        );
    }

    let runtime_user = instructions
        .iter()
        .rev()
        .take_while(|i| i.keyword != "FROM")
        .find(|i| i.keyword == "USER")
        .map(|i| i.args.split(':').next().unwrap_or_default().to_string())
        .expect("the runtime stage sets USER");
    assert!(
        !["root", "0"].contains(&runtime_user.as_str()),
        "the runtime stage runs as root"
    );
}

#[test]
fn every_variable_a_service_sets_is_read_by_its_program() {
    let mut checked = 0;
    for service in services().values().filter(|s| s.is_ours()) {
        let command = service.command();
        let (program, subcommands) = command
            .split_first()
            .unwrap_or_else(|| panic!("{} has no command", service.name));
        assert!(
            subcommands.iter().all(|a| !a.starts_with('-')),
            "{}: settings go through WA_* variables, not flags: {command:?}",
            service.name
        );
        let read = env_vars_in_help(program, subcommands);
        assert!(
            read.iter().any(|v| v.starts_with("WA_")),
            "{program} --help lists no WA_* variables: the help format changed?"
        );
        for (name, _) in service.env() {
            if name.starts_with("WA_") {
                assert!(
                    read.contains(name),
                    "{} sets {name}, but `{}` reads only {read:?}",
                    service.name,
                    command.join(" ")
                );
            } else {
                assert!(
                    LIBRARY_VARIABLES.iter().any(|(known, _)| *known == name),
                    "{} sets {name}, which neither {program} nor its libraries read \
                     (known: {LIBRARY_VARIABLES:?})",
                    service.name
                );
            }
        }
        if let Some(dir) = service.env().get("HADOOP_CONF_DIR") {
            for file in ["core-site.xml", "hdfs-site.xml"] {
                let target = format!("{dir}/{file}");
                assert!(
                    service.binds().iter().any(|(_, t)| *t == target),
                    "{} sets HADOOP_CONF_DIR={dir} but mounts no {target}",
                    service.name
                );
            }
        }
        checked += 1;
    }
    assert!(checked >= 5, "only {checked} services of ours found");
}

#[test]
fn dataflow_services_are_the_process_list() {
    let list_path = repo_root().join("compose/workers.toml");
    let cluster = ClusterConfig::load(&list_path).unwrap();
    let mut dataflow: BTreeMap<usize, Service<'static>> = BTreeMap::new();
    for service in running("wa-dataflow") {
        let index: usize = service
            .name
            .strip_prefix("dataflow-")
            .and_then(|i| i.parse().ok())
            .unwrap_or_else(|| panic!("{} runs wa-dataflow but is not dataflow-I", service.name));
        dataflow.insert(index, service);
    }
    let indices: Vec<usize> = dataflow.keys().copied().collect();
    assert_eq!(
        indices,
        (0..cluster.process_count()).collect::<Vec<_>>(),
        "compose/workers.toml lists {} processes: the services must be dataflow-0 … dataflow-{}",
        cluster.process_count(),
        cluster.process_count().saturating_sub(1)
    );

    let first = dataflow[&0];
    let shared = |s: &Service<'static>| {
        let mut env = s.env();
        env.remove("WA_PROCESS");
        env
    };
    for (index, service) in &dataflow {
        let name = service.name;
        assert_eq!(service.command(), ["wa-dataflow", "run"], "{name}");
        assert_eq!(service.var("WA_PROCESS"), index.to_string(), "{name}");
        let workers_file = service.var("WA_WORKERS_FILE");
        assert!(
            service
                .binds()
                .iter()
                .any(|(source, target)| *source == list_path && *target == workers_file),
            "{name}: WA_WORKERS_FILE={workers_file} must be compose/workers.toml mounted there"
        );
        let address = &cluster.processes[*index].address;
        let (host, _) = host_port(address);
        assert_eq!(
            host, name,
            "entry {index} of compose/workers.toml ({address}) must name service {name}"
        );
        if let Some(hostname) = service.def["hostname"].as_str() {
            assert_eq!(hostname, name, "{name}: hostname");
        }
        assert_eq!(
            service.restart(),
            "unless-stopped",
            "{name}: every timely process must come back after a peer's failure"
        );
        assert_eq!(
            shared(service),
            shared(&first),
            "{name}: the processes of one cluster need the same settings (only WA_PROCESS differs)"
        );
        assert_eq!(
            service.depends_on(),
            first.depends_on(),
            "{name}: depends_on"
        );
        let (_, metrics_port) = host_port(service.var("WA_METRICS_ADDR"));
        let own_port = u64::from(metrics_port) + *index as u64;
        let published = service.published_targets();
        assert!(
            published.is_empty() || published.contains(&own_port),
            "{name}: process {index} serves /metrics on {own_port}, publishes {published:?}"
        );
        if service.has_healthcheck() {
            assert!(
                service.healthcheck().contains(&format!(":{own_port}/")),
                "{name}: the healthcheck must probe port {own_port}: {}",
                service.healthcheck()
            );
        }
    }
}

#[test]
fn init_steps_and_programs_agree() {
    let root = repo_root();
    let core_site = root.join("compose/hadoop/core-site.xml");
    let hdfs_site = root.join("compose/hadoop/hdfs-site.xml");
    let hive_site = root.join("compose/hive/hive-site.xml");
    let hdfs_init = service("hdfs-init");
    let archiver = service("archiver");
    let hive_init = service("hive-init");
    let dataflow = running("wa-dataflow");
    assert!(!dataflow.is_empty(), "no dataflow service");

    // HDFS: one NameNode URL everywhere; the directories hdfs-init creates are the ones used.
    let default_fs = xml_property(&core_site, "fs.defaultFS").expect("fs.defaultFS");
    for service in services().values().filter(|s| s.is_ours()) {
        if let Some(url) = service.env().get("WA_HDFS_URL") {
            assert_eq!(*url, default_fs, "{}: WA_HDFS_URL", service.name);
        }
    }
    assert_eq!(
        archiver.var("WA_ARCHIVE_ROOT"),
        hdfs_init.var("ARCHIVE_DIR")
    );
    let warehouse = hdfs_init.var("WAREHOUSE_DIR");
    assert_eq!(
        xml_property(&hive_site, "hive.metastore.warehouse.dir").as_deref(),
        Some(warehouse),
        "hive-site.xml"
    );
    for service in dataflow.iter().chain([&hive_init]) {
        assert_eq!(
            service.var("WA_WAREHOUSE"),
            format!("{default_fs}{warehouse}"),
            "{}",
            service.name
        );
    }
    for service in &dataflow {
        assert_eq!(
            service.var("WA_CHECKPOINT_DIR"),
            hdfs_init.var("CHECKPOINT_DIR"),
            "{}",
            service.name
        );
    }

    // Replication 2 on 2 DataNodes, and hdfs-init waits for both.
    let replication = xml_property(&hdfs_site, "dfs.replication").expect("dfs.replication");
    assert_eq!(replication, "2", "HDFS replication factor 2");
    let datanodes = running("hdfs")
        .iter()
        .filter(|s| s.command().get(1) == Some(&"datanode"))
        .count();
    assert_eq!(
        datanodes.to_string(),
        replication,
        "one DataNode per replica"
    );
    assert_eq!(hdfs_init.var("EXPECTED_DATANODES"), replication);

    // Kafka: the topic kafka-init creates is the one produced to and consumed from.
    let topic = service("kafka-init").var("TOPIC");
    assert_eq!(topic, "web_analytics", "topic web_analytics");
    for producer in running("wa-producer") {
        assert_eq!(producer.var("WA_TOPIC"), topic, "{}", producer.name);
    }
    for consumer in dataflow.iter().chain([&archiver]) {
        assert_eq!(consumer.var("WA_TOPIC"), topic, "{}", consumer.name);
    }
    let advertised = service("kafka").var("KAFKA_ADVERTISED_LISTENERS");
    for service in services().values().filter(|s| s.is_ours()) {
        if let Some(brokers) = service.env().get("WA_KAFKA_BROKERS") {
            for broker in brokers.split(',') {
                assert!(
                    advertised.contains(&format!("//{broker}")),
                    "{}: {broker} is not a listener Kafka advertises ({advertised})",
                    service.name
                );
            }
        }
    }

    // Hive: one database, and the metastore address is the metastore service.
    let database = hive_init.var("WA_DATABASE");
    assert_eq!(archiver.var("WA_DATABASE"), database);
    for service in &dataflow {
        assert_eq!(service.var("WA_DATABASE"), database, "{}", service.name);
    }
    for client in services().values().filter(|s| s.is_ours()) {
        if let Some(uri) = client.env().get("WA_METASTORE_URI") {
            let (host, port) = host_port(uri);
            let metastore = service(host);
            assert_eq!(
                metastore.var("SERVICE_NAME"),
                "metastore",
                "{}",
                client.name
            );
            assert_eq!(port, 9083, "{}: metastore port", client.name);
        }
    }
}

#[test]
fn dashboard_reads_the_feed_and_scrapes_every_dataflow_process() {
    let dashboards = running("wa-dashboard");
    assert_eq!(dashboards.len(), 1, "one dashboard service");
    let dashboard = &dashboards[0];
    let cluster = ClusterConfig::load(&repo_root().join("compose/workers.toml")).unwrap();

    // The results topic: created by kafka-init, published by every dataflow process, read by
    // the dashboard.
    let results_topic = service("kafka-init").var("RESULTS_TOPIC");
    assert_ne!(
        results_topic,
        service("kafka-init").var("TOPIC"),
        "the results feed needs a topic of its own"
    );
    assert_eq!(dashboard.var("WA_RESULTS_TOPIC"), results_topic);
    for process in running("wa-dataflow") {
        assert_eq!(
            process.var("WA_RESULTS_TOPIC"),
            results_topic,
            "{}",
            process.name
        );
    }

    // One metrics URL per dataflow process: dataflow-I on its WA_METRICS_ADDR port + I.
    let urls: BTreeSet<String> = dashboard
        .var("WA_DASHBOARD_METRICS_URLS")
        .split(',')
        .map(str::to_string)
        .collect();
    let expected: BTreeSet<String> = (0..cluster.process_count())
        .map(|index| {
            let process = service(&format!("dataflow-{index}"));
            let (_, port) = host_port(process.var("WA_METRICS_ADDR"));
            format!(
                "http://dataflow-{index}:{}/metrics",
                u64::from(port) + index as u64
            )
        })
        .collect();
    assert_eq!(
        urls, expected,
        "the dashboard must scrape every process of compose/workers.toml"
    );

    // Its listen port is the one published and probed.
    let (_, port) = host_port(dashboard.var("WA_DASHBOARD_LISTEN"));
    assert!(
        dashboard.published_targets().contains(&u64::from(port)),
        "the dashboard listens on {port} but publishes {:?}",
        dashboard.published_targets()
    );
    assert!(
        dashboard.healthcheck().contains(&format!(":{port}/health")),
        "the dashboard's healthcheck must probe /health on {port}: {}",
        dashboard.healthcheck()
    );
}

#[test]
fn every_start_condition_can_be_met() {
    let services = services();
    for service in services.values() {
        for (dependency, condition) in service.depends_on() {
            let target = services
                .get(dependency)
                .unwrap_or_else(|| panic!("{} depends on unknown {dependency}", service.name));
            match condition {
                "service_healthy" => assert!(
                    target.has_healthcheck(),
                    "{} waits for {dependency} to be healthy, which has no healthcheck",
                    service.name
                ),
                "service_completed_successfully" => assert_eq!(
                    target.restart(),
                    "no",
                    "{} waits for {dependency} to complete: a one-shot step must not restart",
                    service.name
                ),
                "service_started" => {}
                other => panic!("{}: unknown condition {other}", service.name),
            }
        }
        for (source, target) in service.binds() {
            assert!(
                source.exists(),
                "{} mounts {} at {target}, which does not exist (Docker would create an \
                 empty directory)",
                service.name,
                source.display()
            );
        }
    }
    for program in PROGRAMS_AFTER_INIT {
        let after = running(program);
        assert!(!after.is_empty(), "no service runs {program}");
        for service in after {
            let depends = service.depends_on();
            for init in ["kafka-init", "hdfs-init", "hive-init"] {
                assert_eq!(
                    depends.get(init).copied(),
                    Some("service_completed_successfully"),
                    "{} must start after {init} has completed",
                    service.name
                );
            }
        }
    }
}
