//! What the Kubernetes manifests (`deploy/kubernetes`) make a node run,
//! run here. No cluster can be had in the tests: the container's
//! arguments are read from the manifests, `$(FILTER)` filled in from the
//! ConfigMap as the kubelet does, and the binary run with exactly those
//! over network namespaces made after it started, as pods' are. (Their
//! validity against Kubernetes' schemas is checked by `.ci/fleet`.)

use std::collections::HashMap;
use std::process::Command;

use nstest::{
    carries_data, connect, connect_from, in_netns, listen, read_errno, NamedNetns, ProcessNetns,
};
use serde_json::Value;

use crate::netns::dropped_in;
use crate::util::{json_lines, Watching};

const ECONNABORTED: i32 = 103;

/// The manifests' directory.
fn deploy(file: &str) -> String {
    format!(
        "{}/../../deploy/kubernetes/{file}",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// A Python with PyYAML, to read YAML (Debian's python3-yaml, which
/// `make test` installs as root, or any python3 on PATH that has it).
fn python_with_yaml() -> Option<&'static str> {
    ["/usr/bin/python3", "python3"].into_iter().find(|python| {
        Command::new(python)
            .args(["-c", "import yaml"])
            .output()
            .is_ok_and(|out| out.status.success())
    })
}

/// The YAML documents of a manifest, as JSON values.
fn manifest(python: &str, file: &str) -> Vec<Value> {
    let out = Command::new(python)
        .args([
            "-c",
            "import json, sys, yaml; json.dump(list(yaml.safe_load_all(open(sys.argv[1]))), sys.stdout)",
            &deploy(file),
        ])
        .output()
        .expect("run python3");
    assert!(
        out.status.success(),
        "{file}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON from python3")
}

/// The one document of `kind` in `file`.
fn resource(python: &str, file: &str, kind: &str) -> Value {
    let docs: Vec<Value> = manifest(python, file)
        .into_iter()
        .filter(|doc| doc["kind"] == kind)
        .collect();
    assert_eq!(docs.len(), 1, "{file} holds one {kind}");
    docs.into_iter().next().unwrap()
}

/// `$(NAME)` in a container's argument replaced by that variable's value,
/// `$$` by `$`, and an unknown name left as written: the kubelet's rules.
fn expand(arg: &str, env: &HashMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = arg;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some((name, tail)) = after
            .strip_prefix('(')
            .and_then(|inner| inner.split_once(')'))
            .filter(|(name, _)| env.contains_key(*name))
        {
            out.push_str(&env[name]);
            rest = tail;
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// The arguments the pod of `workload` (a DaemonSet or a Job) gives
/// tcpdrop, its variables taken from the ConfigMap of `configmap.yaml`.
fn pod_args(python: &str, workload: &Value) -> Vec<String> {
    let config = resource(python, "configmap.yaml", "ConfigMap");
    let containers = workload["spec"]["template"]["spec"]["containers"]
        .as_array()
        .expect("containers");
    assert_eq!(containers.len(), 1, "one container");
    let container = &containers[0];
    // The image's entrypoint is tcpdrop: the container gives only arguments.
    assert!(container.get("command").is_none(), "{container}");
    let mut env = HashMap::new();
    for var in container["env"].as_array().into_iter().flatten() {
        let from = &var["valueFrom"]["configMapKeyRef"];
        assert_eq!(
            from["name"], config["metadata"]["name"],
            "{var}: not the ConfigMap of configmap.yaml"
        );
        let key = from["key"].as_str().expect("key");
        let value = config["data"][key]
            .as_str()
            .unwrap_or_else(|| panic!("configmap.yaml has no {key}"));
        env.insert(var["name"].as_str().unwrap().to_string(), value.to_string());
    }
    container["args"]
        .as_array()
        .expect("args")
        .iter()
        .map(|arg| expand(arg.as_str().expect("a string"), &env))
        .collect()
}

#[test]
fn kubelet_expansion_of_container_arguments() {
    let env = HashMap::from([("FILTER".to_string(), "dst 10.9.0.0/16".to_string())]);
    assert_eq!(expand("$(FILTER)", &env), "dst 10.9.0.0/16");
    assert_eq!(expand("x$(FILTER)y", &env), "xdst 10.9.0.0/16y");
    assert_eq!(expand("$$(FILTER)", &env), "$(FILTER)");
    assert_eq!(expand("$(OTHER)", &env), "$(OTHER)");
    assert_eq!(expand("$", &env), "$");
    assert_eq!(expand("--json", &env), "--json");
}

/// The pods are not privileged, share the node's network and process
/// namespaces, and add exactly the four capabilities tcpdrop needs; the
/// DaemonSet watches every namespace with the ConfigMap's policy, the Job
/// drops its filter once.
#[test]
fn the_manifests_run_tcpdrop_unprivileged_with_four_capabilities_and_the_configmaps_filters() {
    let Some(python) = python_with_yaml() else {
        nstest::skip(
            "needs python3 with PyYAML to read the manifests (apt-get install python3-yaml)",
        );
        return;
    };
    let config = resource(python, "configmap.yaml", "ConfigMap");
    let daemonset = resource(python, "daemonset.yaml", "DaemonSet");
    let job = resource(python, "job.yaml", "Job");
    let namespace = resource(python, "namespace.yaml", "Namespace");
    for (workload, args) in [
        (
            &daemonset,
            vec![
                "--watch",
                "--all-netns",
                "--json",
                config["data"]["policy"].as_str().unwrap(),
            ],
        ),
        (
            &job,
            vec![
                "--all-netns",
                "--json",
                config["data"]["once"].as_str().unwrap(),
            ],
        ),
    ] {
        let kind = workload["kind"].as_str().unwrap();
        assert_eq!(pod_args(python, workload), args, "{kind}");
        assert_eq!(
            workload["metadata"]["namespace"],
            namespace["metadata"]["name"]
        );
        let pod = &workload["spec"]["template"]["spec"];
        assert_eq!(pod["hostNetwork"], true, "{kind}");
        assert_eq!(pod["hostPID"], true, "{kind}");
        let security = &pod["containers"][0]["securityContext"];
        assert_eq!(security["privileged"], false, "{kind}");
        assert_eq!(
            security["capabilities"]["drop"],
            serde_json::json!(["ALL"]),
            "{kind}"
        );
        let mut added: Vec<&str> = security["capabilities"]["add"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap())
            .collect();
        added.sort_unstable();
        assert_eq!(
            added,
            ["NET_ADMIN", "NET_RAW", "SYS_ADMIN", "SYS_PTRACE"],
            "{kind}"
        );
    }
}

/// The DaemonSet's command, with exactly its arguments, drops what the
/// policy names in each namespace made after it started (two named, one
/// only a process holds, as a pod's pause container does), leaves the
/// rest, prints JSON lines naming each namespace, and ends with 0 on
/// SIGTERM, as when the pod is stopped.
#[test]
fn the_daemonsets_command_drops_in_namespaces_made_after_it_started() {
    if !nstest::require_real_root("`ip netns add` mounts under /run/netns") {
        return;
    }
    let Some(python) = python_with_yaml() else {
        nstest::skip(
            "needs python3 with PyYAML to read the manifests (apt-get install python3-yaml)",
        );
        return;
    };
    let args = pod_args(python, &resource(python, "daemonset.yaml", "DaemonSet"));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    // An address the ConfigMap's policy (192.0.2.0/24) names, one per test
    // process: the watch sees every namespace of the host.
    let ip = format!("192.0.2.{}", 1 + std::process::id() % 250);
    in_netns(|| {
        let pod = Watching::start(&args);
        // Past its first look for namespaces.
        std::thread::sleep(std::time::Duration::from_millis(500));

        let named = [NamedNetns::add(), NamedNetns::add()];
        let held = ProcessNetns::spawn();
        let connections = || {
            nstest::add_address(&format!("{ip}/32"));
            let listener = listen(&format!("{ip}:0"));
            // From 127.0.0.1, as from a pod to the policy's address: only
            // the client's end goes to it (dst), not the server's.
            let from = "127.0.0.1:0".parse().unwrap();
            let (client, server) = connect_from(from, listener.local_addr().unwrap(), &listener);
            let bystander_listener = listen("127.0.0.1:0");
            let bystander = connect(&bystander_listener);
            (listener, client, server, bystander_listener, bystander)
        };
        let mut pods = Vec::new();
        for ns in &named {
            pods.push((ns.name().to_string(), ns.run(connections)));
        }
        pods.push((held.path(), held.run(connections)));

        pod.rows_until("a drop in each new namespace", |rows| {
            pods.iter().all(|(label, _)| dropped_in(rows, label) == 1)
        });
        for (label, (_listener, client, _server, _bl, (by_client, by_server))) in &mut pods {
            assert_eq!(read_errno(client), Some(ECONNABORTED), "{label}");
            assert!(carries_data(by_client, by_server), "{label}: the bystander");
        }
        for ns in &named {
            let out = Command::new("ss")
                .args(["-N", ns.name(), "-Htn", "dst", &ip])
                .output()
                .expect("run ss");
            assert_eq!(String::from_utf8_lossy(&out.stdout), "", "{}", ns.name());
        }
        assert_eq!(held.run(|| nstest::ss(&["-Htn", "dst", &ip])), "");

        let run = pod.terminate();
        assert_eq!(run.code, 0, "{}", run.stderr);
        let rows = json_lines(&run.stdout);
        let chosen: Vec<&Value> = rows
            .iter()
            .filter(|r| r.get("collateral").is_none())
            .collect();
        assert_eq!(chosen.len(), pods.len(), "{rows:?}");
        assert!(rows.iter().all(|r| r["netns"].is_string()), "{rows:?}");
    });
}
