//! `sluice validate` end to end: the real binary on files, directories and stdin.

use crate::common::{platform, sluice, stderr, stdout};

#[test]
fn clean_input_exits_zero() {
    let o = sluice(
        &["validate", "-"],
        Some("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ok\ndata:\n  a: b\n"),
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), "");
    assert!(stderr(&o).contains("0 error(s), 0 warning(s) in 1 object(s) from 1 file(s)"));
}

#[test]
fn yaml_syntax_error_has_file_line_col_and_exit_one() {
    let o = sluice(
        &["validate", "-"],
        Some("apiVersion: v1\nkind: ConfigMap\ndata: [a, b\n"),
    );
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(out.starts_with("-:4:1: error: invalid YAML: "), "{out}");
}

#[test]
fn missing_kind_is_reported_like_kubectl() {
    // kubectl: error validating data: [apiVersion not set, kind not set]
    let o = sluice(&["validate", "-"], Some("metadata:\n  name: x\nspec: {}\n"));
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stdout(&o),
        "-:1:1: error: apiVersion not set, kind not set\n"
    );
}

#[test]
fn hostile_yaml_fails_cleanly() {
    let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
    let mut prev = "a".to_owned();
    for n in ["b", "c", "d", "e", "f", "g", "h", "i", "j"] {
        bomb.push_str(&format!(
            "{n}: &{n} [{}]\n",
            vec![format!("*{prev}"); 10].join(", ")
        ));
        prev = n.to_owned();
    }
    let o = sluice(&["validate", "-"], Some(&bomb));
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("billion laughs"), "{}", stdout(&o));
    let deep = "[".repeat(5000);
    let o = sluice(&["validate", "-"], Some(&deep));
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("nesting deeper than"), "{}", stdout(&o));
}

#[test]
fn io_and_usage_errors_exit_two() {
    let o = sluice(&["validate", "/nonexistent/file.yaml"], None);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("/nonexistent/file.yaml: cannot read"));
    let o = sluice(&["validate"], None);
    assert_eq!(o.status.code(), Some(2));
    let o = sluice(&["validate", "--output", "xml", "-"], Some(""));
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn json_and_yaml_output() {
    let input = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n---\nkind: Task\n";
    let o = sluice(&["validate", "-o", "json", "-"], Some(input));
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("JSON output");
    assert_eq!(v["summary"]["errors"], 1);
    assert_eq!(v["summary"]["objects"], 1);
    assert_eq!(v["findings"][0]["line"], 5);
    assert_eq!(v["findings"][0]["message"], "apiVersion not set");
    let o = sluice(&["validate", "-o", "yaml", "-"], Some(input));
    assert!(
        stdout(&o).contains("summary:\n  files: 1\n"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn directories_are_walked_and_non_objects_skipped() {
    let root = platform();
    let o = sluice(
        &["validate", "-v", root.to_str().expect("utf-8 path")],
        None,
    );
    let err = stderr(&o);
    // Helm values files are not Kubernetes objects; kustomize patches are build inputs.
    assert!(
        err.contains("argocd-values.yaml (document 1): skipped: not a Kubernetes object"),
        "{err}"
    );
    assert!(
        err.contains(
            "patches/autoscaling.yaml (document 1): skipped: a kustomization's build input"
        ),
        "{err}"
    );
    assert!(
        err.contains("base/settings.yaml (document 1): skipped: a kustomization's build input"),
        "{err}"
    );
}

#[test]
fn helm_charts_and_top_level_lists() {
    let dir = std::env::temp_dir().join(format!("sluice-chart-{}", std::process::id()));
    let chart = dir.join("chart");
    std::fs::create_dir_all(chart.join("templates")).expect("mkdir");
    std::fs::write(chart.join("Chart.yaml"), "name: c\nversion: 0.1.0\n").expect("write");
    std::fs::write(
        chart.join("templates/cm.yaml"),
        "{{- if .Values.x }}\nkind: ConfigMap\n",
    )
    .expect("write");
    std::fs::write(
        dir.join("list.yaml"),
        "- apiVersion: v1\n  kind: ConfigMap\n",
    )
    .expect("write");
    std::fs::write(dir.join("data.json"), "[1, 2, 3]\n").expect("write");
    let o = sluice(&["validate", "-v", dir.to_str().expect("utf-8")], None);
    let _ = std::fs::remove_dir_all(&dir);
    let (out, err) = (stdout(&o), stderr(&o));
    // Helm templates are not YAML until Helm renders them: the chart is skipped, not an error.
    assert!(
        err.contains("chart (document 1): skipped: a Helm chart"),
        "{err}"
    );
    // A JSON array of numbers is data; a top-level list of objects is a mistake kubectl rejects.
    assert!(
        err.contains("data.json (document 1): skipped: not a Kubernetes object"),
        "{err}"
    );
    assert!(
        out.contains("list.yaml:1:1: error: a top-level list is not an object"),
        "{out}"
    );
    assert_eq!(out.lines().count(), 1, "{out}");
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn help_texts_tell_what_matters() {
    // issue 3: `image` is recorded but not used, said in --help
    let o = sluice(&["run", "--help"], None);
    assert_eq!(o.status.code(), Some(0));
    assert!(
        stdout(&o).contains("`image` is\nrecorded but NOT used")
            || stdout(&o).contains("`image` is recorded but NOT used"),
        "{}",
        stdout(&o)
    );
    let o = sluice(&["validate", "--help"], None);
    assert!(stdout(&o).contains("Exit codes: 0"), "{}", stdout(&o));
}

/// Runs the binary, failing the test when it has not finished within `secs` (a read that
/// blocks would otherwise hang the suite). `feed` writes its standard input on a thread and
/// returns how many bytes went through before the pipe closed.
pub(crate) fn sluice_within(
    secs: u64,
    args: &[&str],
    feed: Option<Box<dyn FnOnce(std::process::ChildStdin) -> u64 + Send>>,
) -> (std::process::Output, u64) {
    use std::io::Read;
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(if feed.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sluice starts");
    let writer = feed.map(|f| {
        let stdin = child.stdin.take().expect("stdin");
        std::thread::spawn(move || f(stdin))
    });
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let out_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let err_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        v
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("sluice {args:?} did not finish within {secs} s");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let written = writer.map_or(0, |w| w.join().expect("writer"));
    let output = std::process::Output {
        status,
        stdout: out_t.join().expect("stdout"),
        stderr: err_t.join().expect("stderr"),
    };
    (output, written)
}

/// Writes `total` bytes of `byte`, stopping at the first error (the reader went away).
fn endless(total: u64, byte: u8) -> Box<dyn FnOnce(std::process::ChildStdin) -> u64 + Send> {
    Box::new(move |mut stdin| {
        use std::io::Write;
        let chunk = vec![byte; 1 << 20];
        let mut written = 0;
        while written < total {
            if stdin.write_all(&chunk).is_err() {
                break;
            }
            written += chunk.len() as u64;
        }
        written
    })
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("sluice-it-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("mkdir");
    dir
}

fn mkfifo(p: &std::path::Path) {
    let ok = std::process::Command::new("mkfifo")
        .arg(p)
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "mkfifo {}", p.display());
}

const CM: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ok\n";

/// Issue 18 item 10: inputs are read with a cap, for files, devices, pipes and standard
/// input, by every command that reads files: the read stops one byte past 64 MiB and the
/// command exits 2 (an I/O error) instead of growing without bound.
#[test]
fn input_size_is_capped_while_reading() {
    let limit = "larger than the input limit of 64 MiB";
    // an endless device named explicitly
    for args in [
        &["validate", "/dev/zero"][..],
        &["run", "-f", "/dev/zero"],
        &["policy", "apply", "/dev/zero", "-r", "/dev/zero"],
    ] {
        let (o, _) = sluice_within(60, args, None);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains(&format!("/dev/zero: cannot read: {limit}")),
            "{args:?}: {}",
            stderr(&o)
        );
    }
    // standard input: the writer is cut off soon after the limit, not after 256 MiB
    let (o, written) = sluice_within(60, &["validate", "-"], Some(endless(256 << 20, b'a')));
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!("standard input: cannot read: {limit}")),
        "{}",
        stderr(&o)
    );
    assert!(written < 70 << 20, "{written} bytes were read");
    // a file over the limit is refused from its size (sparse: nothing is written), in a
    // walked directory too
    let dir = temp_dir("cap");
    std::fs::write(dir.join("a.yaml"), CM).expect("write");
    let big = std::fs::File::create(dir.join("big.yaml")).expect("create");
    big.set_len((64 << 20) + 1).expect("set_len");
    let d = dir.to_str().expect("utf-8");
    let (o, _) = sluice_within(60, &["validate", d], None);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!("big.yaml: cannot read: {limit}")),
        "{}",
        stderr(&o)
    );
    // exactly at the limit the file is read (and then judged by the document limit)
    big.set_len(64 << 20).expect("set_len");
    let (o, _) = sluice_within(120, &["validate", d], None);
    assert!(!stderr(&o).contains(limit), "{}", stderr(&o));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue 18 item 11: what is not a regular file inside a walked directory (a FIFO, a
/// socket, a device, directly or through a symlink, at any depth) is skipped with a
/// warning instead of blocking; a FIFO named on the command line is read.
#[test]
fn non_regular_files_in_walked_directories_are_skipped() {
    let dir = temp_dir("walk");
    std::fs::create_dir_all(dir.join("sub/deeper")).expect("mkdir");
    std::fs::write(dir.join("a.yaml"), CM).expect("write");
    let mut expected = Vec::new();
    for (i, place) in ["", "sub/", "sub/deeper/"].iter().enumerate() {
        let fifo = format!("{place}fifo{i}.yaml");
        mkfifo(&dir.join(&fifo));
        expected.push((fifo.clone(), "a FIFO"));
        let link = format!("{place}link{i}.yml");
        std::os::unix::fs::symlink(dir.join(&fifo), dir.join(&link)).expect("link");
        expected.push((link, "a FIFO"));
        let dev = format!("{place}null{i}.json");
        std::os::unix::fs::symlink("/dev/null", dir.join(&dev)).expect("link");
        expected.push((dev, "a character device"));
    }
    let _sock = std::os::unix::net::UnixListener::bind(dir.join("sub/sock.yaml")).expect("bind");
    expected.push(("sub/sock.yaml".into(), "a socket"));
    mkfifo(&dir.join("sub/kyverno-test.yaml"));
    expected.push(("sub/kyverno-test.yaml".into(), "a FIFO"));
    let d = dir.to_str().expect("utf-8");
    let (o, _) = sluice_within(60, &["policy", "test", d], None);
    let line = format!("warning: {d}/sub/kyverno-test.yaml: a FIFO, skipped");
    assert!(stderr(&o).contains(&line), "{}", stderr(&o));
    for args in [
        &["validate", d][..],
        &["policy", "apply", d, "-r", d],
        &["run", "-f", d],
    ] {
        let (o, _) = sluice_within(60, args, None);
        let err = stderr(&o);
        for (p, kind) in &expected {
            let line = format!("warning: {d}/{p}: {kind}, skipped");
            assert!(err.contains(&line), "{args:?}: no {line:?} in\n{err}");
        }
        if args[0] == "validate" {
            assert_eq!(o.status.code(), Some(0), "{err}");
            assert!(
                err.contains("0 error(s), 0 warning(s) in 1 object(s) from 1 file(s)"),
                "{err}"
            );
        }
    }
    // named explicitly, a FIFO is read (a writer feeds it)
    let fifo = dir.join("fifo0.yaml");
    let writer = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::write(fifo, CM))
    };
    let (o, _) = sluice_within(60, &["validate", fifo.to_str().expect("utf-8")], None);
    writer.join().expect("writer").expect("write to the FIFO");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("in 1 object(s) from 1 file(s)"),
        "{}",
        stderr(&o)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

// Issue 9 item 4: the CEL of cel interceptors is parsed by `sluice validate` (the Triggers
// webhook does not; the interceptor would fail every event), reported at its line with the
// field path.
#[test]
fn cel_interceptor_syntax_is_checked() {
    let yaml = "\
apiVersion: triggers.tekton.dev/v1beta1
kind: EventListener
metadata:
  name: el
spec:
  triggers:
  - name: t
    interceptors:
    - ref:
        name: cel
      params:
      - name: filter
        value: body.ref.startsWith('refs/heads/main') ||
      - name: overlays
        value:
        - key: branch
          expression: body.ref.split('/')[2]
    template:
      spec:
        resourcetemplates:
        - apiVersion: v1
          kind: ConfigMap
          metadata:
            generateName: x-
";
    let o = sluice(&["validate", "-"], Some(yaml));
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.starts_with(
            "-:13:9: error: EventListener/el: spec.triggers[0].interceptors[0].params[0].value: invalid CEL expression: 1:42: Syntax error: mismatched input '<EOF>' expecting "
        ),
        "{out}"
    );
    assert_eq!(out.lines().count(), 1, "{out}");
}
