//! The OCI registry inside a real `sluice serve`, driven by real clients: Debian's
//! `skopeo` copies an OCI image layout (written here) in, across repositories (blob
//! mount) and out, inspects, lists tags and deletes; real Helm (helm-sdkpy, Helm's Go
//! library, via scripts/helm-oci.py) pushes and pulls a chart; `sluice helm
//! package|push|pull` round-trips with both. Bad input gets the spec's error codes
//! (opencontainers/distribution-spec spec.md "Error Codes"): a wrong digest, a bad name,
//! no credentials.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::serve_triggers::Serve;

fn skopeo() -> bool {
    Command::new("skopeo")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn sha256(b: &[u8]) -> String {
    // the registry crate's digest, computed by the test from the bytes
    sluice_registry::Digest::sha256_of(b).hex().to_string()
}

/// A one-file tar (ustar) of `name` with `data`.
fn tar_of(name: &str, data: &[u8]) -> Vec<u8> {
    let mut h = [0u8; 512];
    h[..name.len()].copy_from_slice(name.as_bytes());
    h[100..108].copy_from_slice(b"0000644\0");
    h[108..116].copy_from_slice(b"0000000\0");
    h[116..124].copy_from_slice(b"0000000\0");
    h[124..136].copy_from_slice(format!("{:011o}\0", data.len()).as_bytes());
    h[136..148].copy_from_slice(b"00000000000\0");
    h[156] = b'0';
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|b| u32::from(*b)).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    let mut out = h.to_vec();
    out.extend_from_slice(data);
    out.resize(out.len().div_ceil(512) * 512 + 1024, 0);
    out
}

fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let mut child = Command::new("gzip")
        .args(["-n", "-c"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("gzip runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(data)
        .expect("gzip input");
    child.wait_with_output().expect("gzip").stdout
}

/// Writes an OCI image layout (image-spec image-layout.md) with one image tagged `tag`:
/// returns (manifest digest, layer bytes).
fn write_layout(dir: &Path, tag: &str, payload: &[u8]) -> (String, Vec<u8>) {
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).expect("mkdir");
    // gzip-compressed, so that skopeo copies it unchanged (it compresses plain tar layers
    // for registries, which would change the digests)
    let tar = tar_of("hello.txt", payload);
    let layer = gzip(&tar);
    let ld = sha256(&layer);
    std::fs::write(blobs.join(&ld), &layer).expect("layer");
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{}", sha256(&tar))]},
    }))
    .expect("json");
    let cd = sha256(&config);
    std::fs::write(blobs.join(&cd), &config).expect("config");
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": format!("sha256:{cd}"), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": format!("sha256:{ld}"), "size": layer.len()}],
    }))
    .expect("json");
    let md = sha256(&manifest);
    std::fs::write(blobs.join(&md), &manifest).expect("manifest");
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).expect("layout");
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": format!("sha256:{md}"), "size": manifest.len(),
            "annotations": {"org.opencontainers.image.ref.name": tag},
        }],
    });
    std::fs::write(dir.join("index.json"), index.to_string()).expect("index");
    (format!("sha256:{md}"), layer)
}

fn token(s: &Serve) -> String {
    std::fs::read_to_string(s.dir.join("token"))
        .expect("token")
        .trim()
        .to_string()
}

fn host(s: &Serve) -> String {
    s.url
        .split("://")
        .nth(1)
        .expect("url has a scheme")
        .to_string()
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("runs")
}

fn ok(o: Output, what: &str) -> String {
    assert!(
        o.status.success(),
        "{what} failed: {}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// curl with the spec's JSON answer: (status, body).
fn curl(s: &Serve, args: &[&str]) -> (u16, serde_json::Value) {
    let o = run(Command::new("curl")
        .args(["-sk", "-w", "\n%{http_code}"])
        .args(args));
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    let _ = s;
    (
        code.trim().parse().unwrap_or(0),
        serde_json::from_str(body).unwrap_or(serde_json::Value::Null),
    )
}

fn certs_dir(s: &Serve) -> PathBuf {
    // skopeo's --cert-dir: the CA the kubeconfig trusts, as ca.crt
    let d = s.dir.join("certs.d");
    std::fs::create_dir_all(&d).expect("mkdir");
    let kc = std::fs::read_to_string(s.dir.join("kubeconfig")).expect("kubeconfig");
    let b64 = kc
        .lines()
        .find_map(|l| l.trim().strip_prefix("certificate-authority-data: "))
        .expect("CA in kubeconfig");
    use base64::Engine as _;
    let pem = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .expect("base64");
    std::fs::write(d.join("ca.crt"), pem).expect("ca.crt");
    d
}

#[test]
fn skopeo_copies_images_in_across_and_out() {
    if !skopeo() {
        eprintln!("skipping: skopeo is not installed (scripts/deps installs it)");
        return;
    }
    let s = Serve::start("registry-skopeo", &[]);
    let (tok, host) = (token(&s), host(&s));
    let creds = format!("any:{tok}");
    let certs = certs_dir(&s);
    let certs = certs.display().to_string();
    let layout = s.dir.join("layout");
    let (md, layer) = write_layout(&layout, "v1", b"hello from sluice\n");

    // push: verified TLS with the server's CA, basic auth with the token
    ok(
        run(Command::new("skopeo").args([
            "copy",
            "--dest-cert-dir",
            &certs,
            "--dest-creds",
            &creds,
            &format!("oci:{}:v1", layout.display()),
            &format!("docker://{host}/demo/app:v1"),
        ])),
        "skopeo copy in",
    );
    let inspect = ok(
        run(Command::new("skopeo").args([
            "inspect",
            "--raw",
            "--cert-dir",
            &certs,
            "--creds",
            &creds,
            &format!("docker://{host}/demo/app:v1"),
        ])),
        "skopeo inspect",
    );
    // skopeo copies the manifest as is: same bytes, same digest
    assert_eq!(format!("sha256:{}", sha256(inspect.as_bytes())), md);

    // across repositories: skopeo mounts the blobs (the spec's cross-repository mount)
    ok(
        run(Command::new("skopeo").args([
            "copy",
            "--src-tls-verify=false",
            "--dest-tls-verify=false",
            "--src-creds",
            &creds,
            "--dest-creds",
            &creds,
            &format!("docker://{host}/demo/app:v1"),
            &format!("docker://{host}/other/app:v2"),
        ])),
        "skopeo copy across",
    );
    let tags = ok(
        run(Command::new("skopeo").args([
            "list-tags",
            "--tls-verify=false",
            "--creds",
            &creds,
            &format!("docker://{host}/other/app"),
        ])),
        "skopeo list-tags",
    );
    let tags: serde_json::Value = serde_json::from_str(&tags).expect("json");
    assert_eq!(tags["Tags"], serde_json::json!(["v2"]));

    // pull back out into a fresh layout: the layer's bytes come back unchanged
    let out = s.dir.join("out");
    ok(
        run(Command::new("skopeo").args([
            "copy",
            "--src-cert-dir",
            &certs,
            "--src-creds",
            &creds,
            &format!("docker://{host}/other/app:v2"),
            &format!("oci:{}:v2", out.display()),
        ])),
        "skopeo copy out",
    );
    let got = std::fs::read(out.join("blobs/sha256").join(sha256(&layer))).expect("layer pulled");
    assert_eq!(got, layer);

    // catalog and delete
    let (code, cat) = curl(&s, &["-u", &creds, &format!("https://{host}/v2/_catalog")]);
    assert_eq!(
        (code, cat),
        (
            200,
            serde_json::json!({"repositories": ["demo/app", "other/app"]})
        )
    );
    ok(
        run(Command::new("skopeo").args([
            "delete",
            "--tls-verify=false",
            "--creds",
            &creds,
            &format!("docker://{host}/other/app:v2"),
        ])),
        "skopeo delete",
    );
    let o = run(Command::new("skopeo").args([
        "inspect",
        "--tls-verify=false",
        "--creds",
        &creds,
        &format!("docker://{host}/other/app:v2"),
    ]));
    assert!(!o.status.success(), "deleted manifest still there");

    // unauthenticated: skopeo is refused, the registry answers the spec's 401
    let o = run(Command::new("skopeo").args([
        "inspect",
        "--tls-verify=false",
        &format!("docker://{host}/demo/app:v1"),
    ]));
    assert!(!o.status.success());
    let (code, body) = curl(&s, &[&format!("https://{host}/v2/demo/app/tags/list")]);
    assert_eq!(
        (code, body["errors"][0]["code"].as_str()),
        (401, Some("UNAUTHORIZED"))
    );
}

#[test]
fn bad_uploads_get_spec_errors_and_store_nothing() {
    let s = Serve::start("registry-bad", &[]);
    let (tok, host) = (token(&s), host(&s));
    let creds = format!("any:{tok}");
    let wrong = format!("sha256:{}", sha256(b"not this"));
    let (code, body) = curl(
        &s,
        &[
            "-u",
            &creds,
            "-X",
            "POST",
            "--data-binary",
            "hello",
            "-H",
            "Content-Type: application/octet-stream",
            &format!("https://{host}/v2/app/blobs/uploads/?digest={wrong}"),
        ],
    );
    assert_eq!(
        (code, body["errors"][0]["code"].as_str()),
        (400, Some("DIGEST_INVALID"))
    );
    let blobs = s.dir.join("registry/blobs/sha256");
    assert_eq!(
        std::fs::read_dir(&blobs).map(|d| d.count()).unwrap_or(0),
        0,
        "a refused upload keeps nothing"
    );
    let (code, body) = curl(
        &s,
        &[
            "-u",
            &creds,
            &format!("https://{host}/v2/Bad..Name/tags/list"),
        ],
    );
    assert_eq!(
        (code, body["errors"][0]["code"].as_str()),
        (400, Some("NAME_INVALID"))
    );
    let (code, body) = curl(
        &s,
        &[
            "-u",
            &creds,
            "-X",
            "PUT",
            "--data-binary",
            "{",
            "-H",
            "Content-Type: application/vnd.oci.image.manifest.v1+json",
            &format!("https://{host}/v2/app/manifests/v1"),
        ],
    );
    assert_eq!(
        (code, body["errors"][0]["code"].as_str()),
        (400, Some("MANIFEST_INVALID"))
    );
    let (code, body) = curl(
        &s,
        &[
            "-u",
            "any:wrong",
            "-X",
            "POST",
            &format!("https://{host}/v2/app/blobs/uploads/"),
        ],
    );
    assert_eq!(
        (code, body["errors"][0]["code"].as_str()),
        (401, Some("UNAUTHORIZED"))
    );
}

fn write_chart(dir: &Path, version: &str) {
    std::fs::create_dir_all(dir.join("templates")).expect("mkdir");
    std::fs::write(
        dir.join("Chart.yaml"),
        format!("apiVersion: v2\nname: demo\nversion: {version}\ndescription: A demo chart\n"),
    )
    .expect("Chart.yaml");
    std::fs::write(dir.join("values.yaml"), "replicas: 2\n").expect("values");
    std::fs::write(
        dir.join("templates/cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n  replicas: {{ .Values.replicas | quote }}\n",
    )
    .expect("template");
    std::fs::write(dir.join(".helmignore"), "*.bak\n").expect("helmignore");
    std::fs::write(dir.join("notes.bak"), "ignored").expect("bak");
}

fn sluice_cmd(s: &Serve) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sluice"));
    c.env("KUBECONFIG", s.dir.join("kubeconfig"));
    c
}

fn helm_sdkpy(s: &Serve, args: &[&str]) -> Output {
    let script = crate::common::repo_root().join("scripts/helm-oci.py");
    run(Command::new("python3")
        .arg(script)
        .arg(s.dir.join("kubeconfig"))
        .args(args))
}

#[test]
fn sluice_helm_package_push_pull_round_trip() {
    let s = Serve::start("registry-helm", &[]);
    let host = host(&s);
    let chart = s.dir.join("chart");
    write_chart(&chart, "0.1.0+build.1");
    let dist = s.dir.join("dist");
    let out = ok(
        run(sluice_cmd(&s)
            .args(["helm", "package"])
            .arg(&chart)
            .arg("-d")
            .arg(&dist)),
        "sluice helm package",
    );
    let tgz = dist.join("demo-0.1.0+build.1.tgz");
    assert!(out.contains(&tgz.display().to_string()), "{out}");
    let packaged = std::fs::read(&tgz).expect("tgz");
    // deterministic: packaging again gives the same bytes
    let again = s.dir.join("again");
    ok(
        run(sluice_cmd(&s)
            .args(["helm", "package"])
            .arg(&chart)
            .arg("-d")
            .arg(&again)),
        "package again",
    );
    assert_eq!(
        std::fs::read(again.join("demo-0.1.0+build.1.tgz")).expect("tgz"),
        packaged
    );
    let out = ok(
        run(sluice_cmd(&s)
            .args(["helm", "push"])
            .arg(&tgz)
            .arg(format!("oci://{host}/charts"))),
        "sluice helm push",
    );
    assert!(
        out.contains(&format!("Pushed: {host}/charts/demo:0.1.0_build.1")),
        "{out}"
    );
    let pulled = s.dir.join("pulled");
    let out = ok(
        run(sluice_cmd(&s)
            .args([
                "helm",
                "pull",
                &format!("oci://{host}/charts/demo"),
                "--version",
                "0.1.0+build.1",
                "-d",
            ])
            .arg(&pulled)),
        "sluice helm pull",
    );
    assert!(out.contains("Digest: sha256:"), "{out}");
    assert_eq!(
        std::fs::read(pulled.join("demo-0.1.0+build.1.tgz")).expect("pulled"),
        packaged
    );
    // the packaged chart renders (sluice helm template reads the .tgz)
    let rendered = ok(
        run(sluice_cmd(&s)
            .args(["helm", "template", "rel"])
            .arg(pulled.join("demo-0.1.0+build.1.tgz"))),
        "template of the pulled chart",
    );
    assert!(rendered.contains("replicas: \"2\""), "{rendered}");
    assert!(!packaged.is_empty());
    // without credentials: refused with the registry's error
    let o = run(Command::new(env!("CARGO_BIN_EXE_sluice"))
        .env_remove("KUBECONFIG")
        .current_dir(&s.dir)
        .args(["helm", "push"])
        .arg(&tgz)
        .arg(format!("oci://{host}/charts"))
        .arg("--plain-http"));
    assert!(!o.status.success());
}

#[test]
fn real_helm_pushes_and_pulls_with_sluice() {
    let probe = run(Command::new("python3").args(["-c", "import cffi, yaml"]));
    if !probe.status.success() {
        eprintln!("skipping: python3 with cffi and pyyaml is needed for helm-sdkpy");
        return;
    }
    // plain HTTP on loopback: helm-sdkpy's registry client cannot be given the server's
    // CA (its push options are not applied to the client), and skipping verification is
    // not honoured either
    let s = Serve::start("registry-realhelm", &["--plain-http"]);
    let host = host(&s);
    let chart = s.dir.join("chart");
    write_chart(&chart, "1.2.3");
    let dist = s.dir.join("dist");
    std::fs::create_dir_all(&dist).expect("mkdir");
    // real Helm packages and pushes; sluice pulls what it pushed
    let o = helm_sdkpy(
        &s,
        &[
            "package",
            &chart.display().to_string(),
            &dist.display().to_string(),
        ],
    );
    ok(o, "helm package (helm-sdkpy)");
    let tgz = dist.join("demo-1.2.3.tgz");
    ok(
        helm_sdkpy(
            &s,
            &[
                "push",
                &tgz.display().to_string(),
                &format!("oci://{host}/real"),
            ],
        ),
        "helm push (helm-sdkpy)",
    );
    let pulled = s.dir.join("by-sluice");
    ok(
        run(sluice_cmd(&s)
            .args([
                "helm",
                "pull",
                "--plain-http",
                &format!("oci://{host}/real/demo"),
                "-d",
            ])
            .arg(&pulled)),
        "sluice helm pull of Helm's push",
    );
    assert_eq!(
        std::fs::read(pulled.join("demo-1.2.3.tgz")).expect("pulled"),
        std::fs::read(&tgz).expect("tgz")
    );
    // sluice packages and pushes; real Helm pulls it
    let mine = s.dir.join("mine");
    write_chart(&mine, "2.0.0");
    let sdist = s.dir.join("sdist");
    ok(
        run(sluice_cmd(&s)
            .args(["helm", "package"])
            .arg(&mine)
            .arg("-d")
            .arg(&sdist)),
        "sluice helm package",
    );
    ok(
        run(sluice_cmd(&s)
            .args(["helm", "push", "--plain-http"])
            .arg(sdist.join("demo-2.0.0.tgz"))
            .arg(format!("oci://{host}/real"))),
        "sluice helm push",
    );
    // real Helm fetches it through its OCI client (helm-sdkpy's Pull crashes in its shim,
    // see scripts/helm-oci.py; `show chart` downloads and loads the same artifact)
    let shown = ok(
        helm_sdkpy(&s, &["show", &format!("oci://{host}/real/demo:2.0.0")]),
        "helm show chart (helm-sdkpy) of sluice's push",
    );
    assert!(
        shown.contains("name: demo") && shown.contains("version: 2.0.0"),
        "{shown}"
    );
}

/// curl returning (status, headers, body bytes).
fn curl_raw(args: &[&str]) -> (u16, String, Vec<u8>) {
    let hdrs = std::env::temp_dir().join(format!(
        "sluice-curl-headers-{}-{}",
        std::process::id(),
        args.len()
    ));
    let o = run(Command::new("curl")
        .args(["-sk", "-D"])
        .arg(&hdrs)
        .args(["-w", "\n%{http_code}"])
        .args(args));
    let headers = std::fs::read_to_string(&hdrs).unwrap_or_default();
    let _ = std::fs::remove_file(&hdrs);
    let out = o.stdout;
    let cut = out.iter().rposition(|b| *b == b'\n').unwrap_or(0);
    let code = String::from_utf8_lossy(&out[cut..])
        .trim()
        .parse()
        .unwrap_or(0);
    (code, headers, out[..cut].to_vec())
}

fn header_of<'a>(headers: &'a str, name: &str) -> Option<&'a str> {
    headers.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

// The Docker Registry token flow (distribution docs/spec/auth/token.md): the 401 names the
// realm, service and scope; the realm trades the server's credentials for a token; real
// clients (skopeo, whose debug log shows the token request) go through it. Blob GETs
// answer Range requests as distribution does (Go's http.ServeContent): 206 and 416.
#[test]
fn bearer_token_flow_and_blob_ranges() {
    if !skopeo() {
        eprintln!("skipping: skopeo is not installed (scripts/deps installs it)");
        return;
    }
    let s = Serve::start("registry-bearer", &[]);
    let (tok, host) = (token(&s), host(&s));
    let certs = certs_dir(&s).display().to_string();
    let layout = s.dir.join("layout");
    let payload: Vec<u8> = (0..20000u32).map(|i| (i * 7 % 251) as u8).collect();
    let (_md, layer) = write_layout(&layout, "v1", &payload);
    let o = run(Command::new("skopeo").args([
        "--debug",
        "copy",
        "--dest-cert-dir",
        &certs,
        "--dest-creds",
        &format!("any:{tok}"),
        &format!("oci:{}:v1", layout.display()),
        &format!("docker://{host}/demo/app:v1"),
    ]));
    let log = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "skopeo copy: {log}");
    assert!(
        log.contains("/v2/token?") && log.contains("repository%3Ademo%2Fapp%3Apull%2Cpush")
            || log.contains("repository:demo/app:pull,push"),
        "skopeo did not use the bearer token flow:\n{log}"
    );

    // the challenge, then the realm
    let (code, headers, _) = curl_raw(&[&format!("https://{host}/v2/demo/app/tags/list")]);
    assert_eq!(code, 401);
    assert_eq!(
        header_of(&headers, "www-authenticate"),
        Some(
            format!(
                "Bearer realm=\"https://{host}/v2/token\",service=\"sluice-registry\",scope=\"repository:demo/app:pull\""
            )
            .as_str()
        )
    );
    let (code, _, body) = curl_raw(&[
        "-u",
        &format!("any:{tok}"),
        &format!("https://{host}/v2/token?service=sluice-registry&scope=repository:demo/app:pull"),
    ]);
    assert_eq!(code, 200);
    let t: serde_json::Value = serde_json::from_slice(&body).expect("token JSON");
    let bearer = format!(
        "Authorization: Bearer {}",
        t["token"].as_str().expect("token")
    );
    assert!(t["expires_in"].as_u64().is_some_and(|e| e > 0));
    let (code, _, body) = curl_raw(&[
        "-H",
        &bearer,
        &format!("https://{host}/v2/demo/app/tags/list"),
    ]);
    assert_eq!(code, 200, "{}", String::from_utf8_lossy(&body));
    // the pull-only token cannot push
    let (code, headers, _) = curl_raw(&[
        "-X",
        "POST",
        "-H",
        &bearer,
        &format!("https://{host}/v2/demo/app/blobs/uploads/"),
    ]);
    assert_eq!(code, 401);
    assert!(
        header_of(&headers, "www-authenticate").is_some_and(|c| c.contains("insufficient_scope")),
        "{headers}"
    );

    // ranges of the layer blob
    let blob = format!("https://{host}/v2/demo/app/blobs/sha256:{}", sha256(&layer));
    let (code, headers, body) = curl_raw(&["-H", &bearer, "-H", "Range: bytes=5-104", &blob]);
    assert_eq!(code, 206);
    assert_eq!(body, layer[5..105]);
    let want = format!("bytes 5-104/{}", layer.len());
    assert_eq!(header_of(&headers, "content-range"), Some(want.as_str()));
    let (code, _, body) = curl_raw(&["-H", &bearer, "-H", "Range: bytes=-7", &blob]);
    assert_eq!((code, body.as_slice()), (206, &layer[layer.len() - 7..]));
    let past = format!("Range: bytes={}-", layer.len());
    let (code, headers, _) = curl_raw(&["-H", &bearer, "-H", &past, &blob]);
    assert_eq!(code, 416);
    let want = format!("bytes */{}", layer.len());
    assert_eq!(header_of(&headers, "content-range"), Some(want.as_str()));
    // curl's own resume (-C) is a Range request too
    let part = s.dir.join("part");
    std::fs::write(&part, &layer[..layer.len() / 2]).expect("part");
    let o = run(Command::new("curl")
        .args(["-sk", "-H", &bearer, "-C", "-", "-o"])
        .arg(&part)
        .arg(&blob));
    assert!(o.status.success());
    assert_eq!(std::fs::read(&part).expect("resumed"), layer);
}

// Users and roles (the auth issue): a token-file user's credentials work at the registry,
// and RBAC on `repositories.registry.sluice.dev` (get: pull, create: push) decides, a
// Role in namespace NS covering the repositories NS/...; skopeo pushes as the user
// through the token flow; a user without a binding is refused.
#[test]
fn registry_users_and_roles() {
    if !skopeo() || !crate::apiserver_kubectl::kubectl_available() {
        eprintln!("skipping: skopeo and kubectl are needed");
        return;
    }
    let dir = crate::apiserver_kubectl::temp_dir("registry-users-tokens");
    let tokens = dir.join("tokens.csv");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(&tokens, "alice-token,alice,2001\nbob-token,bob,2002\n").expect("tokens");
    let path = tokens.display().to_string();
    let s = Serve::start("registry-users", &["--token-auth-file", &path]);
    let host = host(&s);
    s.ok(&["create", "namespace", "team"], None);
    s.ok(
        &["apply", "-f", "-"],
        Some(
            r#"apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: registry-push, namespace: team}
rules:
- apiGroups: [registry.sluice.dev]
  resources: [repositories]
  verbs: [get, create]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: alice-push, namespace: team}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: registry-push}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: alice}
"#,
        ),
    );
    let certs = certs_dir(&s).display().to_string();
    let layout = s.dir.join("layout");
    write_layout(&layout, "v1", b"pushed by alice\n");
    let push = |creds: &str, repo: &str| {
        run(Command::new("skopeo").args([
            "copy",
            "--dest-cert-dir",
            &certs,
            "--dest-creds",
            creds,
            &format!("oci:{}:v1", layout.display()),
            &format!("docker://{host}/{repo}:v1"),
        ]))
    };
    ok(
        push("alice:alice-token", "team/app"),
        "alice pushes to team/app",
    );
    let o = run(Command::new("skopeo").args([
        "inspect",
        "--cert-dir",
        &certs,
        "--creds",
        "alice:alice-token",
        &format!("docker://{host}/team/app:v1"),
    ]));
    ok(o, "alice pulls team/app");
    // outside her namespace, and bob anywhere: refused
    assert!(!push("alice:alice-token", "other/app").status.success());
    assert!(!push("bob:bob-token", "team/app").status.success());
    // the realm grants bob nothing of team/app, alice pull and push
    let (code, _, body) = curl_raw(&[
        "-u",
        "bob:bob-token",
        &format!(
            "https://{host}/v2/token?service=sluice-registry&scope=repository:team/app:pull,push"
        ),
    ]);
    assert_eq!(code, 200);
    let t: serde_json::Value = serde_json::from_slice(&body).expect("json");
    let bearer = format!(
        "Authorization: Bearer {}",
        t["token"].as_str().expect("token")
    );
    let (code, _, _) = curl_raw(&[
        "-H",
        &bearer,
        &format!("https://{host}/v2/team/app/tags/list"),
    ]);
    assert_eq!(code, 401);
    let (code, _, body) = curl_raw(&[
        "-u",
        "alice:alice-token",
        &format!(
            "https://{host}/v2/token?service=sluice-registry&scope=repository:team/app:pull,push,delete"
        ),
    ]);
    assert_eq!(code, 200);
    let t: serde_json::Value = serde_json::from_slice(&body).expect("json");
    let bearer = format!(
        "Authorization: Bearer {}",
        t["token"].as_str().expect("token")
    );
    let (code, _, body) = curl_raw(&[
        "-H",
        &bearer,
        &format!("https://{host}/v2/team/app/tags/list"),
    ]);
    assert_eq!(code, 200, "{}", String::from_utf8_lossy(&body));
    // no delete verb in her Role: the token did not get it
    let (code, _, _) = curl_raw(&[
        "-X",
        "DELETE",
        "-H",
        &bearer,
        &format!("https://{host}/v2/team/app/manifests/v1"),
    ]);
    assert_eq!(code, 401);
    // a wrong password is no user
    let (code, _, _) = curl_raw(&[
        "-u",
        "alice:nope",
        &format!("https://{host}/v2/token?scope=repository:team/app:pull"),
    ]);
    assert_eq!(code, 401);
}
