//! AppProject checks made before every comparison and sync (pure), as Argo CD's
//! `AppProject.IsSourcePermitted`, `IsDestinationPermitted` and `IsGroupKindPermitted`
//! (pkg/apis/application/v1alpha1/app_project_types.go): globs over `sourceRepos`,
//! `destinations` (server or name, namespace; `!` negations deny), the cluster resource
//! allow list (cluster-scoped kinds need an entry), the namespace resource deny/allow lists.

use serde_json::Value;
use sluice_source::render::glob_match;

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

fn list(v: &Value, k: &str) -> Vec<Value> {
    v.get(k)
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// Argo CD's glob with `!` negation: any negated match denies, else any match allows.
fn globs_permit(patterns: &[&str], value: &str) -> bool {
    let mut allowed = false;
    for p in patterns {
        if let Some(neg) = p.strip_prefix('!') {
            if glob_match(neg, value) {
                return false;
            }
        } else if glob_match(p, value) {
            allowed = true;
        }
    }
    allowed
}

/// Whether the project lets `repo_url` be a source.
pub fn source_permitted(project: &Value, repo_url: &str) -> bool {
    let repos = list(&project["spec"], "sourceRepos");
    let pats: Vec<&str> = repos.iter().filter_map(Value::as_str).collect();
    let norm = |u: &str| {
        u.trim_end_matches('/')
            .trim_end_matches(".git")
            .to_lowercase()
    };
    globs_permit(&pats, repo_url) || pats.iter().any(|p| norm(p) == norm(repo_url))
}

/// Whether the project lets the Application deploy to (server or name, namespace).
pub fn destination_permitted(project: &Value, server: &str, name: &str, namespace: &str) -> bool {
    let dests = list(&project["spec"], "destinations");
    let mut allowed = false;
    for d in &dests {
        let (ds, dn, dns) = (s(d, "server"), s(d, "name"), s(d, "namespace"));
        let server_ok = if !ds.is_empty() {
            !server.is_empty() && glob_match(ds.trim_start_matches('!'), server)
        } else if !dn.is_empty() {
            !name.is_empty() && glob_match(dn.trim_start_matches('!'), name)
        } else {
            false
        };
        let ns_ok = glob_match(dns.trim_start_matches('!'), namespace);
        let negated = ds.starts_with('!') || dn.starts_with('!') || dns.starts_with('!');
        if negated {
            // a negated entry denies what it matches
            let hit = (if ds.starts_with('!') || dn.starts_with('!') {
                server_ok
            } else {
                true
            }) && (if dns.starts_with('!') { ns_ok } else { true });
            if hit && (server_ok || ns_ok) {
                return false;
            }
        } else if server_ok && ns_ok {
            allowed = true;
        }
    }
    allowed
}

fn gk_matches(entry: &Value, group: &str, kind: &str) -> bool {
    glob_match(s(entry, "group"), group) && glob_match(s(entry, "kind"), kind)
}

/// Whether the project lets the Application manage objects of group/kind (cluster-scoped
/// kinds need a `clusterResourceWhitelist` entry; namespaced ones may be restricted by
/// `namespaceResourceWhitelist`/`namespaceResourceBlacklist`; the cluster blacklist denies).
pub fn kind_permitted(project: &Value, group: &str, kind: &str, namespaced: bool) -> bool {
    let spec = &project["spec"];
    if namespaced {
        let deny = list(spec, "namespaceResourceBlacklist");
        if deny.iter().any(|e| gk_matches(e, group, kind)) {
            return false;
        }
        match spec
            .get("namespaceResourceWhitelist")
            .and_then(Value::as_array)
        {
            Some(allow) => allow.iter().any(|e| gk_matches(e, group, kind)),
            None => true,
        }
    } else {
        let deny = list(spec, "clusterResourceBlacklist");
        if deny.iter().any(|e| gk_matches(e, group, kind)) {
            return false;
        }
        list(spec, "clusterResourceWhitelist")
            .iter()
            .any(|e| gk_matches(e, group, kind))
    }
}

/// The project `default` as Argo CD creates it: everything permitted.
pub fn default_project(namespace: &str) -> Value {
    serde_json::json!({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "AppProject",
        "metadata": {"name": "default", "namespace": namespace},
        "spec": {
            "sourceRepos": ["*"],
            "destinations": [{"server": "*", "namespace": "*"}],
            "clusterResourceWhitelist": [{"group": "*", "kind": "*"}]
        }
    })
}

/// The first violation of the Application `spec` against `project` (InvalidSpecError).
pub fn check_app(project: &Value, spec: &Value) -> Result<(), String> {
    let pname = project["metadata"]["name"].as_str().unwrap_or("");
    let mut repos: Vec<String> = Vec::new();
    if let Some(src) = spec.get("source") {
        repos.push(s(src, "repoURL").to_string());
    }
    for src in spec
        .get("sources")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        repos.push(s(src, "repoURL").to_string());
    }
    for r in repos {
        if !source_permitted(project, &r) {
            return Err(format!(
                "application repo {r} is not permitted in project '{pname}'"
            ));
        }
    }
    let d = &spec["destination"];
    let (server, name, ns) = (s(d, "server"), s(d, "name"), s(d, "namespace"));
    // Argo CD resolves a destination name to its server; in-cluster is the local API
    let server = if server.is_empty() && name == "in-cluster" {
        IN_CLUSTER
    } else {
        server
    };
    let name = if name.is_empty() && server == IN_CLUSTER {
        "in-cluster"
    } else {
        name
    };
    if !destination_permitted(project, server, name, ns) {
        return Err(format!(
            "application destination server '{server}' and namespace '{ns}' do not match any of the allowed destinations in project '{pname}'"
        ));
    }
    Ok(())
}

pub const IN_CLUSTER: &str = "https://kubernetes.default.svc";

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // docs user-guide/projects.md: sourceRepos, destinations, resource allow/deny lists
    #[test]
    fn project_rules() {
        let p = json!({"metadata": {"name": "team"}, "spec": {
            "sourceRepos": ["https://git.example.com/team/*", "!https://git.example.com/team/secret"],
            "destinations": [{"server": "https://kubernetes.default.svc", "namespace": "team-*"}],
            "clusterResourceWhitelist": [{"group": "", "kind": "Namespace"}],
            "namespaceResourceBlacklist": [{"group": "", "kind": "ResourceQuota"}]}});
        assert!(source_permitted(&p, "https://git.example.com/team/app"));
        assert!(!source_permitted(&p, "https://git.example.com/team/secret"));
        assert!(!source_permitted(&p, "https://other/x"));
        assert!(destination_permitted(&p, IN_CLUSTER, "", "team-a"));
        assert!(!destination_permitted(&p, IN_CLUSTER, "", "kube-system"));
        assert!(kind_permitted(&p, "", "Namespace", false));
        assert!(!kind_permitted(
            &p,
            "rbac.authorization.k8s.io",
            "ClusterRole",
            false
        ));
        assert!(!kind_permitted(&p, "", "ResourceQuota", true));
        assert!(kind_permitted(&p, "apps", "Deployment", true));
        let spec = json!({"source": {"repoURL": "https://git.example.com/team/app"},
                          "destination": {"server": IN_CLUSTER, "namespace": "prod"}});
        let e = check_app(&p, &spec).expect_err("refused");
        assert!(
            e.contains("do not match any of the allowed destinations"),
            "{e}"
        );
        let d = default_project("argocd");
        assert!(check_app(&d, &spec).is_ok());
        assert!(kind_permitted(&d, "", "Namespace", false));
    }
}
