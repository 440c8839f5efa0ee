//! Tekton validation rules, one small manifest set per area, each finding pinned with its
//! path and message. Upstream sources: tektoncd/pipeline pkg/apis/pipeline/v1
//! (task_validation.go, pipeline_validation.go, pipelinerun_validation.go,
//! when_validation.go, param_types.go), pkg/reconciler/pipeline/dag/dag.go and
//! pkg/substitution/substitution.go.

use sluice_apis::manifests::{Options, SourceFile, validate_files};

/// `line:col severity path: message` for every finding of `yaml`.
fn findings(yaml: &str) -> Vec<String> {
    let report = validate_files(
        &[SourceFile {
            name: "t.yaml".into(),
            text: yaml.into(),
        }],
        &Options::default(),
    );
    report
        .findings
        .iter()
        .map(|f| {
            format!(
                "{}:{} {} {}: {}",
                f.line, f.column, f.severity, f.path, f.message
            )
        })
        .collect()
}

fn assert_has(found: &[String], expected: &[&str]) {
    for e in expected {
        assert!(
            found.iter().any(|f| f.starts_with(e)),
            "missing {e:?} in\n{}",
            found.join("\n")
        );
    }
    assert_eq!(
        found.len(),
        expected.len(),
        "unexpected findings:\n{}",
        found.join("\n")
    );
}

#[test]
fn task_rules() {
    let found = findings(include_str!("tekton_rules/task.yaml"));
    assert_has(
        &found,
        &[
            // knative ValidateObjectMetadata: names are DNS-1123 subdomains
            "4:3 error metadata.name: invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain",
            // param_types.go ValidateParameterTypes / validateParameterNames
            "8:5 error spec.params[1].name: parameter appears more than once: \"p\"",
            "16:5 error spec.params[4].type: invalid value: number",
            // task_validation.go validateStep: "script cannot be used with command"
            "20:5 error spec.steps[0].script: script cannot be used with command",
            // ValidateParameterVariables: undeclared param and object key, misused array
            "20:5 error spec.steps[0].script: non-existent variable in \"echo $(params.nope)",
            "20:5 error spec.steps[0].script: variable type invalid in \"echo $(params.nope)",
            // step names are unique
            "22:5 error spec.steps[1].name: invalid value: s1",
            // substitution.ValidateVariableReferenceIsIsolated
            "24:12 error spec.steps[1].args[0]: variable is not properly isolated in \"x$(params.arr[*])\"",
            "25:5 error spec.steps[2].image: missing field(s)",
            "26:5 error spec.steps[2].onError: invalid value: \"explode\": Task step onError must be either \"continue\" or \"stopAndFail\"",
            // strict decoding
            "30:5 error spec.steps[3].unknownField: unknown field \"spec.steps[3].unknownField\"",
        ],
    );
}

#[test]
fn pipeline_rules() {
    let found = findings(include_str!("tekton_rules/pipeline.yaml"));
    assert_has(
        &found,
        &[
            // dag.go: cycle named by its first edge
            "8:3 error spec.tasks: invalid value: cycle detected; task \"a\" depends on \"b\"",
            "15:5 error spec.tasks[1]: expected exactly one, got both: taskRef, taskSpec",
            // dag.go linkPipelineTasks
            "16:19 error spec.tasks[1].runAfter[1]: invalid value: couldn't add link between b and ghost: task b depends on ghost but ghost wasn't present in Pipeline",
            "18:7 warning spec.tasks[1].taskRef.name: Task \"some-task\" not found among the inputs",
            "24:7 error spec.tasks[2].params[0].value: invalid value: couldn't add link between c and zz",
            // when_validation.go
            "27:7 error spec.tasks[2].when[0].operator: invalid value: operator \"equals\" is not recognized. valid operators: in,notin",
            "28:7 error spec.tasks[2].when[0].values: expecting non-empty values field",
            // validatePipelineTaskName: unique names
            "32:5 error spec.tasks[3].name: expected exactly one, got both",
            "33:15 warning spec.tasks[3].taskRef.name: Task \"t2\" not found among the inputs",
            // validateFinalTasks
            "36:5 error spec.finally[0].runAfter: invalid value: no runAfter allowed under spec.finally, final task f has runAfter specified",
        ],
    );
}

#[test]
fn references_across_objects() {
    let found = findings(include_str!("tekton_rules/refs.yaml"));
    assert_has(
        &found,
        &[
            "25:5 error spec.tasks[0].workspaces: workspace \"source\" is required by Task \"build\" but not bound by pipeline task \"build\"",
            "27:5 error spec.tasks[0].params: missing parameters: [image]",
            "29:7 error spec.tasks[0].params[0].value: param types don't match the user-specified type: [flags]",
            "30:7 warning spec.tasks[0].params[1].name: param \"extra\" is not declared by Task \"build\"",
            "33:15 warning spec.tasks[1].taskRef.name: Task \"missing-task\" not found among the inputs",
            "36:7 error spec.tasks[1].params[0].value: invalid value: result \"nodigest\" is not declared by pipeline task \"build\"",
            // pipelinerun_validation.go: pipelineRef xor pipelineSpec; timeouts
            "41:1 error spec: expected exactly one, got both: pipelineRef, pipelineSpec",
            "46:5 error spec.timeouts.tasks: invalid value: 2h should be <= pipeline duration",
        ],
    );
}

#[test]
fn v1beta1_is_converted_and_cycles_named() {
    // A v1beta1 Task with step `resources` converts to v1 `computeResources` cleanly
    // (v1beta1/task_conversion.go); the only finding is the Pipeline's cycle.
    let found = findings(include_str!("tekton_rules/v1beta1.yaml"));
    assert_has(
        &found,
        &["16:3 error spec.tasks: invalid value: cycle detected; task \"a\" depends on \"c\""],
    );
}
