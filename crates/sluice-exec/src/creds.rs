//! Tekton's credential initialisation (docs/auth.md; tektoncd/pipeline `pkg/credentials`):
//! Secrets of the run's ServiceAccount annotated `tekton.dev/git-*` or `tekton.dev/docker-*`
//! become `~/.gitconfig` + `~/.git-credentials`, `~/.ssh/*` and `~/.docker/config.json` in the
//! step's HOME.

use std::fmt::Write as _;
use std::path::Path;

use sluice_pipeline::plan::{Catalog, SecretData};

pub fn base64_encode(b: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(b.len().div_ceil(3) * 4);
    for chunk in b.chunks(3) {
        let n = match chunk.len() {
            3 => (u32::from(chunk[0]) << 16) | (u32::from(chunk[1]) << 8) | u32::from(chunk[2]),
            2 => (u32::from(chunk[0]) << 16) | (u32::from(chunk[1]) << 8),
            _ => u32::from(chunk[0]) << 16,
        };
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn get(s: &SecretData, k: &str) -> String {
    s.data
        .get(k)
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .unwrap_or_default()
}

/// The files credential initialisation writes, relative to HOME.
pub fn credential_files(cat: &Catalog, service_account: &str) -> Vec<(String, Vec<u8>)> {
    let Some(names) = cat.service_accounts.get(service_account) else {
        return vec![];
    };
    let mut gitconfig = String::new();
    let mut git_credentials = String::new();
    let mut ssh_config = String::new();
    let mut known_hosts = String::new();
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let mut auths = serde_json::Map::new();
    for name in names {
        let Some(s) = cat.secrets.get(name) else {
            continue;
        };
        for (k, url) in &s.annotations {
            if k.starts_with("tekton.dev/git-") {
                match s.type_.as_str() {
                    "kubernetes.io/basic-auth" => {
                        let user = get(s, "username");
                        let pass = get(s, "password");
                        let (scheme, host) = url.split_once("://").unwrap_or(("https", url));
                        let _ = writeln!(gitconfig, "[credential \"{url}\"]\n\tusername = {user}");
                        let _ = writeln!(git_credentials, "{scheme}://{user}:{pass}@{host}");
                    }
                    "kubernetes.io/ssh-auth" => {
                        let host = url.split(':').next().unwrap_or(url);
                        let key_file = format!(".ssh/id_{name}");
                        files.push((key_file.clone(), get(s, "ssh-privatekey").into_bytes()));
                        let _ = writeln!(
                            ssh_config,
                            "Host {host}\n    HostName {host}\n    IdentityFile ~/{key_file}"
                        );
                        let kh = get(s, "known_hosts");
                        if !kh.is_empty() {
                            known_hosts.push_str(&kh);
                            known_hosts.push('\n');
                        }
                    }
                    _ => {}
                }
            } else if k.starts_with("tekton.dev/docker-") && s.type_ == "kubernetes.io/basic-auth" {
                let auth = base64_encode(
                    format!("{}:{}", get(s, "username"), get(s, "password")).as_bytes(),
                );
                auths.insert(url.clone(), serde_json::json!({ "auth": auth }));
            }
        }
        if s.type_ == "kubernetes.io/dockerconfigjson"
            && let Ok(v) = serde_json::from_slice::<serde_json::Value>(
                s.data
                    .get(".dockerconfigjson")
                    .map_or(&[][..], |v| v.as_slice()),
            )
            && let Some(a) = v.get("auths").and_then(|a| a.as_object())
        {
            auths.extend(a.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
    }
    if !git_credentials.is_empty() {
        files.push((
            ".gitconfig".into(),
            format!("[credential]\n\thelper = store\n{gitconfig}").into_bytes(),
        ));
        files.push((".git-credentials".into(), git_credentials.into_bytes()));
    }
    if !ssh_config.is_empty() {
        files.push((".ssh/config".into(), ssh_config.into_bytes()));
        if !known_hosts.is_empty() {
            files.push((".ssh/known_hosts".into(), known_hosts.into_bytes()));
        }
    }
    if !auths.is_empty() {
        files.push((
            ".docker/config.json".into(),
            serde_json::to_vec_pretty(&serde_json::json!({ "auths": auths })).unwrap_or_default(),
        ));
    }
    files
}

/// Writes the credential files under `home` (private permissions).
pub fn write_credentials(home: &Path, files: &[(String, Vec<u8>)]) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    for (rel, data) in files {
        let p = home.join(rel);
        if let Some(d) = p.parent() {
            std::fs::create_dir_all(d)?;
        }
        std::fs::write(&p, data)?;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn base64() {
        assert_eq!(base64_encode(b"user:pass"), "dXNlcjpwYXNz");
        assert_eq!(base64_encode(b"ab"), "YWI=");
    }

    // docs/auth.md "Configuring basic-auth authentication for Git" and "... for Docker":
    // annotated basic-auth Secrets of the ServiceAccount become ~/.gitconfig,
    // ~/.git-credentials and ~/.docker/config.json.
    #[test]
    fn git_and_docker_basic_auth() {
        let mut cat = Catalog::default();
        let mk = |ann: &str, url: &str| SecretData {
            type_: "kubernetes.io/basic-auth".into(),
            annotations: BTreeMap::from([(ann.to_owned(), url.to_owned())]),
            data: BTreeMap::from([
                ("username".to_owned(), b"u".to_vec()),
                ("password".to_owned(), b"p".to_vec()),
            ]),
        };
        cat.secrets
            .insert("g".into(), mk("tekton.dev/git-0", "https://github.com"));
        cat.secrets
            .insert("d".into(), mk("tekton.dev/docker-0", "https://gcr.io"));
        cat.service_accounts
            .insert("sa".into(), vec!["g".into(), "d".into()]);
        let files: BTreeMap<String, String> = credential_files(&cat, "sa")
            .into_iter()
            .map(|(k, v)| (k, String::from_utf8(v).unwrap()))
            .collect();
        assert_eq!(files[".git-credentials"], "https://u:p@github.com\n");
        assert!(files[".gitconfig"].contains("helper = store"));
        assert!(files[".docker/config.json"].contains("\"auth\": \"dTpw\""));
        assert!(credential_files(&cat, "default").is_empty());
    }
}
