//! The scheduling examples under `deploy/`, the README and the book's chapters: each
//! deploy file parses (YAML with a YAML parser, systemd units as INI-like lines), and
//! every `dashload …` command in them (in the README and book, in each shell code
//! block) uses subcommands and flags that exist.

use std::path::Path;

use clap::CommandFactory;
use yaml_rust2::{Yaml, YamlLoader};

use crate::util::root;

/// Split a shell line into words: quotes and backslash escapes, no expansion.
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some('"'), '\\') => word.extend(chars.next()),
            (Some(_), c) => word.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, '\\') => {
                word.extend(chars.next());
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    assert!(quote.is_none(), "unclosed quote in {line:?}");
    if in_word {
        out.push(word);
    }
    out
}

/// Every dashload command in a shell script (lines joined at trailing `\`): the
/// arguments after the binary, in each command that starts with it (after
/// `VAR=value` assignments), up to `&&`, `||`, `;`, `|` or a redirection.
fn commands_in_script(script: &str) -> Vec<Vec<String>> {
    let joined = script.replace("\\\n", " ");
    let mut found = Vec::new();
    for line in joined.lines() {
        // A comment: a whole line, or from ` #` on.
        let line = match line.trim_start().starts_with('#') {
            true => "",
            false => line.split(" #").next().unwrap_or(""),
        };
        let mut segment: Vec<String> = Vec::new();
        let mut segments = Vec::new();
        for w in words(line) {
            if matches!(w.as_str(), "&&" | "||" | ";" | "|") {
                segments.push(std::mem::take(&mut segment));
            } else {
                segment.push(w);
            }
        }
        segments.push(segment);
        for seg in segments {
            let mut rest = seg
                .into_iter()
                .skip_while(|w| w.contains('=') && !w.starts_with('-'));
            let Some(program) = rest.next() else { continue };
            if Path::new(&program).file_name().and_then(|n| n.to_str()) != Some("dashload") {
                continue;
            }
            let mut args = Vec::new();
            let mut skip_next = false;
            for w in rest {
                if skip_next {
                    skip_next = false;
                } else if w == ">" || w == ">>" || w == "<" {
                    skip_next = true;
                } else if !(w.starts_with('>') || w.starts_with("2>") || w.starts_with("1>")) {
                    args.push(w);
                }
            }
            found.push(args);
        }
    }
    found
}

/// Keys whose values are shell scripts (GitHub Actions `run`, GitLab CI scripts).
const SCRIPT_KEYS: [&str; 4] = ["run", "script", "before_script", "after_script"];

/// Every dashload command in a YAML document: in the scripts of CI jobs, and in any
/// mapping whose `command` list starts with the binary (`args` appended).
fn commands_in_yaml(doc: &Yaml, in_script: bool, found: &mut Vec<Vec<String>>) {
    match doc {
        Yaml::String(s) if in_script => found.extend(commands_in_script(s)),
        Yaml::Array(items) => items
            .iter()
            .for_each(|i| commands_in_yaml(i, in_script, found)),
        Yaml::Hash(map) => {
            let list = |key: &str| -> Option<Vec<String>> {
                map.get(&Yaml::String(key.into()))?.as_vec().map(|v| {
                    v.iter()
                        .map(|x| scalar(x).expect("a scalar argument"))
                        .collect()
                })
            };
            if let Some(command) = list("command") {
                if command
                    .first()
                    .is_some_and(|c| c.ends_with("/dashload") || c == "dashload")
                {
                    let mut args = command[1..].to_vec();
                    args.extend(list("args").unwrap_or_default());
                    found.push(args);
                } else if command.len() == 2 && command[0].ends_with("sh") && command[1] == "-c" {
                    // A shell script in `args` (a Kubernetes container's `sh -c`).
                    let script = list("args").unwrap_or_default();
                    found.extend(commands_in_script(&sample(&script.concat())));
                }
            }
            for (k, v) in map {
                let script = k.as_str().is_some_and(|k| SCRIPT_KEYS.contains(&k));
                commands_in_yaml(v, script, found);
            }
        }
        _ => {}
    }
}

/// A shell script with its expansions given sample values (and `exec` dropped).
fn sample(script: &str) -> String {
    script
        .replace("exec ", "")
        .replace("$((JOB_COMPLETION_INDEX - 1))", "1")
        .replace("${DASHLOAD_MANAGER}", "https://manager:7700")
        .replace("${DASHLOAD_SCENARIO}", "scenarios/staging.toml")
        .replace("${JOB_NAME}", "dashload-cluster-nightly-29000000")
}

fn scalar(y: &Yaml) -> Option<String> {
    match y {
        Yaml::String(s) | Yaml::Real(s) => Some(s.clone()),
        Yaml::Integer(i) => Some(i.to_string()),
        Yaml::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Parse `args` with dashload's own CLI.
fn check_command(file: &str, args: &[String]) {
    let cli = dashload::cli::Cli::command();
    let kept: Vec<String> = std::iter::once("dashload".to_string())
        .chain(args.iter().cloned())
        .collect();
    if let Err(e) = cli.try_get_matches_from(&kept) {
        panic!("{file}: `dashload {}` does not parse: {e}", args.join(" "));
    }
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// Check every command found and that there is at least one `run`.
fn check_all(file: &str, commands: &[Vec<String>]) {
    assert!(
        commands
            .iter()
            .any(|c| c.first().map(String::as_str) == Some("run")),
        "{file}: no `dashload run` found in {commands:?}"
    );
    for c in commands {
        check_command(file, c);
    }
}

/// A systemd unit: `[Section]` headers and `Key=Value` lines only.
fn unit(rel: &str) -> Vec<(String, String, String)> {
    let mut section = String::new();
    let mut entries = Vec::new();
    for (n, line) in read(rel).lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.to_string();
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("{rel}:{}: not `Key=Value`: {line}", n + 1));
        assert!(
            !section.is_empty(),
            "{rel}:{}: a key before any section",
            n + 1
        );
        entries.push((
            section.clone(),
            key.trim().to_string(),
            value.trim().to_string(),
        ));
    }
    entries
}

#[test]
fn the_systemd_service_and_timer_are_well_formed_and_run_dashload() {
    let service = unit("deploy/systemd/dashload-nightly.service");
    let get = |entries: &[(String, String, String)], s: &str, k: &str| -> Vec<String> {
        entries
            .iter()
            .filter(|(sec, key, _)| sec == s && key == k)
            .map(|(_, _, v)| v.clone())
            .collect()
    };
    assert_eq!(get(&service, "Service", "Type"), ["oneshot"]);
    let exec = get(&service, "Service", "ExecStart");
    assert_eq!(exec.len(), 1);
    check_all("dashload-nightly.service", &commands_in_script(&exec[0]));
    // The secret: a credential, read through the _FILE variable; never a value in the unit.
    let credential = get(&service, "Service", "LoadCredential");
    assert_eq!(credential.len(), 1);
    let name = credential[0].split(':').next().unwrap();
    let env = get(&service, "Service", "Environment");
    assert!(
        env.contains(&format!("DASHLOAD_TARGET_PASSWORD_FILE=%d/{name}")),
        "{env:?}"
    );
    assert!(!env
        .iter()
        .any(|e| e.starts_with("DASHLOAD_TARGET_PASSWORD=")));

    let timer = unit("deploy/systemd/dashload-nightly.timer");
    assert_eq!(get(&timer, "Timer", "Unit"), ["dashload-nightly.service"]);
    assert_eq!(get(&timer, "Timer", "OnCalendar").len(), 1);
    assert_eq!(get(&timer, "Install", "WantedBy"), ["timers.target"]);
}

#[test]
fn the_ci_and_kubernetes_files_parse_and_their_commands_exist() {
    for rel in [
        "deploy/ci/github-actions.yml",
        "deploy/ci/gitlab-ci.yml",
        "deploy/kubernetes/cronjob.yaml",
    ] {
        let docs = YamlLoader::load_from_str(&read(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
        assert!(!docs.is_empty(), "{rel}: empty");
        let mut found = Vec::new();
        for d in &docs {
            commands_in_yaml(d, false, &mut found);
        }
        check_all(rel, &found);
    }

    // What each scheduler must do: a nightly schedule, the secret from its store,
    // reports/ kept, the Markdown summary posted.
    let gh = &YamlLoader::load_from_str(&read("deploy/ci/github-actions.yml")).unwrap()[0];
    assert_eq!(gh["on"]["schedule"][0]["cron"].as_str(), Some("0 2 * * *"));
    let env = &gh["jobs"]["staging"]["env"];
    assert_eq!(
        env["DASHLOAD_TARGET_PASSWORD"].as_str(),
        Some("${{ secrets.STAGING_INFLUX_PASSWORD }}")
    );
    let steps = gh["jobs"]["staging"]["steps"].as_vec().unwrap();
    let upload = steps
        .iter()
        .find(|s| {
            s["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("actions/upload-artifact"))
        })
        .expect("an artifact upload");
    assert!(upload["with"]["path"]
        .as_str()
        .unwrap()
        .contains("reports/"));
    assert!(steps.iter().any(|s| s["run"]
        .as_str()
        .is_some_and(|r| r.contains("out/summary.md") && r.contains("GITHUB_STEP_SUMMARY"))));

    let gl = &YamlLoader::load_from_str(&read("deploy/ci/gitlab-ci.yml")).unwrap()[0];
    let job = &gl["dashload-nightly"];
    assert!(job["rules"][0]["if"].as_str().unwrap().contains("schedule"));
    let paths: Vec<&str> = job["artifacts"]["paths"]
        .as_vec()
        .unwrap()
        .iter()
        .filter_map(Yaml::as_str)
        .collect();
    assert!(paths.contains(&"reports/"));
    assert_eq!(job["artifacts"]["when"].as_str(), Some("always"));
    assert!(job["after_script"][0]
        .as_str()
        .unwrap()
        .contains("body@out/summary.md"));

    let k8s = YamlLoader::load_from_str(&read("deploy/kubernetes/cronjob.yaml")).unwrap();
    let cron = &k8s[0];
    assert_eq!(cron["kind"].as_str(), Some("CronJob"));
    let pod = &cron["spec"]["jobTemplate"]["spec"]["template"]["spec"];
    let volumes = pod["volumes"].as_vec().unwrap();
    let claim = volumes
        .iter()
        .find_map(|v| v["persistentVolumeClaim"]["claimName"].as_str())
        .expect("reports on a persistent volume");
    assert_eq!(k8s[1]["kind"].as_str(), Some("PersistentVolumeClaim"));
    assert_eq!(k8s[1]["metadata"]["name"].as_str(), Some(claim));
    assert!(volumes
        .iter()
        .any(|v| v["secret"]["secretName"].as_str().is_some()));
    let container = &pod["containers"][0];
    let env = container["env"].as_vec().unwrap();
    assert!(env
        .iter()
        .any(|e| e["name"].as_str() == Some("DASHLOAD_TARGET_PASSWORD_FILE")));
    assert!(!env
        .iter()
        .any(|e| e["name"].as_str() == Some("DASHLOAD_TARGET_PASSWORD")));
}

/// Code blocks whose text is shell (or a crontab): the ones holding commands.
const SHELL_BLOCKS: [&str; 5] = ["", "sh", "bash", "shell", "cron"];

/// Every `dashload …` command in a Markdown document's shell code blocks.
fn commands_in_markdown(markdown: &str) -> Vec<Vec<String>> {
    crate::book::code_blocks(markdown)
        .into_iter()
        .filter(|(info, _)| SHELL_BLOCKS.contains(&info.as_str()))
        .flat_map(|(_, body)| commands_in_script(&body))
        .collect()
}

#[test]
fn the_cron_line_and_every_command_of_the_readme_and_the_book_exist() {
    let cron = read("deploy/cron/dashload.cron");
    let line = cron
        .lines()
        .find(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .unwrap();
    // m h dom mon dow user command
    assert_eq!(words(line)[..6], ["0", "2", "*", "*", "*", "dashload"]);
    check_all("dashload.cron", &commands_in_script(line));

    let nightly = read("docs/src/nightly.md");
    assert!(
        nightly.contains(line),
        "the book's nightly chapter shows deploy/cron/dashload.cron's line"
    );
    assert!(commands_in_markdown(&nightly).len() >= 3);

    let mut total = 0;
    for (rel, text) in crate::book::documents() {
        let found = commands_in_markdown(&text);
        for c in &found {
            check_command(&rel, c);
        }
        total += found.len();
    }
    check_all("README.md", &commands_in_markdown(&read("README.md")));
    // Every subcommand's chapter shows it at work: a checker finding nothing passes nothing.
    assert!(
        total >= 30,
        "only {total} dashload commands found in the README and book"
    );
}

#[test]
fn the_checker_itself_refuses_what_does_not_exist() {
    // Without this, a checker that accepts everything would pass the tests above.
    let found = commands_in_script("FOO=1 ./dashload run s.toml --no-such-flag && echo done");
    assert_eq!(found, [vec!["run", "s.toml", "--no-such-flag"]]);
    let refused = std::panic::catch_unwind(|| check_command("t", &found[0]));
    assert!(refused.is_err());
    let refused = std::panic::catch_unwind(|| check_command("t", &["frobnicate".to_string()]));
    assert!(refused.is_err());
    check_command("t", &["run".into(), "--keep".into(), "3".into()]);
    assert!(commands_in_script("0 2 * * * dashload cd /x").is_empty());
}

/// An Indexed Job's spec (cluster-job.yaml's Job, or cluster-cronjob.yaml's
/// jobTemplate): one pod per worker and the manager, no retries or restarts, the
/// token from a file, and its shell script's `run --workers N` and `worker`
/// commands exist. Returns those commands.
fn check_indexed_job(rel: &str, job: &Yaml) -> Vec<Vec<String>> {
    assert_eq!(job["completionMode"].as_str(), Some("Indexed"), "{rel}");
    assert_eq!(job["backoffLimit"].as_i64(), Some(0), "{rel}");
    assert_eq!(
        job["template"]["spec"]["restartPolicy"].as_str(),
        Some("Never"),
        "{rel}"
    );
    let container = &job["template"]["spec"]["containers"][0];
    let script = container["args"][0].as_str().expect("the shell script");
    let found = commands_in_script(&sample(script));
    check_all(rel, &found);
    let workers: usize = found
        .iter()
        .find(|c| c[0] == "run")
        .and_then(|c| c.iter().position(|a| a == "--workers").map(|i| &c[i + 1]))
        .and_then(|n| n.parse().ok())
        .expect("--workers N");
    assert_eq!(
        job["completions"].as_i64(),
        Some(workers as i64 + 1),
        "{rel}: one pod per worker and the manager"
    );
    assert!(found.iter().any(|c| c[0] == "worker"), "{rel}: {found:?}");
    check_workers_run_the_managers_scenario(rel, &found);
    // Over TLS: the manager's certificate from files, the workers pinning it.
    let run = found.iter().find(|c| c[0] == "run").unwrap();
    assert!(run.iter().any(|a| a == "--tls-cert"), "{rel}: {run:?}");
    let worker = found.iter().find(|c| c[0] == "worker").unwrap();
    assert!(
        worker.iter().any(|a| a.starts_with("https://")),
        "{rel}: {worker:?}"
    );
    let env = container["env"].as_vec().unwrap();
    assert!(env
        .iter()
        .any(|e| e["name"].as_str() == Some("DASHLOAD_MANAGER_FINGERPRINT")));
    assert!(env
        .iter()
        .any(|e| e["name"].as_str() == Some("DASHLOAD_CLUSTER_TOKEN_FILE")));
    assert!(!env
        .iter()
        .any(|e| e["name"].as_str() == Some("DASHLOAD_CLUSTER_TOKEN")));
    found
}

/// Every worker runs its own copy of the manager's scenario with the manager's
/// `--set` overrides (the manager sends neither, and refuses another digest).
fn check_workers_run_the_managers_scenario(rel: &str, found: &[Vec<String>]) {
    let sets = |c: &[String]| -> Vec<String> {
        c.iter()
            .enumerate()
            .filter(|(_, a)| *a == "--set")
            .map(|(i, _)| c[i + 1].clone())
            .collect()
    };
    let run = found.iter().find(|c| c[0] == "run").expect("the manager");
    for worker in found.iter().filter(|c| c[0] == "worker") {
        assert_eq!(
            worker[1], run[1],
            "{rel}: the worker's scenario: {worker:?}"
        );
        assert_eq!(sets(worker), sets(run), "{rel}: the worker's overrides");
    }
}

/// The distributed-run examples: the Kubernetes Indexed Job (its shell branch for
/// the manager and the workers), the compose file and the systemd worker unit parse,
/// and their `dashload run --workers` / `dashload worker` commands exist, with the
/// shell's expansions given sample values.
#[test]
fn the_distributed_run_examples_parse_and_their_commands_exist() {
    let rel = "deploy/kubernetes/cluster-job.yaml";
    let docs = YamlLoader::load_from_str(&read(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
    let job = docs
        .iter()
        .find(|d| d["kind"].as_str() == Some("Job"))
        .expect("the Job");
    let found = check_indexed_job(rel, &job["spec"]);
    check_shared_claim(rel, &docs, &job["spec"]["template"]["spec"], &found);
    let service = docs
        .iter()
        .find(|d| d["kind"].as_str() == Some("Service"))
        .expect("the headless Service");
    assert_eq!(service["spec"]["clusterIP"].as_str(), Some("None"));

    let rel = "deploy/compose/docker-compose.yml";
    let doc = &YamlLoader::load_from_str(&read(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))[0];
    let mut found = Vec::new();
    commands_in_yaml(doc, false, &mut found);
    check_all(rel, &found);
    assert!(found.iter().any(|c| c[0] == "worker"), "{found:?}");
    check_workers_run_the_managers_scenario(rel, &found);
    assert!(found.iter().any(|c| c[0] == "sandbox"), "{found:?}");
    assert_eq!(
        doc["services"]["worker"]["deploy"]["replicas"].as_i64(),
        Some(3)
    );

    let rel = "deploy/systemd/dashload-worker.service";
    let service = unit(rel);
    let exec = service
        .iter()
        .find(|(s, k, _)| s == "Service" && k == "ExecStart")
        .map(|(_, _, v)| v.clone())
        .expect("ExecStart");
    let found = commands_in_script(&sample(&exec));
    assert_eq!(found.len(), 1, "{exec}");
    assert_eq!(found[0][0], "worker");
    check_command(rel, &found[0]);
}

/// The volume mounted at the deepest mount point holding `path`, in a pod spec.
fn volume_at<'a>(pod: &'a Yaml, path: &str) -> &'a Yaml {
    let mounts = pod["containers"][0]["volumeMounts"].as_vec().unwrap();
    let mount = mounts
        .iter()
        .filter(|m| {
            let at = m["mountPath"].as_str().unwrap();
            path == at || path.starts_with(&format!("{}/", at.trim_end_matches('/')))
        })
        .max_by_key(|m| m["mountPath"].as_str().unwrap().len())
        .unwrap_or_else(|| panic!("no volume mounted at {path}"));
    pod["volumes"]
        .as_vec()
        .unwrap()
        .iter()
        .find(|v| v["name"] == mount["name"])
        .expect("the mounted volume")
}

/// The nightly distributed run: a CronJob (no overlap) whose jobTemplate is the
/// Indexed Job, and a Service that outlives each night's Job: it selects on labels
/// the jobTemplate's pods carry (not the generated `job-name`), its name is their
/// subdomain, and the workers dial `<job name>-0.<subdomain>` with the job name
/// from the pod's own label. Token and password from Secrets, reports on a claim.
#[test]
fn the_nightly_cluster_cronjob_dials_its_manager_through_a_standing_service() {
    let rel = "deploy/kubernetes/cluster-cronjob.yaml";
    let docs = YamlLoader::load_from_str(&read(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
    let kind = |k: &str| {
        docs.iter()
            .find(|d| d["kind"].as_str() == Some(k))
            .unwrap_or_else(|| panic!("{rel}: no {k}"))
    };
    let cron = kind("CronJob");
    assert_eq!(cron["spec"]["concurrencyPolicy"].as_str(), Some("Forbid"));
    assert!(cron["spec"]["schedule"].as_str().is_some());
    let job = &cron["spec"]["jobTemplate"]["spec"];
    let found = check_indexed_job(rel, job);
    let template = &job["template"];
    let pod = &template["spec"];

    let service = kind("Service");
    assert_eq!(service["spec"]["clusterIP"].as_str(), Some("None"));
    let subdomain = pod["subdomain"].as_str().expect("the pods' subdomain");
    assert_eq!(service["metadata"]["name"].as_str(), Some(subdomain));
    let selector = service["spec"]["selector"].as_hash().expect("a selector");
    assert!(!selector.is_empty());
    for (k, v) in selector {
        let key = k.as_str().unwrap();
        assert!(
            !key.contains("job-name") && !key.contains("controller-uid"),
            "{rel}: {key} changes with every Job the CronJob creates"
        );
        assert_eq!(
            &template["metadata"]["labels"][key], v,
            "{rel}: the pods carry the Service's label {key}"
        );
    }

    // The workers dial index 0 by its host name: the Job's name from the pod's label.
    let script = pod["containers"][0]["args"][0].as_str().unwrap();
    assert!(
        script.contains(&format!("https://${{JOB_NAME}}-0.{subdomain}:7700")),
        "{script}"
    );
    let env = pod["containers"][0]["env"].as_vec().unwrap();
    let job_name = env
        .iter()
        .find(|e| e["name"].as_str() == Some("JOB_NAME"))
        .expect("JOB_NAME");
    assert_eq!(
        job_name["valueFrom"]["fieldRef"]["fieldPath"].as_str(),
        Some("metadata.labels['job-name']")
    );
    let listen = found
        .iter()
        .find(|c| c[0] == "run")
        .and_then(|c| {
            c.iter()
                .position(|a| a == "--listen")
                .map(|i| c[i + 1].clone())
        })
        .expect("--listen");
    assert!(listen.ends_with(":7700"), "{listen}");

    // Secrets as files; run folders on the claim defined here.
    let file_of = |name: &str| -> String {
        env.iter()
            .find(|e| e["name"].as_str() == Some(name))
            .and_then(|e| e["value"].as_str())
            .unwrap_or_else(|| panic!("{name}"))
            .to_string()
    };
    for var in [
        "DASHLOAD_CLUSTER_TOKEN_FILE",
        "DASHLOAD_TARGET_PASSWORD_FILE",
    ] {
        let volume = volume_at(pod, &file_of(var));
        assert!(volume["secret"]["secretName"].as_str().is_some(), "{var}");
    }
    assert!(!env
        .iter()
        .any(|e| e["name"].as_str() == Some("DASHLOAD_TARGET_PASSWORD")));
    check_shared_claim(rel, &docs, pod, &found);
}

/// The manager's run folders (`run --reports-dir`, among the `commands` of `pod`)
/// are on a claim defined in the same file and shared: every pod of an Indexed
/// Job's one template mounts it, and the pods spread over nodes, where a
/// ReadWriteOnce claim would leave them Pending.
fn check_shared_claim(rel: &str, docs: &[Yaml], pod: &Yaml, commands: &[Vec<String>]) {
    let run = commands.iter().find(|c| c[0] == "run").unwrap();
    let reports = run
        .iter()
        .position(|a| a == "--reports-dir")
        .map(|i| run[i + 1].clone())
        .expect("--reports-dir");
    let claim = volume_at(pod, &reports)["persistentVolumeClaim"]["claimName"]
        .as_str()
        .expect("reports on a persistent volume");
    let pvc = docs
        .iter()
        .find(|d| {
            d["kind"].as_str() == Some("PersistentVolumeClaim")
                && d["metadata"]["name"].as_str() == Some(claim)
        })
        .unwrap_or_else(|| panic!("{rel}: the claim {claim} is not defined here"));
    let modes: Vec<&str> = pvc["spec"]["accessModes"]
        .as_vec()
        .unwrap()
        .iter()
        .filter_map(Yaml::as_str)
        .collect();
    assert_eq!(modes, ["ReadWriteMany"], "{rel}: {claim}");
}

/// Every YAML file under deploy/ parses and each `dashload` command in it (a
/// `command` list, a CI script, a container's `sh -c` script) exists: a new
/// manifest is checked without being named here.
#[test]
fn every_deploy_manifest_parses_and_its_commands_exist() {
    let mut files = Vec::new();
    let mut dirs = vec![root().join("deploy")];
    while let Some(dir) = dirs.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let path = e.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|x| x == "yml" || x == "yaml") {
                files.push(path);
            }
        }
    }
    files.sort();
    let names: Vec<String> = files
        .iter()
        .map(|p| p.strip_prefix(root()).unwrap().display().to_string())
        .collect();
    for expected in [
        "deploy/kubernetes/cronjob.yaml",
        "deploy/kubernetes/cluster-job.yaml",
        "deploy/kubernetes/cluster-cronjob.yaml",
        "deploy/compose/docker-compose.yml",
    ] {
        assert!(names.iter().any(|n| n == expected), "{expected}: {names:?}");
    }
    for (rel, path) in names.iter().zip(&files) {
        let text = std::fs::read_to_string(path).unwrap();
        let docs = YamlLoader::load_from_str(&text).unwrap_or_else(|e| panic!("{rel}: {e}"));
        let mut found = Vec::new();
        for d in &docs {
            commands_in_yaml(d, false, &mut found);
        }
        assert!(!found.is_empty(), "{rel}: no dashload command found");
        for c in &found {
            check_command(rel, c);
        }
    }
}

/// A secret's stand-in: what a mounted Secret, a compose secret or a file
/// under /etc/dashload would hold.
const STAND_IN: &str = "stand-in-secret-0123456789abcdef";

/// Where secrets are mounted in the manifests: a path under one of these is
/// given a stand-in file on this host.
const SECRET_ROOTS: [&str; 3] = ["/run/secrets/", "/var/run/secrets/", "/etc/dashload/"];

/// The manifest's `path` as a stand-in file under `secrets` (same name, so
/// different secrets stay different files).
fn stand_in_file(secrets: &Path, path: &str) -> String {
    let local = secrets.join(path.trim_start_matches('/').replace('/', "_"));
    std::fs::write(&local, STAND_IN).unwrap();
    local.display().to_string()
}

/// `value` with a secret path replaced by its stand-in file.
fn on_this_host(secrets: &Path, value: &str) -> String {
    if let Some((key, path)) = value.split_once('=') {
        if SECRET_ROOTS.iter().any(|r| path.starts_with(r)) {
            return format!("{key}={}", stand_in_file(secrets, path));
        }
    }
    if SECRET_ROOTS.iter().any(|r| value.starts_with(r)) {
        return stand_in_file(secrets, value);
    }
    value.to_string()
}

/// Run `dashload check` on what a manifest's `run` or `worker` command would
/// load (its scenario relative to the image's working folder, its `--set`
/// overrides) with exactly `env` (the manifest's own environment, secrets as
/// stand-in files): the manifest starts its scenario only if this passes.
fn check_starts(rel: &str, command: &[String], env: &[(String, String)]) {
    let ws = crate::util::workspace();
    let secrets = ws.path().join("secrets");
    std::fs::create_dir(&secrets).unwrap();
    let scenario = command[1].trim_start_matches("/opt/dashload/").to_string();
    let mut args = vec!["check".to_string(), scenario];
    for (i, a) in command.iter().enumerate() {
        if a == "--set" {
            args.extend(["--set".into(), on_this_host(&secrets, &command[i + 1])]);
        }
    }
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_dashload"));
    c.args(&args).current_dir(ws.path()).env_clear();
    for (k, v) in env {
        let v = if k.ends_with("_FILE") {
            stand_in_file(&secrets, v)
        } else {
            v.clone()
        };
        c.env(k, v);
    }
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{rel}: `dashload {}` with {env:?}: {}",
        args.join(" "),
        crate::util::text(&out)
    );
}

/// A Kubernetes container's environment: values as written, Secret keys as
/// stand-ins, the downward API as a sample.
fn k8s_env(container: &Yaml) -> Vec<(String, String)> {
    container["env"]
        .as_vec()
        .unwrap()
        .iter()
        .map(|e| {
            let name = e["name"].as_str().unwrap().to_string();
            let value = match e["value"].as_str() {
                Some(v) => v.to_string(),
                None if !e["valueFrom"]["secretKeyRef"].is_badvalue() => STAND_IN.into(),
                None => "sample".into(),
            };
            (name, value)
        })
        .collect()
}

/// Every manifest under deploy/ that starts a run or a worker starts its
/// scenario: `dashload check` accepts it with the manifest's own environment
/// and arguments (a missing password or variable fails here, not in the
/// cluster), and compose's documented `up … manager` starts the workers.
#[test]
fn every_manifest_starts_its_scenario_with_its_own_environment() {
    // Kubernetes: each container's script, with its env.
    for rel in [
        "deploy/kubernetes/cronjob.yaml",
        "deploy/kubernetes/cluster-job.yaml",
        "deploy/kubernetes/cluster-cronjob.yaml",
    ] {
        let docs = YamlLoader::load_from_str(&read(rel)).unwrap();
        let mut checked = 0;
        for d in &docs {
            let pod = match d["kind"].as_str() {
                Some("Job") => &d["spec"]["template"]["spec"],
                Some("CronJob") => &d["spec"]["jobTemplate"]["spec"]["template"]["spec"],
                _ => continue,
            };
            let container = &pod["containers"][0];
            let mut found = Vec::new();
            commands_in_yaml(container, false, &mut found);
            for c in found.iter().filter(|c| c[0] == "run" || c[0] == "worker") {
                check_starts(rel, c, &k8s_env(container));
                checked += 1;
            }
        }
        assert!(checked > 0, "{rel}: no run or worker command");
    }

    // systemd: the worker unit with the documented cluster.env.
    let rel = "deploy/systemd/dashload-worker.service";
    let service = unit(rel);
    let get = |key: &str| {
        service
            .iter()
            .find(|(s, k, _)| s == "Service" && k == key)
            .map(|(_, _, v)| v.clone())
            .unwrap_or_else(|| panic!("{rel}: no {key}"))
    };
    assert_eq!(get("EnvironmentFile"), "/etc/dashload/cluster.env");
    let env: Vec<(String, String)> = read("deploy/systemd/cluster.env")
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (k, v) = l.split_once('=').expect("KEY=value");
            (k.to_string(), v.to_string())
        })
        .collect();
    let mut exec = get("ExecStart");
    for (k, v) in &env {
        exec = exec.replace(&format!("${{{k}}}"), v);
    }
    assert!(!exec.contains("${"), "{rel}: unset in cluster.env: {exec}");
    let found = commands_in_script(&exec);
    check_starts(rel, &found[0], &env);

    // compose: each service's command with its environment and secrets.
    let rel = "deploy/compose/docker-compose.yml";
    let doc = &YamlLoader::load_from_str(&read(rel)).unwrap()[0];
    let services = doc["services"].as_hash().unwrap();
    let mut workers = Vec::new();
    let mut manager = None;
    for (name, s) in services {
        let mut found = Vec::new();
        commands_in_yaml(s, false, &mut found);
        let env: Vec<(String, String)> = s["environment"]
            .as_hash()
            .map(|h| {
                h.iter()
                    .map(|(k, v)| (k.as_str().unwrap().into(), scalar(v).unwrap()))
                    .collect()
            })
            .unwrap_or_default();
        for c in &found {
            match c[0].as_str() {
                "run" => {
                    check_starts(rel, c, &env);
                    manager = Some(name.as_str().unwrap().to_string());
                }
                "worker" => {
                    check_starts(rel, c, &env);
                    workers.push(name.as_str().unwrap().to_string());
                }
                "sandbox" => {
                    // The manager scrapes it from another container.
                    assert!(c.iter().any(|a| a == "--serve-counters"), "{rel}: {c:?}");
                    assert!(
                        env.iter().any(|(k, _)| k == "DASHLOAD_SANDBOX_TOKEN_FILE"),
                        "{rel}: the sandbox's token: {env:?}"
                    );
                }
                _ => {}
            }
        }
    }
    let manager = manager.expect("the manager's service");
    let depends: Vec<&str> = doc["services"][manager.as_str()]["depends_on"]
        .as_vec()
        .unwrap()
        .iter()
        .filter_map(Yaml::as_str)
        .collect();
    assert!(!workers.is_empty());
    for w in &workers {
        assert!(
            depends.contains(&w.as_str()),
            "{rel}: `docker compose up … {manager}` starts {w} only as its dependency: {depends:?}"
        );
    }
    let header = read(rel);
    assert!(
        header.contains(&format!(
            "docker compose up --exit-code-from {manager} {manager}"
        )),
        "{rel}: the documented command"
    );
}
