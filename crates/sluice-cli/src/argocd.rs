//! `sluice app|repo|cluster|proj` as the argocd CLI prints and acts (argoproj/argo-cd
//! cmd/argocd/commands/app.go, repo.go, cluster.go, project.go). Pure: Applications and
//! Secrets in, text or the JSON to write out. The argocd CLI pads its tabwriters with 2.

use serde_json::{Value, json};

use crate::table::render_padded;

fn s<'a>(v: &'a Value, ptr: &str) -> &'a str {
    v.pointer(ptr).and_then(Value::as_str).unwrap_or("")
}

fn table(rows: &[Vec<String>]) -> String {
    render_padded(rows, "", 2)
}

/// `printOpFmtStr = "%-20s%s\n"`.
fn line(out: &mut String, key: &str, value: &str) {
    out.push_str(&format!("{key:<20}{value}\n"));
}

/// The first `n` characters of `s` (all of it when shorter).
fn head(s: &str, n: usize) -> &str {
    s.char_indices().nth(n).map_or(s, |(i, _)| &s[..i])
}

/// Go's `time.Time.String()` of an RFC 3339 UTC time (`2006-01-02 15:04:05 +0000 UTC`),
/// what argocd prints for metav1.Time values; `<nil>` when absent.
pub fn go_time(v: &Value) -> String {
    match v.as_str() {
        Some(t) if t.is_ascii() && t.len() >= 19 => {
            format!("{} {} +0000 UTC", &t[..10], &t[11..19])
        }
        Some(t) => t.to_owned(),
        None => "<nil>".into(),
    }
}

/// The first source: `spec.source`, else `spec.sources[0]` (argo `Spec.GetSource()`).
pub fn source(app: &Value) -> &Value {
    match app.pointer("/spec/source") {
        Some(v) if v.is_object() => v,
        _ => app.pointer("/spec/sources/0").unwrap_or(&Value::Null),
    }
}

fn sources(app: &Value) -> Vec<&Value> {
    match app.pointer("/spec/sources").and_then(Value::as_array) {
        Some(a) if !a.is_empty() => a.iter().collect(),
        _ => vec![source(app)],
    }
}

/// `getServer`: the destination server, else its name.
pub fn server(app: &Value) -> &str {
    let sv = s(app, "/spec/destination/server");
    if sv.is_empty() {
        s(app, "/spec/destination/name")
    } else {
        sv
    }
}

fn project(app: &Value) -> &str {
    match s(app, "/spec/project") {
        "" => "default",
        p => p,
    }
}

fn automated(app: &Value) -> Option<&Value> {
    app.pointer("/spec/syncPolicy/automated")
        .filter(|a| a.is_object())
}

/// `formatSyncPolicy`: `Manual`, `Auto` or `Auto-Prune`.
pub fn sync_policy(app: &Value) -> &'static str {
    match automated(app) {
        None => "Manual",
        Some(a) if a["prune"] == true => "Auto-Prune",
        Some(_) => "Auto",
    }
}

/// `formatConditionsSummary`: condition types with their counts (`Type(n)` past one),
/// `<none>` without conditions. Go iterates a map; we keep the order of first appearance.
pub fn conditions_summary(app: &Value) -> String {
    let mut counts: Vec<(String, usize)> = Vec::new();
    for c in app
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let t = s(c, "/type").to_owned();
        match counts.iter_mut().find(|(k, _)| *k == t) {
            Some((_, n)) => *n += 1,
            None => counts.push((t, 1)),
        }
    }
    if counts.is_empty() {
        return "<none>".into();
    }
    counts
        .into_iter()
        .map(|(t, n)| if n > 1 { format!("{t}({n})") } else { t })
        .collect::<Vec<_>>()
        .join(",")
}

/// The name argocd prints: `namespace/name` (`QualifiedName`) unless the Application is in
/// the control plane's namespace (`argocd`).
pub fn qualified_name(app: &Value) -> String {
    let ns = s(app, "/metadata/namespace");
    let name = s(app, "/metadata/name");
    if ns.is_empty() || ns == "argocd" {
        name.to_owned()
    } else {
        format!("{ns}/{name}")
    }
}

/// `argocd app list`: NAME CLUSTER NAMESPACE PROJECT STATUS HEALTH SYNCPOLICY CONDITIONS,
/// and REPO PATH TARGET with `-o wide` (`printApplicationTable`).
pub fn app_list(apps: &[Value], wide: bool, no_headers: bool) -> String {
    let mut rows = Vec::new();
    if !no_headers {
        let mut h = vec![
            "NAME",
            "CLUSTER",
            "NAMESPACE",
            "PROJECT",
            "STATUS",
            "HEALTH",
            "SYNCPOLICY",
            "CONDITIONS",
        ];
        if wide {
            h.extend(["REPO", "PATH", "TARGET"]);
        }
        rows.push(h.into_iter().map(str::to_owned).collect());
    }
    for a in apps {
        let mut r = vec![
            qualified_name(a),
            server(a).to_owned(),
            s(a, "/spec/destination/namespace").to_owned(),
            project(a).to_owned(),
            s(a, "/status/sync/status").to_owned(),
            s(a, "/status/health/status").to_owned(),
            sync_policy(a).to_owned(),
            conditions_summary(a),
        ];
        if wide {
            let src = source(a);
            r.extend([
                s(src, "/repoURL").to_owned(),
                s(src, "/path").to_owned(),
                s(src, "/targetRevision").to_owned(),
            ]);
        }
        rows.push(r);
    }
    table(&rows)
}

fn is_sha(rev: &str) -> bool {
    (7..=40).contains(&rev.len()) && rev.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `printAppSummaryTable`.
pub fn summary(app: &Value, url: &str) -> String {
    let mut o = String::new();
    line(&mut o, "Name:", &qualified_name(app));
    line(&mut o, "Project:", project(app));
    line(&mut o, "Server:", server(app));
    line(&mut o, "Namespace:", s(app, "/spec/destination/namespace"));
    line(&mut o, "URL:", url);
    let srcs = sources(app);
    o.push_str(
        if app.pointer("/spec/sources").is_some_and(Value::is_array) {
            "Sources:\n"
        } else {
            "Source:\n"
        },
    );
    for src in srcs {
        line(&mut o, "- Repo:", s(src, "/repoURL"));
        line(&mut o, "  Target:", s(src, "/targetRevision"));
        if !s(src, "/path").is_empty() {
            line(&mut o, "  Path:", s(src, "/path"));
        }
        if !s(src, "/ref").is_empty() {
            line(&mut o, "  Ref:", s(src, "/ref"));
        }
        if let Some(v) = src.pointer("/helm/valueFiles").and_then(Value::as_array)
            && !v.is_empty()
        {
            let files: Vec<&str> = v.iter().filter_map(Value::as_str).collect();
            line(&mut o, "  Helm Values:", &files.join(","));
        }
        if !s(src, "/kustomize/namePrefix").is_empty() {
            line(&mut o, "  Name Prefix:", s(src, "/kustomize/namePrefix"));
        }
    }
    line(&mut o, "SyncWindow:", "Sync Allowed");
    let policy = match automated(app) {
        None => "Manual",
        Some(a) if a["prune"] == true => "Automated (Prune)",
        Some(_) => "Automated",
    };
    line(&mut o, "Sync Policy:", policy);
    let target = s(source(app), "/targetRevision");
    let mut sync = s(app, "/status/sync/status").to_owned();
    match sync.as_str() {
        "Synced" => sync.push_str(&format!(" to {target}")),
        "OutOfSync" => sync.push_str(&format!(" from {target}")),
        _ => {}
    }
    let rev = s(app, "/status/sync/revision");
    if !is_sha(target) && rev.chars().count() > 7 {
        sync.push_str(&format!(" ({})", head(rev, 7)));
    }
    line(&mut o, "Sync Status:", &sync);
    let mut health = s(app, "/status/health/status").to_owned();
    let msg = s(app, "/status/health/message");
    if !msg.is_empty() {
        health = format!("{health} ({msg})");
    }
    line(&mut o, "Health Status:", &health);
    o
}

/// `printAppConditions`: CONDITION MESSAGE LAST TRANSITION.
pub fn conditions(app: &Value) -> String {
    let mut rows = vec![vec![
        "CONDITION".to_owned(),
        "MESSAGE".into(),
        "LAST TRANSITION".into(),
    ]];
    for c in app
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        rows.push(vec![
            s(c, "/type").to_owned(),
            s(c, "/message").to_owned(),
            go_time(&c["lastTransitionTime"]),
        ]);
    }
    table(&rows)
}

/// `printOperationResult`.
pub fn operation_result(st: &Value, now: i64) -> String {
    let mut o = String::new();
    if st.is_null() {
        return o;
    }
    if let Some(r) = st.get("syncResult") {
        line(&mut o, "Operation:", "Sync");
        let rev = match r.get("revisions").and_then(Value::as_array) {
            Some(revs) if r.get("sources").is_some() => revs
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(", "),
            _ => s(r, "/revision").to_owned(),
        };
        line(&mut o, "Sync Revision:", &rev);
    }
    line(&mut o, "Phase:", s(st, "/phase"));
    line(&mut o, "Start:", &go_time(&st["startedAt"]));
    line(&mut o, "Finished:", &go_time(&st["finishedAt"]));
    let start = crate::format::time(&st["startedAt"]).unwrap_or(now);
    let end = crate::format::time(&st["finishedAt"]).unwrap_or(now);
    line(
        &mut o,
        "Duration:",
        &crate::format::go_duration(end - start),
    );
    if !s(st, "/message").is_empty() {
        line(&mut o, "Message:", s(st, "/message"));
    }
    o
}

/// One row of argocd's resource table (`resourceState`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceState {
    pub group: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub status: String,
    pub health: String,
    pub hook: String,
    pub message: String,
}

/// `getResourceStates`: the last operation's results first (a resource's sync and health
/// from `status.resources`, a hook's phase and result), then the other resources sorted
/// by `group/kind/namespace/name`.
pub fn resource_states(app: &Value) -> Vec<ResourceState> {
    let key = |r: &Value| {
        format!(
            "{}/{}/{}/{}",
            s(r, "/group"),
            s(r, "/kind"),
            s(r, "/namespace"),
            s(r, "/name")
        )
    };
    let mut by_key: Vec<(String, &Value)> = app
        .pointer("/status/resources")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|r| (key(r), r))
        .collect();
    let mut out = Vec::new();
    for r in app
        .pointer("/status/operationState/syncResult/resources")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let k = key(r);
        let hook = s(r, "/hookType");
        let (mut sync, mut health) = (s(r, "/hookPhase").to_owned(), s(r, "/status").to_owned());
        if let Some(pos) = by_key.iter().position(|(bk, _)| *bk == k) {
            if hook.is_empty() {
                let res = by_key[pos].1;
                health = s(res, "/health/status").to_owned();
                sync = s(res, "/status").to_owned();
            }
            by_key.remove(pos);
        }
        out.push(ResourceState {
            group: s(r, "/group").into(),
            kind: s(r, "/kind").into(),
            namespace: s(r, "/namespace").into(),
            name: s(r, "/name").into(),
            status: sync,
            health,
            hook: hook.into(),
            message: s(r, "/message").into(),
        });
    }
    by_key.sort_by(|a, b| a.0.cmp(&b.0));
    for (_, r) in by_key {
        out.push(ResourceState {
            group: s(r, "/group").into(),
            kind: s(r, "/kind").into(),
            namespace: s(r, "/namespace").into(),
            name: s(r, "/name").into(),
            status: s(r, "/status").into(),
            health: s(r, "/health/status").into(),
            hook: String::new(),
            message: String::new(),
        });
    }
    out
}

/// `printAppResources`: GROUP KIND NAMESPACE NAME STATUS HEALTH HOOK MESSAGE.
pub fn resources(app: &Value) -> String {
    let mut rows = vec![
        [
            "GROUP",
            "KIND",
            "NAMESPACE",
            "NAME",
            "STATUS",
            "HEALTH",
            "HOOK",
            "MESSAGE",
        ]
        .map(str::to_owned)
        .to_vec(),
    ];
    for r in resource_states(app) {
        rows.push(vec![
            r.group,
            r.kind,
            r.namespace,
            r.name,
            r.status,
            r.health,
            r.hook,
            r.message,
        ]);
    }
    table(&rows)
}

/// `argocd app get` (`-o wide`): the summary, the conditions, with `--show-operation` the
/// last operation, then the resources.
pub fn get(app: &Value, url: &str, show_operation: bool, now: i64) -> String {
    let mut o = summary(app, url);
    let has_conditions = app
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|c| !c.is_empty());
    if has_conditions {
        o.push('\n');
        o.push_str(&conditions(app));
        o.push('\n');
    }
    if show_operation && let Some(st) = app.pointer("/status/operationState") {
        o.push('\n');
        o.push_str(&operation_result(st, now));
    }
    if has_resources(app) {
        o.push('\n');
        o.push_str(&resources(app));
    }
    o
}

fn has_resources(app: &Value) -> bool {
    app.pointer("/status/resources")
        .and_then(Value::as_array)
        .is_some_and(|r| !r.is_empty())
}

/// What `argocd app sync|rollback|wait` print once done (`printFinalStatus`): a blank
/// line, the summary, a blank line, the operation (when waiting for one), the resources.
pub fn final_status(app: &Value, url: &str, operation: bool, now: i64) -> String {
    let mut o = String::from("\n");
    o.push_str(&summary(app, url));
    o.push('\n');
    if operation && let Some(st) = app.pointer("/status/operationState") {
        o.push_str(&operation_result(st, now));
    }
    if has_resources(app) {
        o.push('\n');
        o.push_str(&resources(app));
    }
    o
}

/// `printApplicationHistoryTable`: per source repository `SOURCE url`, then ID DATE
/// REVISION, the revision as `target (sha7)`.
pub fn history(app: &Value) -> String {
    let mut keys: Vec<String> = Vec::new();
    let mut groups: Vec<Vec<Vec<String>>> = Vec::new();
    let mut push = |repo: &str, row: Vec<String>| match keys.iter().position(|k| k == repo) {
        Some(i) => groups[i].push(row),
        None => {
            keys.push(repo.to_owned());
            groups.push(vec![row]);
        }
    };
    for h in app
        .pointer("/status/history")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let id = h["id"].as_i64().unwrap_or(0).to_string();
        let date = go_time(&h["deployedAt"]);
        if let Some(srcs) = h.get("sources").and_then(Value::as_array) {
            let revs: Vec<&str> = h["revisions"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            for (i, src) in srcs.iter().enumerate() {
                let mut rev = s(src, "/targetRevision").to_owned();
                if revs.len() == srcs.len() && revs[i].chars().count() >= 7 {
                    rev = format!("{rev} ({})", head(revs[i], 7));
                }
                push(s(src, "/repoURL"), vec![id.clone(), date.clone(), rev]);
            }
        } else {
            let mut rev = s(h, "/source/targetRevision").to_owned();
            let full = s(h, "/revision");
            if full.chars().count() >= 7 {
                rev = format!("{rev} ({})", head(full, 7));
            }
            push(s(h, "/source/repoURL"), vec![id, date, rev]);
        }
    }
    let mut rows: Vec<Vec<String>> = Vec::new();
    let n = keys.len();
    for (i, (k, g)) in keys.into_iter().zip(groups).enumerate() {
        rows.push(vec!["SOURCE".into(), k]);
        rows.push(vec!["ID".into(), "DATE".into(), "REVISION".into()]);
        rows.extend(g);
        if i + 1 < n {
            rows.push(vec![String::new()]);
        }
    }
    table(&rows)
}

/// `findRevisionHistory`: the entry `id`, or without one the previous deployment.
pub fn find_history(app: &Value, id: Option<i64>) -> Result<Value, String> {
    let name = s(app, "/metadata/name");
    let hist: Vec<Value> = app
        .pointer("/status/history")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    match id {
        None => {
            if hist.len() < 2 {
                return Err(format!(
                    "Application '{name}' should have at least two successful deployments"
                ));
            }
            Ok(hist[hist.len() - 2].clone())
        }
        Some(id) => hist
            .into_iter()
            .find(|h| h["id"].as_i64() == Some(id))
            .ok_or_else(|| {
                format!("Application '{name}' does not have deployment id '{id}' in history")
            }),
    }
}

/// What a sync asks for (`argocd app sync` flags).
#[derive(Debug, Clone, Default)]
pub struct SyncRequest {
    pub revision: Option<String>,
    pub prune: bool,
    pub dry_run: bool,
    /// `GROUP:KIND:[NAMESPACE/]NAME`.
    pub resources: Vec<String>,
    pub username: String,
    /// A value the CLI recognises in `status.operationState.operation.info`.
    pub nonce: String,
}

fn info(nonce: &str) -> Value {
    json!([{"name": "sluice-request", "value": nonce}])
}

/// The `operation` a sync writes (argo-cd server/application `Sync`): refused as upstream
/// when auto-sync is on and another revision is asked for ("Cannot sync to R: auto-sync
/// currently set to T"), and for resources that do not parse.
pub fn sync_operation(app: &Value, req: &SyncRequest) -> Result<Value, String> {
    let target = match s(source(app), "/targetRevision") {
        "" => "HEAD",
        t => t,
    };
    let revision = req.revision.clone().filter(|r| !r.is_empty());
    if let Some(rev) = &revision
        && automated(app).is_some()
        && !req.dry_run
        && rev != target
    {
        return Err(format!(
            "Cannot sync to {rev}: auto-sync currently set to {target}"
        ));
    }
    let mut sync = json!({
        "revision": revision.unwrap_or_else(|| target.to_owned()),
        "prune": req.prune,
    });
    if req.dry_run {
        sync["dryRun"] = json!(true);
    }
    if let Some(opts) = app.pointer("/spec/syncPolicy/syncOptions") {
        sync["syncOptions"] = opts.clone();
    }
    if !req.resources.is_empty() {
        let mut rs = Vec::new();
        for r in &req.resources {
            rs.push(parse_resource(r)?);
        }
        sync["resources"] = Value::Array(rs);
    }
    Ok(json!({
        "sync": sync,
        "initiatedBy": {"username": req.username},
        "info": info(&req.nonce),
    }))
}

/// `GROUP:KIND:NAME` or `GROUP:KIND:NAMESPACE/NAME` (`parseSelectedResources`).
pub fn parse_resource(r: &str) -> Result<Value, String> {
    let parts: Vec<&str> = r.split(':').collect();
    if parts.len() != 3 {
        return Err(format!(
            "Resource should have GROUP:KIND:NAME, but instead got: {r}"
        ));
    }
    let (ns, name) = match parts[2].split_once('/') {
        Some((ns, n)) => (ns, n),
        None => ("", parts[2]),
    };
    let mut v = json!({"group": parts[0], "kind": parts[1], "name": name});
    if !ns.is_empty() {
        v["namespace"] = json!(ns);
    }
    Ok(v)
}

/// The `operation` a rollback writes (argo-cd server/application `Rollback`): refused while
/// auto-sync is on, as upstream ("rollback cannot be initiated when auto-sync is enabled").
pub fn rollback_operation(
    app: &Value,
    entry: &Value,
    prune: bool,
    dry_run: bool,
    username: &str,
    nonce: &str,
) -> Result<Value, String> {
    if automated(app).is_some() {
        return Err("rollback cannot be initiated when auto-sync is enabled".into());
    }
    let mut sync = json!({"revision": entry["revision"], "prune": prune});
    if dry_run {
        sync["dryRun"] = json!(true);
    }
    if let Some(src) = entry.get("source") {
        sync["source"] = src.clone();
    }
    if let Some(srcs) = entry.get("sources") {
        sync["sources"] = srcs.clone();
        sync["revisions"] = entry["revisions"].clone();
    }
    if let Some(opts) = app.pointer("/spec/syncPolicy/syncOptions") {
        sync["syncOptions"] = opts.clone();
    }
    Ok(json!({"sync": sync, "initiatedBy": {"username": username}, "info": info(nonce)}))
}

/// Whether the operation carrying `nonce` has finished (its state is in the status and no
/// operation is pending).
pub fn operation_done(app: &Value, nonce: &str) -> bool {
    let pending = app.get("operation").is_some_and(|o| !o.is_null());
    let st = app.pointer("/status/operationState");
    let ours = st
        .and_then(|st| st.pointer("/operation/info"))
        .and_then(Value::as_array)
        .is_some_and(|i| {
            i.iter()
                .any(|x| x["name"] == "sluice-request" && x["value"] == nonce)
        });
    !pending && ours && st.is_some_and(|st| !s(st, "/finishedAt").is_empty())
}

/// What `argocd app wait` waits for.
#[derive(Debug, Clone, Copy, Default)]
pub struct Watch {
    pub sync: bool,
    pub health: bool,
    pub operation: bool,
    pub suspended: bool,
    pub degraded: bool,
}

/// `checkResourceStatus` of the whole Application, with `operationInProgress` as argocd
/// computes it (an `operation` pending, or an operation state not finished). Argo CD also
/// waits for a reconcile after the operation; the Sluice controller compares again within
/// the reconcile that synced, so the status written with the operation is current.
pub fn wait_satisfied(app: &Value, w: &Watch) -> bool {
    let health = s(app, "/status/health/status");
    let sync = s(app, "/status/sync/status");
    let pending = app.get("operation").is_some_and(|o| !o.is_null());
    let running = app
        .pointer("/status/operationState")
        .is_some_and(|st| s(st, "/finishedAt").is_empty());
    let health_ok = match (w.suspended, w.health, w.degraded) {
        (true, true, true) => matches!(health, "Healthy" | "Suspended" | "Degraded"),
        (true, false, true) => matches!(health, "Degraded" | "Suspended"),
        (false, true, true) => matches!(health, "Healthy" | "Degraded"),
        (true, true, false) => matches!(health, "Healthy" | "Suspended"),
        (true, false, false) => health == "Suspended",
        (false, true, false) => health == "Healthy",
        (false, false, true) => health == "Degraded",
        (false, false, false) => true,
    };
    let synced = !w.sync || sync == "Synced";
    let operational = !w.operation || !pending;
    synced && health_ok && operational && !(w.operation && running)
}

/// What `argocd app create` takes from flags.
#[derive(Debug, Clone, Default)]
pub struct CreateRequest {
    pub name: String,
    pub namespace: String,
    pub project: String,
    pub repo: String,
    pub path: String,
    pub revision: String,
    pub dest_server: String,
    pub dest_name: String,
    pub dest_namespace: String,
    pub sync_policy: Option<String>,
    pub auto_prune: bool,
    pub self_heal: bool,
    pub sync_options: Vec<String>,
    pub labels: Vec<String>,
    pub directory_recurse: bool,
}

/// The Application `argocd app create NAME --repo --path --dest-server ...` builds
/// (cmd/argocd/commands/utils `SetAppSpecOptions`); `--sync-policy automated|auto|automatic`
/// turns on automated sync, `none|manual` leaves it off.
pub fn create_application(req: &CreateRequest) -> Result<Value, String> {
    if req.name.is_empty() {
        return Err("app name is required".into());
    }
    if req.repo.is_empty() {
        return Err("--repo is required".into());
    }
    if req.dest_server.is_empty() && req.dest_name.is_empty() {
        return Err("Destination server or name is required (--dest-server or --dest-name)".into());
    }
    let mut labels = serde_json::Map::new();
    for l in &req.labels {
        let (k, v) = l
            .split_once('=')
            .ok_or_else(|| format!("label {l:?}: expected KEY=VALUE"))?;
        labels.insert(k.into(), json!(v));
    }
    let mut src = json!({"repoURL": req.repo, "path": req.path,
        "targetRevision": if req.revision.is_empty() { "HEAD" } else { &req.revision }});
    if req.directory_recurse {
        src["directory"] = json!({"recurse": true});
    }
    let mut dest = json!({"namespace": req.dest_namespace});
    if !req.dest_server.is_empty() {
        dest["server"] = json!(req.dest_server);
    }
    if !req.dest_name.is_empty() {
        dest["name"] = json!(req.dest_name);
    }
    let mut spec = json!({
        "project": if req.project.is_empty() { "default" } else { &req.project },
        "source": src, "destination": dest,
    });
    let policy = sync_policy_patch(
        req.sync_policy.as_deref(),
        req.auto_prune,
        req.self_heal,
        &req.sync_options,
    )?;
    if !policy.is_null() {
        spec["syncPolicy"] = policy;
    }
    let mut meta = json!({"name": req.name, "namespace": req.namespace});
    if !labels.is_empty() {
        meta["labels"] = Value::Object(labels);
    }
    Ok(
        json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
        "metadata": meta, "spec": spec}),
    )
}

/// `spec.syncPolicy` from argocd's flags, `null` when none is given.
pub fn sync_policy_patch(
    policy: Option<&str>,
    auto_prune: bool,
    self_heal: bool,
    sync_options: &[String],
) -> Result<Value, String> {
    let mut out = serde_json::Map::new();
    match policy {
        None => {}
        Some("automated" | "automatic" | "auto") => {
            out.insert(
                "automated".into(),
                json!({"prune": auto_prune, "selfHeal": self_heal}),
            );
        }
        Some("none" | "manual") => {
            out.insert("automated".into(), Value::Null);
        }
        Some(p) => {
            return Err(format!(
                "invalid sync policy {p:?}: expected automated or none"
            ));
        }
    }
    if policy.is_none() && (auto_prune || self_heal) {
        return Err("--auto-prune and --self-heal need --sync-policy automated".into());
    }
    if !sync_options.is_empty() {
        out.insert("syncOptions".into(), json!(sync_options));
    }
    Ok(if out.is_empty() {
        Value::Null
    } else {
        Value::Object(out)
    })
}

/// The live object cut down to the fields the desired one has (maps: the desired keys;
/// lists and scalars: the live value), so `app diff` shows what a sync would change rather
/// than every server default.
pub fn project_live(live: &Value, target: &Value) -> Value {
    match (live, target) {
        (Value::Object(l), Value::Object(t)) => {
            let mut out = serde_json::Map::new();
            for (k, tv) in t {
                if let Some(lv) = l.get(k) {
                    out.insert(k.clone(), project_live(lv, tv));
                }
            }
            Value::Object(out)
        }
        (Value::Array(l), Value::Array(t)) if l.len() == t.len() => Value::Array(
            l.iter()
                .zip(t)
                .map(|(lv, tv)| project_live(lv, tv))
                .collect(),
        ),
        _ => live.clone(),
    }
}

/// `app diff`'s header for one resource: `===== group/Kind namespace/name ======`.
pub fn diff_header(obj: &Value) -> String {
    let av = s(obj, "/apiVersion");
    let group = av.rsplit_once('/').map_or("", |(g, _)| g);
    format!(
        "===== {group}/{} {}/{} ======\n",
        s(obj, "/kind"),
        s(obj, "/metadata/namespace"),
        s(obj, "/metadata/name")
    )
}

/// `argocd appset list` (`printApplicationSetTable`): NAME PROJECT SYNCPOLICY CONDITIONS,
/// `-o wide` adds REPO PATH TARGET. Upstream formats the sync policy struct and the True
/// conditions with Go's `%s` (pointer addresses, `%!s(bool=...)`); Sluice prints them
/// readably: `<nil>` or the policy's fields, and the True conditions' types in brackets.
pub fn appset_list(sets: &[Value], wide: bool) -> String {
    let mut h = vec!["NAME", "PROJECT", "SYNCPOLICY", "CONDITIONS"];
    if wide {
        h.extend(["REPO", "PATH", "TARGET"]);
    }
    let mut rows = vec![h.into_iter().map(str::to_owned).collect::<Vec<_>>()];
    for a in sets {
        let policy = match a.pointer("/spec/syncPolicy") {
            Some(p) if p.is_object() => {
                let mut parts: Vec<String> = Vec::new();
                if let Some(v) = p.get("preserveResourcesOnDeletion") {
                    parts.push(format!("preserveResourcesOnDeletion={v}"));
                }
                if let Some(v) = p.get("applicationsSync").and_then(Value::as_str) {
                    parts.push(format!("applicationsSync={v}"));
                }
                format!("&{{{}}}", parts.join(" "))
            }
            _ => "<nil>".into(),
        };
        let conds: Vec<&str> = items(a, "/status/conditions")
            .into_iter()
            .filter(|c| s(c, "/status") == "True")
            .map(|c| s(c, "/type"))
            .collect();
        let project = match s(a, "/spec/template/spec/project") {
            "" => "default",
            p => p,
        };
        let mut r = vec![
            qualified_name(a),
            project.to_owned(),
            policy,
            format!("[{}]", conds.join(" ")),
        ];
        if wide {
            let src = match a.pointer("/spec/template/spec/source") {
                Some(v) if v.is_object() => v,
                _ => a
                    .pointer("/spec/template/spec/sources/0")
                    .unwrap_or(&Value::Null),
            };
            r.extend([
                s(src, "/repoURL").to_owned(),
                s(src, "/path").to_owned(),
                s(src, "/targetRevision").to_owned(),
            ]);
        }
        rows.push(r);
    }
    table(&rows)
}

/// `argocd appset get` (`printAppSetSummaryTable`, then `printAppSetConditions`:
/// CONDITION STATUS MESSAGE LAST TRANSITION).
pub fn appset_get(set: &Value) -> String {
    let t = set
        .pointer("/spec/template")
        .cloned()
        .unwrap_or(Value::Null);
    let mut as_app = json!({"metadata": set["metadata"], "spec": t["spec"]});
    if as_app["spec"].is_null() {
        as_app["spec"] = json!({});
    }
    let mut o = String::new();
    line(&mut o, "Name:", &qualified_name(set));
    line(&mut o, "Project:", project(&as_app));
    line(&mut o, "Server:", server(&as_app));
    line(
        &mut o,
        "Namespace:",
        s(&as_app, "/spec/destination/namespace"),
    );
    o.push_str(
        if as_app.pointer("/spec/sources").is_some_and(Value::is_array) {
            "Sources:\n"
        } else {
            "Source:\n"
        },
    );
    for src in sources(&as_app) {
        line(&mut o, "- Repo:", s(src, "/repoURL"));
        line(&mut o, "  Target:", s(src, "/targetRevision"));
        if !s(src, "/path").is_empty() {
            line(&mut o, "  Path:", s(src, "/path"));
        }
    }
    let policy = match automated(&as_app) {
        None => "<none>",
        Some(a) if a["prune"] == true => "Automated (Prune)",
        Some(_) => "Automated",
    };
    line(&mut o, "SyncPolicy:", policy);
    let conds = items(set, "/status/conditions");
    if !conds.is_empty() {
        o.push('\n');
        let mut rows = vec![
            ["CONDITION", "STATUS", "MESSAGE", "LAST TRANSITION"]
                .map(str::to_owned)
                .to_vec(),
        ];
        for c in conds {
            rows.push(vec![
                s(c, "/type").to_owned(),
                s(c, "/status").to_owned(),
                s(c, "/message").to_owned(),
                go_time(&c["lastTransitionTime"]),
            ]);
        }
        o.push_str(&table(&rows));
    }
    o
}

/// One node of an Application's resource tree: an object the app manages, or one owned by
/// such an object (`parent`: the owner's uid).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TreeNode {
    pub uid: String,
    pub group: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub health: String,
    pub parent: Option<String>,
}

const FIRST_ELEM: &str = "├─";
const LAST_ELEM: &str = "└─";
const PIPE: &str = "│ ";

/// Go's `strings.Replace(s, old, new, n)` with `n < 0` meaning all.
fn go_replace(s: &str, old: &str, new: &str, n: isize) -> String {
    if n < 0 {
        s.replace(old, new)
    } else {
        s.replacen(old, new, n as usize)
    }
}

/// argocd's `printPrefix`: the branches above the last level drawn as pipes or blanks.
fn print_prefix(p: &str) -> String {
    let count = |p: &str, x: &str| p.matches(x).count() as isize;
    let p = if p.ends_with(FIRST_ELEM) {
        go_replace(p, FIRST_ELEM, PIPE, count(p, FIRST_ELEM) - 1)
    } else {
        go_replace(p, FIRST_ELEM, PIPE, -1)
    };
    if p.ends_with(LAST_ELEM) {
        go_replace(&p, LAST_ELEM, "  ", count(&p, LAST_ELEM) - 1)
    } else {
        go_replace(&p, LAST_ELEM, "  ", -1)
    }
}

/// argocd's `sortNodes` order (kind, then group, then namespace; stable otherwise).
fn sort_nodes(nodes: &mut [&TreeNode]) {
    nodes.sort_by(|a, b| {
        a.kind
            .cmp(&b.kind)
            .then_with(|| {
                if a.name == b.name {
                    std::cmp::Ordering::Equal
                } else {
                    a.group.cmp(&b.group)
                }
            })
            .then_with(|| {
                if a.name == b.name {
                    std::cmp::Ordering::Equal
                } else {
                    a.namespace.cmp(&b.namespace)
                }
            })
    });
}

/// `argocd app get -o tree` (`printTreeView`/`treeViewAppGet`): KIND/NAME STATUS HEALTH
/// MESSAGE, the app's resources with what they own below them (`├─`, `└─`), the sync
/// status and message of the app's own resources from its status.
pub fn tree(app: &Value, nodes: &[TreeNode]) -> String {
    let states = resource_states(app);
    let mut rows = vec![
        ["KIND/NAME", "STATUS", "HEALTH", "MESSAGE"]
            .map(str::to_owned)
            .to_vec(),
    ];
    fn walk(
        prefix: &str,
        n: &TreeNode,
        nodes: &[TreeNode],
        states: &[ResourceState],
        rows: &mut Vec<Vec<String>>,
        depth: usize,
    ) {
        let key = format!("{}/{}", n.kind, n.name);
        match states
            .iter()
            .find(|r| format!("{}/{}", r.kind, r.name) == key)
        {
            Some(r) => rows.push(vec![
                format!("{}{key}", print_prefix(prefix)),
                r.status.clone(),
                r.health.clone(),
                r.message.clone(),
            ]),
            None => rows.push(vec![
                format!("{}{key}", print_prefix(prefix)),
                String::new(),
                n.health.clone(),
                String::new(),
            ]),
        }
        if depth >= 16 {
            return;
        }
        let mut children: Vec<&TreeNode> = nodes
            .iter()
            .filter(|c| c.parent.as_deref() == Some(n.uid.as_str()) && !n.uid.is_empty())
            .collect();
        sort_nodes(&mut children);
        let last = children.len().saturating_sub(1);
        for (i, c) in children.into_iter().enumerate() {
            let p = format!("{prefix}{}", if i == last { LAST_ELEM } else { FIRST_ELEM });
            walk(&p, c, nodes, states, rows, depth + 1);
        }
    }
    let mut roots: Vec<&TreeNode> = nodes.iter().filter(|n| n.parent.is_none()).collect();
    sort_nodes(&mut roots);
    for r in roots {
        walk("", r, nodes, &states, &mut rows, 0);
    }
    table(&rows)
}

/// The progress lines argocd prints while it waits for an operation or a state
/// (`waitOnApplicationStatus`: `waitFormatString`, a tabwriter with minwidth 5 and padding
/// 2 flushed after each look at the app): the header with the first look, then each
/// resource when it appears or one of its STATUS, HEALTH, HOOK, MESSAGE changes (to a
/// non-empty value, as `resourceState.Merge`).
#[derive(Debug, Default)]
pub struct WaitPrinter {
    prev: Vec<ResourceState>,
    started: bool,
}

fn wait_row(ts: &str, cells: [&str; 8]) -> Vec<String> {
    let [g, k, ns, n, st, h, hook, msg] = cells;
    vec![
        ts.to_owned(),
        format!("{g:>5}"),
        format!("{k:>10}"),
        format!("{ns:>10}"),
        format!("{n:>20}"),
        format!("{st:>8}"),
        format!("{h:>7}"),
        format!("{hook:>10}"),
        msg.to_owned(),
    ]
}

impl WaitPrinter {
    pub fn new() -> Self {
        Self::default()
    }

    /// What to print after looking at `app` at time `ts` (`2006-01-02T15:04:05-07:00`).
    pub fn step(&mut self, app: &Value, ts: &str) -> String {
        let mut rows: Vec<Vec<String>> = Vec::new();
        if !self.started {
            self.started = true;
            rows.push(wait_row(
                "TIMESTAMP",
                [
                    "GROUP",
                    "KIND",
                    "NAMESPACE",
                    "NAME",
                    "STATUS",
                    "HEALTH",
                    "HOOK",
                    "MESSAGE",
                ],
            ));
        }
        for new in resource_states(app) {
            let same = |p: &ResourceState| {
                p.group == new.group
                    && p.kind == new.kind
                    && p.namespace == new.namespace
                    && p.name == new.name
            };
            let changed = match self.prev.iter_mut().find(|p| same(p)) {
                Some(p) => {
                    let mut updated = false;
                    for (cur, val) in [
                        (&mut p.status, &new.status),
                        (&mut p.health, &new.health),
                        (&mut p.hook, &new.hook),
                        (&mut p.message, &new.message),
                    ] {
                        if !val.is_empty() && cur != val {
                            cur.clone_from(val);
                            updated = true;
                        }
                    }
                    updated.then(|| p.clone())
                }
                None => {
                    self.prev.push(new.clone());
                    Some(new)
                }
            };
            if let Some(r) = changed {
                rows.push(wait_row(
                    ts,
                    [
                        &r.group,
                        &r.kind,
                        &r.namespace,
                        &r.name,
                        &r.status,
                        &r.health,
                        &r.hook,
                        &r.message,
                    ],
                ));
            }
        }
        if rows.is_empty() {
            String::new()
        } else {
            crate::table::render_min(&rows, 5, 2)
        }
    }
}

/// FNV-1a, 32 bits (Go's `hash/fnv` `New32a`), over the concatenated parts.
pub fn fnv32a(parts: &[&str]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for p in parts {
        for b in p.bytes() {
            h ^= u32::from(b);
            h = h.wrapping_mul(0x0100_0193);
        }
    }
    h
}

/// `RepoURLToSecretName(prefix, repo, project)` (util/db): `repo-<fnv32a(url+project)>`
/// for repositories, `creds-...` for credential templates.
pub fn repo_secret_name(prefix: &str, url: &str, project: &str) -> String {
    format!("{prefix}-{}", fnv32a(&[url, project]))
}

/// `URIToSecretName("cluster", server)` (util/db/cluster.go): `cluster-<host>-<fnv32a>`,
/// the host without its port, an IPv6 address with `-` for `:`.
pub fn cluster_secret_name(server: &str) -> Result<String, String> {
    let rest = server
        .split_once("://")
        .map(|(_, r)| r)
        .filter(|r| !r.is_empty())
        .ok_or_else(|| format!("parse {server:?}: invalid URI for request"))?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    let host = if let Some(v6) = host.strip_prefix('[') {
        v6.split(']').next().unwrap_or("").replace(':', "-")
    } else {
        host.split(':').next().unwrap_or("").to_owned()
    };
    Ok(format!(
        "cluster-{}-{}",
        host.to_lowercase(),
        fnv32a(&[server])
    ))
}

/// `argocd repo add` / `argocd repocreds add` flags.
#[derive(Debug, Clone, Default)]
pub struct RepoRequest {
    pub url: String,
    /// `git` (default) or `helm`.
    pub kind: String,
    pub name: String,
    pub project: String,
    pub username: String,
    pub password: String,
    pub ssh_private_key: String,
    pub insecure_skip_server_verification: bool,
    pub insecure_ignore_host_key: bool,
    pub enable_lfs: bool,
    pub enable_oci: bool,
}

/// The Secret Argo CD stores a repository (`credentials: false`) or a credential template
/// (`true`) in (util/db/repository_secrets.go): labelled
/// `argocd.argoproj.io/secret-type: repository|repo-creds`, annotated
/// `managed-by: argocd.argoproj.io`, the fields as `stringData` keys (false booleans and
/// empty strings left out).
pub fn repo_secret(req: &RepoRequest, namespace: &str, credentials: bool) -> Value {
    let (prefix, kind) = if credentials {
        ("creds", "repo-creds")
    } else {
        ("repo", "repository")
    };
    let mut data = serde_json::Map::new();
    let mut put = |k: &str, v: &str| {
        if !v.is_empty() {
            data.insert(k.into(), json!(v));
        }
    };
    put("url", &req.url);
    put(
        "type",
        if req.kind.is_empty() {
            "git"
        } else {
            &req.kind
        },
    );
    put("name", &req.name);
    put("project", &req.project);
    put("username", &req.username);
    put("password", &req.password);
    put("sshPrivateKey", &req.ssh_private_key);
    for (k, on) in [
        ("insecure", req.insecure_skip_server_verification),
        ("insecureIgnoreHostKey", req.insecure_ignore_host_key),
        ("enableLfs", req.enable_lfs),
        ("enableOCI", req.enable_oci),
    ] {
        if on {
            put(k, "true");
        }
    }
    json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": repo_secret_name(prefix, &req.url, &req.project), "namespace": namespace,
            "labels": {"argocd.argoproj.io/secret-type": kind},
            "annotations": {"managed-by": "argocd.argoproj.io"}},
        "type": "Opaque", "stringData": data})
}

fn truthy(m: &std::collections::BTreeMap<String, String>, k: &str) -> bool {
    m.get(k).is_some_and(|v| v == "true")
}

fn has_creds(m: &std::collections::BTreeMap<String, String>) -> bool {
    [
        "username",
        "password",
        "sshPrivateKey",
        "tlsClientCertData",
        "githubAppPrivateKey",
        "gcpServiceAccountKey",
        "bearerToken",
    ]
    .iter()
    .any(|k| m.get(*k).is_some_and(|v| !v.is_empty()))
}

/// `argocd repo list` (`printRepoTable`): TYPE NAME REPO INSECURE OCI LFS CREDS STATUS
/// MESSAGE PROJECT; CREDS `inherited` when a credential template's URL is a prefix of the
/// repository's (Sluice does not test connections: STATUS `Unknown`).
pub fn repo_list(
    repos: &[std::collections::BTreeMap<String, String>],
    templates: &[std::collections::BTreeMap<String, String>],
) -> String {
    let mut rows = vec![
        [
            "TYPE", "NAME", "REPO", "INSECURE", "OCI", "LFS", "CREDS", "STATUS", "MESSAGE",
            "PROJECT",
        ]
        .map(str::to_owned)
        .to_vec(),
    ];
    let get = |m: &std::collections::BTreeMap<String, String>, k: &str| {
        m.get(k).cloned().unwrap_or_default()
    };
    for r in repos {
        let url = get(r, "url");
        let creds = if has_creds(r) {
            "true".to_owned()
        } else if templates.iter().any(|t| {
            let p = get(t, "url");
            !p.is_empty() && url.starts_with(&p)
        }) {
            "inherited".to_owned()
        } else {
            "false".to_owned()
        };
        let kind = match get(r, "type") {
            t if t.is_empty() => "git".to_owned(),
            t => t,
        };
        rows.push(vec![
            kind,
            get(r, "name"),
            url,
            (truthy(r, "insecure") || truthy(r, "insecureIgnoreHostKey")).to_string(),
            truthy(r, "enableOCI").to_string(),
            truthy(r, "enableLfs").to_string(),
            creds,
            "Unknown".into(),
            String::new(),
            get(r, "project"),
        ]);
    }
    table(&rows)
}

/// `argocd repocreds list` (`printRepoCredsTable`): URL PATTERN USERNAME SSH_CREDS TLS_CREDS.
pub fn repocreds_list(templates: &[std::collections::BTreeMap<String, String>]) -> String {
    let mut rows = vec![
        ["URL PATTERN", "USERNAME", "SSH_CREDS", "TLS_CREDS"]
            .map(str::to_owned)
            .to_vec(),
    ];
    for t in templates {
        let user = t.get("username").cloned().unwrap_or_default();
        rows.push(vec![
            t.get("url").cloned().unwrap_or_default(),
            if user.is_empty() { "-".into() } else { user },
            t.get("sshPrivateKey")
                .is_some_and(|v| !v.is_empty())
                .to_string(),
            t.get("tlsClientCertData")
                .is_some_and(|v| !v.is_empty())
                .to_string(),
        ]);
    }
    table(&rows)
}

/// What `argocd cluster add` stores for a cluster.
#[derive(Debug, Clone, Default)]
pub struct ClusterRequest {
    pub server: String,
    pub name: String,
    pub project: String,
    pub namespaces: Vec<String>,
    pub bearer_token: String,
    /// Base64 PEM, as a kubeconfig's `certificate-authority-data`.
    pub ca_data: String,
    pub insecure: bool,
}

/// The cluster Secret (util/db/cluster.go `clusterToSecret`): labelled
/// `argocd.argoproj.io/secret-type: cluster`, keys `name`, `server`, `config` (JSON:
/// `bearerToken`, `tlsClientConfig` with `insecure` and `caData`), `namespaces`, `project`.
pub fn cluster_secret(req: &ClusterRequest, namespace: &str) -> Result<Value, String> {
    let mut tls = json!({"insecure": req.insecure});
    if !req.ca_data.is_empty() {
        tls["caData"] = json!(req.ca_data);
    }
    let mut config = json!({"tlsClientConfig": tls});
    if !req.bearer_token.is_empty() {
        config["bearerToken"] = json!(req.bearer_token);
    }
    let mut data = json!({"name": req.name, "server": req.server,
        "config": serde_json::to_string(&config).unwrap_or_default()});
    if !req.namespaces.is_empty() {
        data["namespaces"] = json!(req.namespaces.join(","));
    }
    if !req.project.is_empty() {
        data["project"] = json!(req.project);
    }
    Ok(json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": cluster_secret_name(&req.server)?, "namespace": namespace,
            "labels": {"argocd.argoproj.io/secret-type": "cluster"},
            "annotations": {"managed-by": "argocd.argoproj.io"}},
        "type": "Opaque", "stringData": data}))
}

/// `argocd cluster list` (`printClusterTable`): SERVER NAME VERSION STATUS MESSAGE PROJECT,
/// the in-cluster destination first as Argo CD lists it without a Secret.
pub fn cluster_list(clusters: &[std::collections::BTreeMap<String, String>]) -> String {
    let mut rows = vec![
        ["SERVER", "NAME", "VERSION", "STATUS", "MESSAGE", "PROJECT"]
            .map(str::to_owned)
            .to_vec(),
    ];
    let in_cluster = "https://kubernetes.default.svc";
    if !clusters
        .iter()
        .any(|c| c.get("server").is_some_and(|s| s == in_cluster))
    {
        rows.push(vec![
            in_cluster.into(),
            "in-cluster".into(),
            String::new(),
            "Unknown".into(),
            String::new(),
            String::new(),
        ]);
    }
    for c in clusters {
        let g = |k: &str| c.get(k).cloned().unwrap_or_default();
        rows.push(vec![
            g("server"),
            g("name"),
            String::new(),
            "Unknown".into(),
            String::new(),
            g("project"),
        ]);
    }
    table(&rows)
}

fn items<'a>(v: &'a Value, ptr: &str) -> Vec<&'a Value> {
    v.pointer(ptr)
        .and_then(Value::as_array)
        .map(|a| a.iter().collect())
        .unwrap_or_default()
}

fn gk(v: &Value) -> String {
    format!("{}/{}", s(v, "/group"), s(v, "/kind"))
}

fn orphaned(p: &Value) -> String {
    match p.pointer("/spec/orphanedResources") {
        Some(o) if o.is_object() => {
            let warn = o.get("warn").and_then(Value::as_bool).unwrap_or(false);
            let ignore = items(o, "/ignore").len();
            if ignore > 0 {
                format!("enabled (warn={warn}, ignored {ignore})")
            } else {
                format!("enabled (warn={warn})")
            }
        }
        _ => "disabled".into(),
    }
}

/// `argocd proj list` (`printProjectTable`/`printProjectLine`).
pub fn proj_list(projects: &[Value]) -> String {
    let mut rows = vec![
        [
            "NAME",
            "DESCRIPTION",
            "DESTINATIONS",
            "SOURCES",
            "CLUSTER-RESOURCE-WHITELIST",
            "NAMESPACE-RESOURCE-BLACKLIST",
            "SIGNATURE-KEYS",
            "ORPHANED-RESOURCES",
            "DESTINATION-SERVICE-ACCOUNTS",
        ]
        .map(str::to_owned)
        .to_vec(),
    ];
    let count = |n: usize, one: String, many: &str| match n {
        0 => "<none>".to_owned(),
        1 => one,
        n => format!("{n} {many}"),
    };
    for p in projects {
        let d = items(p, "/spec/destinations");
        let dests = count(
            d.len(),
            d.first()
                .map(|x| format!("{},{}", s(x, "/server"), s(x, "/namespace")))
                .unwrap_or_default(),
            "destinations",
        );
        let r = items(p, "/spec/sourceRepos");
        let srcs = count(
            r.len(),
            r.first().and_then(|x| x.as_str()).unwrap_or("").to_owned(),
            "repos",
        );
        let cw = items(p, "/spec/clusterResourceWhitelist");
        let cws = count(
            cw.len(),
            cw.first().map(|x| gk(x)).unwrap_or_default(),
            "resources",
        );
        let nb = items(p, "/spec/namespaceResourceBlacklist").len();
        let nbs = if nb == 0 {
            "<none>".into()
        } else {
            format!("{nb} resources")
        };
        let keys = items(p, "/spec/signatureKeys").len();
        let keys = if keys == 0 {
            "<none>".into()
        } else {
            format!("{keys} key(s)")
        };
        let sa = items(p, "/spec/destinationServiceAccounts");
        let sas = count(
            sa.len(),
            sa.first()
                .map(|x| {
                    format!(
                        "{},{},{}",
                        s(x, "/server"),
                        s(x, "/namespace"),
                        s(x, "/defaultServiceAccount")
                    )
                })
                .unwrap_or_default(),
            "destinationServiceAccounts",
        );
        rows.push(vec![
            s(p, "/metadata/name").to_owned(),
            s(p, "/spec/description").to_owned(),
            dests,
            srcs,
            cws,
            nbs,
            keys,
            orphaned(p),
            sas,
        ]);
    }
    table(&rows)
}

/// `argocd proj get` (`printProject`, `%-29s` lines); Sluice scopes no repositories or
/// clusters to projects yet (`<none>`).
pub fn proj_get(p: &Value) -> String {
    let mut o = String::new();
    let l = |o: &mut String, k: &str, v: &str| o.push_str(&format!("{k:<29}{v}\n"));
    let list = |o: &mut String, k: &str, vals: Vec<String>| {
        let mut it = vals.into_iter();
        l(o, k, &it.next().unwrap_or_else(|| "<none>".into()));
        for v in it {
            l(o, "", &v);
        }
    };
    l(&mut o, "Name:", s(p, "/metadata/name"));
    l(&mut o, "Description:", s(p, "/spec/description"));
    list(
        &mut o,
        "Destinations:",
        items(p, "/spec/destinations")
            .iter()
            .map(|x| format!("{},{}", s(x, "/server"), s(x, "/namespace")))
            .collect(),
    );
    let strs = |ptr: &str| -> Vec<String> {
        items(p, ptr)
            .iter()
            .filter_map(|x| x.as_str().map(str::to_owned))
            .collect()
    };
    list(&mut o, "Repositories:", strs("/spec/sourceRepos"));
    list(&mut o, "Source Namespaces:", strs("/spec/sourceNamespaces"));
    list(&mut o, "Scoped Repositories:", Vec::new());
    list(
        &mut o,
        "Allowed Cluster Resources:",
        items(p, "/spec/clusterResourceWhitelist")
            .iter()
            .map(|x| gk(x))
            .collect(),
    );
    list(&mut o, "Scoped Clusters:", Vec::new());
    list(
        &mut o,
        "Denied Namespaced Resources:",
        items(p, "/spec/namespaceResourceBlacklist")
            .iter()
            .map(|x| gk(x))
            .collect(),
    );
    let keys: Vec<&str> = items(p, "/spec/signatureKeys")
        .iter()
        .map(|k| s(k, "/keyID"))
        .collect();
    l(
        &mut o,
        "Signature keys:",
        &if keys.is_empty() {
            "<none>".into()
        } else {
            keys.join(", ")
        },
    );
    l(&mut o, "Orphaned Resources:", &orphaned(p));
    o
}

/// `argocd proj create NAME [-d SERVER,NAMESPACE]... [-s REPO]... [--description D]`.
pub fn proj_create(
    name: &str,
    namespace: &str,
    description: &str,
    dests: &[String],
    sources: &[String],
) -> Result<Value, String> {
    let mut d = Vec::new();
    for x in dests {
        let (server, ns) = x.split_once(',').ok_or_else(|| {
            format!("Expected destination of the form: server,namespace. Received: {x}")
        })?;
        d.push(json!({"server": server, "namespace": ns}));
    }
    let mut spec = json!({"destinations": d, "sourceRepos": sources});
    if !description.is_empty() {
        spec["description"] = json!(description);
    }
    Ok(
        json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "AppProject",
        "metadata": {"name": name, "namespace": namespace}, "spec": spec}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn app() -> Value {
        json!({
            "metadata": {"name": "guestbook", "namespace": "argocd"},
            "spec": {"project": "default",
                "source": {"repoURL": "https://github.com/argoproj/argocd-example-apps.git",
                    "path": "guestbook", "targetRevision": "HEAD"},
                "destination": {"server": "https://kubernetes.default.svc", "namespace": "default"},
                "syncPolicy": {"automated": {"prune": true}}},
            "status": {
                "sync": {"status": "Synced", "revision": "53e28ff20cc530b9ada2173fbbd64d48338583ba"},
                "health": {"status": "Healthy"},
                "resources": [
                    {"group": "apps", "kind": "Deployment", "namespace": "default", "name": "guestbook-ui", "status": "Synced", "health": {"status": "Healthy"}},
                    {"kind": "Service", "namespace": "default", "name": "guestbook-ui", "status": "Synced", "health": {"status": "Healthy"}}
                ],
                "operationState": {"phase": "Succeeded", "message": "successfully synced (all tasks run)",
                    "startedAt": "2024-03-01T10:00:00Z", "finishedAt": "2024-03-01T10:00:03Z",
                    "syncResult": {"revision": "53e28ff20cc530b9ada2173fbbd64d48338583ba", "resources": [
                        {"kind": "Service", "namespace": "default", "name": "guestbook-ui", "status": "Synced", "message": "service/guestbook-ui created", "hookPhase": "Running"},
                        {"group": "apps", "kind": "Deployment", "namespace": "default", "name": "guestbook-ui", "status": "Synced", "message": "deployment.apps/guestbook-ui created", "hookPhase": "Running"}]}},
                "history": [
                    {"id": 0, "revision": "aaaaaaa1111", "deployedAt": "2024-03-01T09:00:00Z", "source": {"repoURL": "https://github.com/argoproj/argocd-example-apps.git", "targetRevision": "HEAD"}},
                    {"id": 1, "revision": "53e28ff20cc530b9ada2173fbbd64d48338583ba", "deployedAt": "2024-03-01T10:00:03Z", "source": {"repoURL": "https://github.com/argoproj/argocd-example-apps.git", "targetRevision": "HEAD"}}
                ]
            }
        })
    }

    /// The shape of argocd's getting-started output (docs/getting_started.md "argocd app
    /// get guestbook"; cmd/argocd/commands/app.go printAppSummaryTable/printAppResources).
    #[test]
    fn get_prints_summary_and_resources_as_argocd() {
        let out = get(
            &app(),
            "https://localhost:8080/applications/guestbook",
            false,
            0,
        );
        let expected = "\
Name:               guestbook
Project:            default
Server:             https://kubernetes.default.svc
Namespace:          default
URL:                https://localhost:8080/applications/guestbook
Source:
- Repo:             https://github.com/argoproj/argocd-example-apps.git
  Target:           HEAD
  Path:             guestbook
SyncWindow:         Sync Allowed
Sync Policy:        Automated (Prune)
Sync Status:        Synced to HEAD (53e28ff)
Health Status:      Healthy

GROUP  KIND        NAMESPACE  NAME          STATUS  HEALTH   HOOK  MESSAGE
       Service     default    guestbook-ui  Synced  Healthy        service/guestbook-ui created
apps   Deployment  default    guestbook-ui  Synced  Healthy        deployment.apps/guestbook-ui created
";
        assert_eq!(out, expected);
    }

    #[test]
    fn list_columns_and_policy() {
        let mut a2 = app();
        a2["metadata"]["name"] = json!("b");
        a2["metadata"]["namespace"] = json!("team");
        a2["spec"]["syncPolicy"] = json!(null);
        a2["status"]["conditions"] =
            json!([{"type": "SyncError"}, {"type": "SyncError"}, {"type": "ComparisonError"}]);
        let out = app_list(&[app(), a2], false, false);
        assert_eq!(
            out,
            "NAME       CLUSTER                         NAMESPACE  PROJECT  STATUS  HEALTH   SYNCPOLICY  CONDITIONS\n\
             guestbook  https://kubernetes.default.svc  default    default  Synced  Healthy  Auto-Prune  <none>\n\
             team/b     https://kubernetes.default.svc  default    default  Synced  Healthy  Manual      SyncError(2),ComparisonError\n"
        );
        assert!(app_list(&[app()], true, true).contains("guestbook  HEAD"));
    }

    #[test]
    fn history_and_rollback_target() {
        let h = history(&app());
        assert_eq!(
            h,
            "SOURCE  https://github.com/argoproj/argocd-example-apps.git\n\
             ID      DATE                           REVISION\n\
             0       2024-03-01 09:00:00 +0000 UTC  HEAD (aaaaaaa)\n\
             1       2024-03-01 10:00:03 +0000 UTC  HEAD (53e28ff)\n"
        );
        assert_eq!(find_history(&app(), None).unwrap()["id"], 0);
        assert_eq!(find_history(&app(), Some(1)).unwrap()["id"], 1);
        assert_eq!(
            find_history(&app(), Some(7)).unwrap_err(),
            "Application 'guestbook' does not have deployment id '7' in history"
        );
        let entry = find_history(&app(), Some(0)).unwrap();
        assert_eq!(
            rollback_operation(&app(), &entry, false, false, "admin", "n").unwrap_err(),
            "rollback cannot be initiated when auto-sync is enabled"
        );
        let mut manual = app();
        manual["spec"]["syncPolicy"] = json!({});
        let op = rollback_operation(&manual, &entry, true, false, "admin", "n").unwrap();
        assert_eq!(op["sync"]["revision"], "aaaaaaa1111");
        assert_eq!(op["sync"]["prune"], true);
        assert_eq!(op["sync"]["source"]["targetRevision"], "HEAD");
    }

    #[test]
    fn sync_operation_as_the_server_builds_it() {
        let req = SyncRequest {
            revision: Some("v2".into()),
            username: "admin".into(),
            nonce: "x".into(),
            ..Default::default()
        };
        assert_eq!(
            sync_operation(&app(), &req).unwrap_err(),
            "Cannot sync to v2: auto-sync currently set to HEAD"
        );
        let mut manual = app();
        manual["spec"]["syncPolicy"] = Value::Null;
        let op = sync_operation(&manual, &req).unwrap();
        assert_eq!(op["sync"]["revision"], "v2");
        assert_eq!(op["info"][0]["value"], "x");
        let req = SyncRequest {
            resources: vec!["apps:Deployment:default/web".into(), ":Service:web".into()],
            ..Default::default()
        };
        let op = sync_operation(&app(), &req).unwrap();
        assert_eq!(op["sync"]["revision"], "HEAD");
        assert_eq!(
            op["sync"]["resources"],
            json!([{"group": "apps", "kind": "Deployment", "namespace": "default", "name": "web"},
                   {"group": "", "kind": "Service", "name": "web"}])
        );
        assert!(parse_resource("Deployment/web").is_err());
    }

    #[test]
    fn wait_and_operation_done() {
        let a = app();
        let all = Watch {
            sync: true,
            health: true,
            operation: true,
            ..Default::default()
        };
        assert!(wait_satisfied(&a, &all));
        let mut b = a.clone();
        b["operation"] = json!({"sync": {}});
        assert!(!wait_satisfied(&b, &all));
        assert!(wait_satisfied(
            &b,
            &Watch {
                health: true,
                ..Default::default()
            }
        ));
        b["status"]["health"]["status"] = json!("Degraded");
        assert!(!wait_satisfied(
            &b,
            &Watch {
                health: true,
                ..Default::default()
            }
        ));
        assert!(!operation_done(&a, "n"));
        let mut c = a.clone();
        c["status"]["operationState"]["operation"] =
            json!({"info": [{"name": "sluice-request", "value": "n"}]});
        assert!(operation_done(&c, "n"));
    }

    #[test]
    fn create_from_flags() {
        let req = CreateRequest {
            name: "guestbook".into(),
            namespace: "argocd".into(),
            repo: "file:///repo".into(),
            path: "guestbook".into(),
            dest_server: "https://kubernetes.default.svc".into(),
            dest_namespace: "default".into(),
            sync_policy: Some("automated".into()),
            auto_prune: true,
            ..Default::default()
        };
        let a = create_application(&req).unwrap();
        assert_eq!(a["spec"]["source"]["targetRevision"], "HEAD");
        assert_eq!(a["spec"]["project"], "default");
        assert_eq!(
            a["spec"]["syncPolicy"]["automated"],
            json!({"prune": true, "selfHeal": false})
        );
        let bad = CreateRequest {
            sync_policy: Some("sometimes".into()),
            ..req.clone()
        };
        assert!(create_application(&bad).is_err());
        assert!(
            create_application(&CreateRequest {
                repo: String::new(),
                ..req
            })
            .is_err()
        );
    }

    #[test]
    fn operation_result_lines() {
        let st = &app()["status"]["operationState"];
        assert_eq!(
            operation_result(st, 0),
            "Operation:          Sync\n\
             Sync Revision:      53e28ff20cc530b9ada2173fbbd64d48338583ba\n\
             Phase:              Succeeded\n\
             Start:              2024-03-01 10:00:00 +0000 UTC\n\
             Finished:           2024-03-01 10:00:03 +0000 UTC\n\
             Duration:           3s\n\
             Message:            successfully synced (all tasks run)\n"
        );
    }

    #[test]
    fn secret_names_as_argo_cd_hashes_them() {
        // FNV-1a 32 test vectors (Go hash/fnv: "" -> 0x811c9dc5, "a" -> 0xe40c292c)
        assert_eq!(fnv32a(&[""]), 0x811c_9dc5);
        assert_eq!(fnv32a(&["a"]), 0xe40c_292c);
        assert_eq!(fnv32a(&["fo", "obar"]), fnv32a(&["foobar"]));
        assert_eq!(
            repo_secret_name(
                "repo",
                "https://github.com/argoproj/argocd-example-apps",
                ""
            ),
            format!(
                "repo-{}",
                fnv32a(&["https://github.com/argoproj/argocd-example-apps"])
            )
        );
        let n = cluster_secret_name("https://Prod.Example.com:6443/x").unwrap();
        assert!(n.starts_with("cluster-prod.example.com-"), "{n}");
        let n = cluster_secret_name("https://[fe80::1]:6443").unwrap();
        assert!(n.starts_with("cluster-fe80--1-"), "{n}");
        assert!(cluster_secret_name("not a url").is_err());
    }

    #[test]
    fn repo_secrets_and_list() {
        let req = RepoRequest {
            url: "https://git.example.com/team/app.git".into(),
            username: "u".into(),
            password: "p".into(),
            ..Default::default()
        };
        let sec = repo_secret(&req, "argocd", false);
        assert_eq!(
            sec["metadata"]["labels"]["argocd.argoproj.io/secret-type"],
            "repository"
        );
        assert_eq!(sec["stringData"]["type"], "git");
        assert!(sec["stringData"].get("insecure").is_none());
        let creds = repo_secret(
            &RepoRequest {
                url: "https://git.example.com/team".into(),
                username: "bot".into(),
                ..Default::default()
            },
            "argocd",
            true,
        );
        assert_eq!(
            creds["metadata"]["labels"]["argocd.argoproj.io/secret-type"],
            "repo-creds"
        );
        assert!(
            creds["metadata"]["name"]
                .as_str()
                .unwrap()
                .starts_with("creds-")
        );
        let m = |pairs: &[(&str, &str)]| -> std::collections::BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let out = repo_list(
            &[
                m(&[
                    ("url", "https://git.example.com/team/app.git"),
                    ("type", "git"),
                ]),
                m(&[
                    ("url", "https://other/x"),
                    ("username", "u"),
                    ("insecure", "true"),
                ]),
            ],
            &[m(&[("url", "https://git.example.com/team")])],
        );
        assert_eq!(
            out,
            "TYPE  NAME  REPO                                  INSECURE  OCI    LFS    CREDS      STATUS   MESSAGE  PROJECT\n\
             git         https://git.example.com/team/app.git  false     false  false  inherited  Unknown           \n\
             git         https://other/x                       true      false  false  true       Unknown           \n"
        );
    }

    #[test]
    fn projects() {
        let p = proj_create(
            "team",
            "argocd",
            "the team",
            &["https://kubernetes.default.svc,team-*".into()],
            &["*".into()],
        )
        .unwrap();
        assert_eq!(
            proj_list(std::slice::from_ref(&p)).lines().nth(1).unwrap(),
            "team  the team     https://kubernetes.default.svc,team-*  *        <none>                      <none>                        <none>          disabled            <none>"
        );
        let g = proj_get(&p);
        assert!(g.starts_with("Name:                        team\n"), "{g}");
        assert!(g.contains("Destinations:                https://kubernetes.default.svc,team-*\n"));
        assert!(proj_create("x", "argocd", "", &["nocomma".into()], &[]).is_err());
    }

    #[test]
    fn live_projected_on_the_desired_fields() {
        let live = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "a", "namespace": "n", "uid": "x", "labels": {"k": "v", "extra": "1"}},
            "data": {"greeting": "hello", "other": "x"},
            "spec": {"ports": [{"port": 80, "protocol": "TCP"}]}});
        let target = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "a", "namespace": "n", "labels": {"k": "v"}},
            "data": {"greeting": "bonjour", "new": "y"},
            "spec": {"ports": [{"port": 81}]}});
        assert_eq!(
            project_live(&live, &target),
            json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "a", "namespace": "n", "labels": {"k": "v"}},
                "data": {"greeting": "hello"}, "spec": {"ports": [{"port": 80}]}})
        );
        assert_eq!(diff_header(&target), "===== /ConfigMap n/a ======\n");
    }

    #[test]
    fn appset_list_and_get() {
        let set = json!({"metadata": {"name": "guestbook", "namespace": "argocd"},
            "spec": {"syncPolicy": {"preserveResourcesOnDeletion": true},
                "template": {"spec": {"project": "default",
                    "source": {"repoURL": "https://r", "path": "apps", "targetRevision": "HEAD"},
                    "destination": {"server": "https://kubernetes.default.svc", "namespace": "gb"},
                    "syncPolicy": {"automated": {"prune": true}}}}},
            "status": {"conditions": [
                {"type": "ErrorOccurred", "status": "False", "message": "none", "lastTransitionTime": "2024-01-01T00:00:00Z"},
                {"type": "ResourcesUpToDate", "status": "True", "message": "All applications have been generated successfully", "lastTransitionTime": "2024-01-01T00:00:00Z"}]}});
        assert_eq!(
            appset_list(std::slice::from_ref(&set), false),
            "NAME       PROJECT  SYNCPOLICY                           CONDITIONS\n\
             guestbook  default  &{preserveResourcesOnDeletion=true}  [ResourcesUpToDate]\n"
        );
        let g = appset_get(&set);
        assert!(g.starts_with("Name:               guestbook\nProject:            default\nServer:             https://kubernetes.default.svc\nNamespace:          gb\nSource:\n- Repo:             https://r\n"), "{g}");
        assert!(g.contains("SyncPolicy:         Automated (Prune)\n"), "{g}");
        assert!(g.contains("CONDITION          STATUS  MESSAGE"), "{g}");
    }

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            "\\PC{0,24}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::vec(
                    (
                        prop_oneof![
                            Just("metadata".to_owned()),
                            Just("spec".to_owned()),
                            Just("status".to_owned()),
                            Just("history".to_owned()),
                            Just("resources".to_owned()),
                            Just("operationState".to_owned()),
                            Just("revision".to_owned()),
                            Just("deployedAt".to_owned()),
                            Just("source".to_owned()),
                            Just("conditions".to_owned()),
                            "[a-z]{1,8}"
                        ],
                        inner
                    ),
                    0..5
                )
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn parsers_never_panic(text in "\\PC{0,64}") {
            let _ = parse_resource(&text);
            let _ = cluster_secret_name(&text);
            let _ = go_time(&json!(text));
            let _ = proj_create("p", "argocd", "", std::slice::from_ref(&text), std::slice::from_ref(&text));
            let _ = sync_policy_patch(Some(&text), false, false, &[]);
        }

        #[test]
        fn printing_never_panics_on_any_object(v in arb_json(), w in arb_json()) {
            let apps = [v.clone(), w.clone()];
            let _ = app_list(&apps, true, false);
            let _ = get(&v, "u", true, 0);
            let _ = final_status(&w, "u", true, 0);
            let _ = history(&v);
            let _ = find_history(&v, None);
            let _ = find_history(&v, Some(1));
            let _ = sync_operation(&v, &SyncRequest::default());
            let _ = wait_satisfied(&v, &Watch { sync: true, health: true, operation: true, ..Default::default() });
            let _ = proj_list(&apps);
            let _ = proj_get(&w);
            let _ = appset_list(&apps, true);
            let _ = appset_get(&v);
            let _ = project_live(&v, &w);
            let _ = diff_header(&v);
        }
    }

    #[test]
    fn tree_view_as_argocd_draws_it() {
        let node =
            |uid: &str, kind: &str, name: &str, health: &str, parent: Option<&str>| TreeNode {
                uid: uid.into(),
                group: String::new(),
                kind: kind.into(),
                namespace: "default".into(),
                name: name.into(),
                health: health.into(),
                parent: parent.map(str::to_owned),
            };
        let nodes = vec![
            node("d", "Deployment", "guestbook-ui", "Healthy", None),
            node("rs", "ReplicaSet", "guestbook-ui-5f", "Healthy", Some("d")),
            node("p1", "Pod", "guestbook-ui-5f-a", "Healthy", Some("rs")),
            node("p2", "Pod", "guestbook-ui-5f-b", "Healthy", Some("rs")),
            node("s", "Service", "guestbook-ui", "Healthy", None),
        ];
        assert_eq!(
            tree(&app(), &nodes),
            "KIND/NAME                     STATUS  HEALTH   MESSAGE\n\
             Deployment/guestbook-ui       Synced  Healthy  deployment.apps/guestbook-ui created\n\
             └─ReplicaSet/guestbook-ui-5f          Healthy  \n  \
               ├─Pod/guestbook-ui-5f-a             Healthy  \n  \
               └─Pod/guestbook-ui-5f-b             Healthy  \n\
             Service/guestbook-ui          Synced  Healthy  service/guestbook-ui created\n"
        );
        assert_eq!(print_prefix("├─├─"), "│ ├─");
        assert_eq!(print_prefix("└─├─"), "  ├─");
        assert_eq!(print_prefix("├─└─"), "│ └─");
    }

    #[test]
    fn wait_progress_lines() {
        let mut w = WaitPrinter::new();
        let first = w.step(&app(), "2024-03-01T10:00:00+00:00");
        let lines: Vec<&str> = first.lines().collect();
        assert_eq!(lines.len(), 3, "{first}");
        assert!(lines[0].starts_with("TIMESTAMP                  GROUP        KIND   NAMESPACE                  NAME    STATUS   HEALTH        HOOK  MESSAGE"), "{first}");
        assert!(
            lines[1].ends_with(
                "   Service     default          guestbook-ui    Synced  Healthy              service/guestbook-ui created"
            ),
            "{first}"
        );
        // nothing changed: nothing printed; a change prints the merged state again
        assert_eq!(w.step(&app(), "t"), "");
        let mut a2 = app();
        a2["status"]["resources"][1]["health"]["status"] = json!("Degraded");
        let next = w.step(&a2, "2024-03-01T10:00:05+00:00");
        assert_eq!(next.lines().count(), 1, "{next}");
        assert!(next.contains("Degraded"), "{next}");
    }
}
