//! Container and cluster runners: `docker exec/run`, `docker compose exec/run`, `podman`,
//! `nerdctl`, `kubectl exec/run/debug`, `oc exec/rsh`. They run their trailing arguments as a
//! command (an argv, not a shell string) inside a container; [`inner_command`] finds it.

use crate::flatten::{skip_opts, Field};

/// `docker`/`podman`/`nerdctl` options before the subcommand that take a value.
const DOCKER_GLOBAL: &[&str] = &[
    "-H",
    "--host",
    "-c",
    "--context",
    "--config",
    "-l",
    "--log-level",
    "--tlscacert",
    "--tlscert",
    "--tlskey",
    // podman
    "--connection",
    "--url",
    "--identity",
    "--root",
    "--runroot",
    "--storage-driver",
    "--storage-opt",
    "--cgroup-manager",
    "--runtime",
    "--tmpdir",
    "--events-backend",
    "--hooks-dir",
    "--module",
    "--network-cmd-path",
    "--conmon",
    "--out",
    "--ssh",
    // nerdctl
    "-n",
    "--namespace",
    "-a",
    "--address",
    "--snapshotter",
    "--cni-path",
    "--data-root",
];

/// `docker exec` options that take a value.
const EXEC: &[&str] = &[
    "-e",
    "--env",
    "--env-file",
    "-u",
    "--user",
    "-w",
    "--workdir",
    "--detach-keys",
    "--preserve-fds",
];

/// `docker run` / `podman run` options that take a value.
const RUN: &[&str] = &[
    "-a",
    "--attach",
    "--add-host",
    "--annotation",
    "--arch",
    "--blkio-weight",
    "--blkio-weight-device",
    "--cap-add",
    "--cap-drop",
    "--cgroup-parent",
    "--cgroupns",
    "--cidfile",
    "--cpu-period",
    "--cpu-quota",
    "--cpu-rt-period",
    "--cpu-rt-runtime",
    "-c",
    "--cpu-shares",
    "--cpus",
    "--cpuset-cpus",
    "--cpuset-mems",
    "--detach-keys",
    "--device",
    "--device-cgroup-rule",
    "--device-read-bps",
    "--device-read-iops",
    "--device-write-bps",
    "--device-write-iops",
    "--dns",
    "--dns-option",
    "--dns-search",
    "--domainname",
    "--entrypoint",
    "-e",
    "--env",
    "--env-file",
    "--expose",
    "--gidmap",
    "--gpus",
    "--group-add",
    "--health-cmd",
    "--health-interval",
    "--health-retries",
    "--health-start-interval",
    "--health-start-period",
    "--health-timeout",
    "-h",
    "--hostname",
    "--init-path",
    "--ip",
    "--ip6",
    "--ipc",
    "--isolation",
    "--kernel-memory",
    "-l",
    "--label",
    "--label-file",
    "--link",
    "--link-local-ip",
    "--log-driver",
    "--log-opt",
    "--mac-address",
    "-m",
    "--memory",
    "--memory-reservation",
    "--memory-swap",
    "--memory-swappiness",
    "--mount",
    "--name",
    "--net",
    "--net-alias",
    "--network",
    "--network-alias",
    "--oom-score-adj",
    "--os",
    "--pid",
    "--pids-limit",
    "--platform",
    "--pod",
    "-p",
    "--publish",
    "--pull",
    "--restart",
    "--runtime",
    "--secret",
    "--security-opt",
    "--shm-size",
    "--stop-signal",
    "--stop-timeout",
    "--storage-opt",
    "--sysctl",
    "--timeout",
    "--tmpfs",
    "--uidmap",
    "--ulimit",
    "-u",
    "--user",
    "--userns",
    "--uts",
    "--variant",
    "-v",
    "--volume",
    "--volume-driver",
    "--volumes-from",
    "-w",
    "--workdir",
];

/// `docker compose` options before the subcommand that take a value.
const COMPOSE_GLOBAL: &[&str] = &[
    "-f",
    "--file",
    "-p",
    "--project-name",
    "--project-directory",
    "--profile",
    "--env-file",
    "--ansi",
    "--parallel",
    "--progress",
    "-H",
    "--host",
    "--context",
    "--log-level",
];

/// `docker compose exec` options that take a value.
const COMPOSE_EXEC: &[&str] = &["-e", "--env", "-u", "--user", "-w", "--workdir", "--index"];

/// `docker compose run` options that take a value.
const COMPOSE_RUN: &[&str] = &[
    "-e",
    "--env",
    "--env-from-file",
    "-u",
    "--user",
    "-w",
    "--workdir",
    "--name",
    "--entrypoint",
    "-p",
    "--publish",
    "-v",
    "--volume",
    "-l",
    "--label",
    "--pull",
    "--cap-add",
    "--cap-drop",
];

/// `kubectl`/`oc` options (global and `exec`) that take a value.
const KUBE: &[&str] = &[
    "-n",
    "--namespace",
    "--context",
    "--cluster",
    "--user",
    "--kubeconfig",
    "-s",
    "--server",
    "--token",
    "--as",
    "--as-group",
    "--as-uid",
    "--request-timeout",
    "--certificate-authority",
    "--client-certificate",
    "--client-key",
    "--tls-server-name",
    "--cache-dir",
    "-v",
    "--v",
    "--vmodule",
    "--log-file",
    "-c",
    "--container",
    "-f",
    "--filename",
    "--pod-running-timeout",
    "--shell",
];

fn value(argv: &[Field], i: usize) -> Option<String> {
    argv.get(i).and_then(|f| f.static_value())
}

fn tail(argv: &[Field], i: usize) -> Vec<Field> {
    argv.get(i..).map(<[Field]>::to_vec).unwrap_or_default()
}

/// The command a container runner executes: (label for the origin such as `docker exec`,
/// argv). `None` when the invocation runs no command given on the line.
pub(crate) fn inner_command(prog: &str, argv: &[Field]) -> Option<(String, Vec<Field>)> {
    match prog {
        "kubectl" | "oc" => kube(prog, argv),
        "docker-compose" | "podman-compose" => compose(prog, argv, 1),
        _ => docker(prog, argv),
    }
}

fn docker(prog: &str, argv: &[Field]) -> Option<(String, Vec<Field>)> {
    let mut i = skip_opts(argv, 1, &|o| DOCKER_GLOBAL.contains(&o), &|_| false)?;
    let mut sub = value(argv, i)?;
    if sub == "container" {
        i = i.saturating_add(1);
        sub = value(argv, i)?;
    }
    match sub.as_str() {
        "compose" => compose(&format!("{prog} compose"), argv, i.saturating_add(1)),
        "exec" => {
            // argv[j] is the container
            let j = skip_opts(argv, i.saturating_add(1), &|o| EXEC.contains(&o), &|_| {
                false
            })?;
            Some((format!("{prog} exec"), tail(argv, j.saturating_add(1))))
        }
        "run" => run_like(format!("{prog} run"), argv, i.saturating_add(1), RUN),
        _ => None,
    }
}

fn compose(label: &str, argv: &[Field], start: usize) -> Option<(String, Vec<Field>)> {
    let i = skip_opts(argv, start, &|o| COMPOSE_GLOBAL.contains(&o), &|_| false)?;
    match value(argv, i)?.as_str() {
        "exec" => {
            // argv[j] is the service
            let j = skip_opts(
                argv,
                i.saturating_add(1),
                &|o| COMPOSE_EXEC.contains(&o),
                &|_| false,
            )?;
            Some((format!("{label} exec"), tail(argv, j.saturating_add(1))))
        }
        "run" => run_like(
            format!("{label} run"),
            argv,
            i.saturating_add(1),
            COMPOSE_RUN,
        ),
        _ => None,
    }
}

/// `run [opts] IMAGE [CMD…]` with `--entrypoint X` putting X in front of CMD.
fn run_like(
    label: String,
    argv: &[Field],
    start: usize,
    table: &[&str],
) -> Option<(String, Vec<Field>)> {
    let j = skip_opts(argv, start, &|o| table.contains(&o), &|_| false)?;
    let mut entry: Option<Field> = None;
    let mut k = start;
    while k < j.min(argv.len()) {
        match value(argv, k).as_deref() {
            Some("--entrypoint") => {
                entry = argv.get(k.saturating_add(1)).cloned();
                k = k.saturating_add(2);
                continue;
            }
            Some(s) if s.starts_with("--entrypoint=") => {
                entry = Some(Field::synth(&s["--entrypoint=".len()..]));
            }
            None if argv
                .get(k)
                .map(|f| f.value())
                .unwrap_or_default()
                .starts_with("--entrypoint=") =>
            {
                entry = Some(Field::dynamic(
                    "$(…)",
                    argv.get(k).map(|f| f.producers.clone()).unwrap_or_default(),
                ));
            }
            _ => {}
        }
        k = k.saturating_add(1);
    }
    let mut cmd = Vec::new();
    if let Some(e) = entry.filter(|e| e.static_value().is_none_or(|v| !v.is_empty())) {
        cmd.push(e);
    }
    cmd.extend(tail(argv, j.saturating_add(1)));
    Some((label, cmd))
}

fn kube(prog: &str, argv: &[Field]) -> Option<(String, Vec<Field>)> {
    let takes = |o: &str| KUBE.contains(&o);
    let i = skip_opts(argv, 1, &takes, &|_| false)?;
    let sub = value(argv, i)?;
    let dashdash =
        (i.saturating_add(1)..argv.len()).find(|&k| value(argv, k).as_deref() == Some("--"));
    let label = format!("{prog} {sub}");
    match sub.as_str() {
        "exec" | "rsh" => {
            if let Some(d) = dashdash {
                return Some((label, tail(argv, d.saturating_add(1))));
            }
            // legacy `kubectl exec POD CMD…`, `oc rsh POD CMD…`
            let pod = skip_opts(argv, i.saturating_add(1), &takes, &|_| false)?;
            let cmd = skip_opts(argv, pod.saturating_add(1), &takes, &|_| false)?;
            Some((label, tail(argv, cmd)))
        }
        // `kubectl run NAME --image=I -- CMD…`, `kubectl debug … -- CMD…`
        "run" | "debug" => dashdash.map(|d| (label, tail(argv, d.saturating_add(1)))),
        _ => None,
    }
}
