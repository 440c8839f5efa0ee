//! Argo CD RBAC: argo-cd assets/model.conf (glob matches, `some allow && !some deny`),
//! assets/builtin-policy.csv (role:readonly, role:admin), util/rbac/rbac.go `enforce`
//! (policy.default first; it cannot be denied), docs operator-manual/rbac.md (p/g lines,
//! scopes, policy.matchMode: glob|regex).

use std::collections::BTreeMap;

use serde_json::json;
use sluice_auth::argocd::{Policy, glob_to_regex, parse_lines};

/// The shape of the seed's argocd-rbac-cm (a platform team, developers, viewers).
const SEED_LIKE: &str = "# platform team\ng, platform-team, role:admin\np, role:developer, applications, get, */*, allow\np, role:developer, applications, sync, */*, allow\np, role:developer, logs, get, */*, allow\ng, developers, role:developer\np, role:viewer, applications, get, */*, allow\ng, viewers, role:viewer\n";

fn policy(csv: &str, default: &str) -> Policy {
    Policy::new(
        &[("policy.csv".into(), csv.into())],
        default,
        "[groups, email]",
        "",
    )
    .expect("valid")
    .0
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

#[test]
fn seed_roles() {
    let p = policy(SEED_LIKE, "role:readonly");
    let dev = s(&["alice", "developers"]);
    assert!(p.enforce(&dev, "applications", "get", "default/guestbook"));
    assert!(p.enforce(&dev, "applications", "sync", "default/guestbook"));
    assert!(!p.enforce(&dev, "applications", "delete", "default/guestbook"));
    let viewer = s(&["bob", "viewers"]);
    assert!(p.enforce(&viewer, "applications", "get", "default/guestbook"));
    assert!(!p.enforce(&viewer, "applications", "sync", "default/guestbook"));
    // others fall to policy.default: readonly
    let other = s(&["carol"]);
    assert!(p.enforce(&other, "clusters", "get", "https://kubernetes.default.svc"));
    assert!(!p.enforce(&other, "applications", "sync", "default/x"));
    let admin = s(&["dan", "platform-team"]);
    assert!(p.enforce(&admin, "applications", "delete", "prod/x"));
    assert!(
        p.enforce(&admin, "clusters", "get", "x"),
        "role:admin inherits role:readonly"
    );
    assert!(
        p.enforce(&s(&["admin"]), "projects", "create", "p"),
        "the built-in admin user"
    );
    // no default: nothing
    let p = policy(SEED_LIKE, "");
    assert!(!p.enforce(&other, "clusters", "get", "x"));
}

#[test]
fn deny_wins_and_globs() {
    let p = policy(
        "p, role:dev, applications, *, team-a/*, allow\np, role:dev, applications, delete, team-a/prod-*, deny\ng, dev, role:dev\np, ops, applications, action/apps/Deployment/*, */*, allow\np, ops, applications, \"{get,sync}\", [ab]?/*, allow\n",
        "",
    );
    assert!(p.enforce(&s(&["dev"]), "applications", "delete", "team-a/dev-1"));
    assert!(
        !p.enforce(&s(&["dev"]), "applications", "delete", "team-a/prod-1"),
        "deny wins"
    );
    assert!(p.enforce(&s(&["dev"]), "applications", "sync", "team-a/prod-1"));
    assert!(!p.enforce(&s(&["dev"]), "applications", "get", "team-b/x"));
    assert!(p.enforce(
        &s(&["ops"]),
        "applications",
        "action/apps/Deployment/restart",
        "p/a"
    ));
    assert!(p.enforce(&s(&["ops"]), "applications", "sync", "a1/x"));
    assert!(!p.enforce(&s(&["ops"]), "applications", "delete", "a1/x"));
    assert!(!p.enforce(&s(&["ops"]), "applications", "get", "c1/x"));
    // `*` crosses `/` (gobwas glob without separators)
    assert!(
        regex::Regex::new(&glob_to_regex("*").expect("glob"))
            .expect("re")
            .is_match("a/b/c")
    );
    // a deny cannot take away the default role
    let p = policy("p, carol, applications, get, */*, deny\n", "role:readonly");
    assert!(p.enforce(&s(&["carol"]), "applications", "get", "x/y"));
}

#[test]
fn regex_mode_and_scopes() {
    let (p, _) = Policy::new(
        &[(
            "policy.csv".into(),
            "p, dev, applications, (get|sync), team-a/.*, allow\n".into(),
        )],
        "",
        "[groups]",
        "regex",
    )
    .expect("valid");
    assert!(p.enforce(&s(&["dev"]), "applications", "sync", "team-a/x"));
    assert!(!p.enforce(&s(&["dev"]), "applications", "sync", "team-b/x"));
    let claims = json!({"sub": "u1", "groups": ["dev", "x"], "email": "u@x"});
    assert_eq!(p.claim_subjects(&claims), s(&["u1", "dev", "x"]));
    let p = policy("", "");
    assert_eq!(p.claim_subjects(&claims), s(&["u1", "dev", "x", "u@x"]));
    let mut data = BTreeMap::new();
    data.insert("policy.csv".to_string(), "g, a, role:admin\n".to_string());
    data.insert(
        "policy.overlay.csv".to_string(),
        "g, b, role:admin\n".to_string(),
    );
    let (p, _) = Policy::from_configmap_data(&data, "cm").expect("valid");
    assert!(
        p.enforce(&s(&["b"]), "clusters", "delete", "c"),
        "policy.*.csv overlays"
    );
}

#[test]
fn parse_errors_with_lines() {
    let e = parse_lines("p.csv", "# c\n\np, a, applications, get, */*\n").expect_err("5 fields");
    assert_eq!(
        (
            e.line,
            e.to_string().starts_with("p.csv:3: a p line has 5 fields")
        ),
        (3, true)
    );
    let e = parse_lines("p.csv", "p, a, applications, get, x, maybe\n").expect_err("effect");
    assert!(e.msg.contains("\"maybe\""));
    let e = parse_lines("p.csv", "g, a\n").expect_err("g fields");
    assert_eq!(e.line, 1);
    let e = parse_lines("p.csv", "x, a, b\n").expect_err("kind");
    assert!(e.msg.contains("\"p\" or \"g\""));
    let (_, w) = parse_lines("p.csv", "p, a, aplications, get, x, allow\n").expect("parses");
    assert!(w[0].msg.contains("unknown resource \"aplications\""));
    let (_, w) = Policy::new(
        &[(
            "p.csv".into(),
            "p, a, applications, get, [x, allow\n".into(),
        )],
        "",
        "",
        "",
    )
    .expect("loads");
    assert!(w.iter().any(|w| w.msg.contains("matches nothing")), "{w:?}");
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    #[test]
    fn policy_parser_never_panics(text in "[pg, a-z*/#\\[\\]{}?\\\\\"\n]{0,200}") {
        let _ = parse_lines("p.csv", &text);
        let _ = Policy::new(&[("p.csv".into(), text.clone())], "role:readonly", &text, "");
    }

    #[test]
    fn written_lines_enforce(
        subj in "[a-z]{1,8}", res in "(applications|clusters|logs)", act in "[a-z]{1,8}",
        proj in "[a-z]{1,8}", app in "[a-z0-9-]{1,8}",
    ) {
        let obj = format!("{}/{}", proj, app);
        let p = policy(&format!("p, {}, {}, {}, {}/*, allow\n", subj, res, act, proj), "");
        proptest::prop_assert!(p.enforce(std::slice::from_ref(&subj), &res, &act, &obj));
        let stranger = vec![subj.clone() + "x"];
        proptest::prop_assert!(!p.enforce(&stranger, &res, &act, &obj));
        let denied = policy(&format!("p, {0}, {1}, {2}, {3}/*, allow\np, {0}, {1}, *, */{4}, deny\n", subj, res, act, proj, app), "");
        proptest::prop_assert!(!denied.enforce(&[subj], &res, &act, &obj));
    }
}
