//! Matrix fan-out (docs/matrix.md; tektoncd/pipeline `pkg/apis/pipeline/v1/matrix_types.go`
//! `FanOut`): the cartesian product of the matrix params, then `include` entries either
//! fill in params of the combinations they match or add combinations of their own.

use sluice_apis::tekton::matrix::Matrix;
use sluice_apis::tekton::param::{Param, ParamValue};

use crate::Error;

fn pv(name: &str, v: &str) -> Param {
    Param {
        name: name.to_owned(),
        value: ParamValue::String(v.to_owned()),
    }
}

/// Every combination's params, in Tekton's order (the first param varies fastest).
pub fn combinations(m: &Matrix, max: usize) -> Result<Vec<Vec<Param>>, Error> {
    let mut combos: Vec<Vec<Param>> = Vec::new();
    if !m.params.is_empty() {
        combos.push(Vec::new());
        for p in &m.params {
            let values: Vec<String> = match &p.value {
                ParamValue::Array(a) => a.clone(),
                ParamValue::String(s) => vec![s.clone()],
                ParamValue::Object(_) => {
                    return Err(Error::Resolve(format!(
                        "matrix param {:?} must be an array",
                        p.name
                    )));
                }
            };
            let mut next = Vec::with_capacity(combos.len() * values.len());
            for v in &values {
                for c in &combos {
                    let mut c = c.clone();
                    c.push(pv(&p.name, v));
                    next.push(c);
                }
            }
            combos = next;
        }
    }
    let matrix_names: Vec<&str> = m.params.iter().map(|p| p.name.as_str()).collect();
    for inc in &m.include {
        let (in_matrix, extra): (Vec<&Param>, Vec<&Param>) = inc
            .params
            .iter()
            .partition(|p| matrix_names.contains(&p.name.as_str()));
        if m.params.is_empty() {
            combos.push(inc.params.clone());
            continue;
        }
        let matches = |c: &Vec<Param>| {
            in_matrix.iter().all(|ip| {
                c.iter()
                    .any(|cp| cp.name == ip.name && cp.value == ip.value)
            })
        };
        let matched: Vec<usize> = (0..combos.len()).filter(|&i| matches(&combos[i])).collect();
        if matched.is_empty() {
            combos.push(inc.params.clone());
        } else {
            for i in matched {
                for e in &extra {
                    combos[i].retain(|p| p.name != e.name);
                    combos[i].push((*e).clone());
                }
            }
        }
    }
    if combos.len() > max {
        return Err(Error::Resolve(format!(
            "expected 0 <= {} <= {max}: matrix combinations exceed the limit of {max} (default-max-matrix-combinations-count)",
            combos.len()
        )));
    }
    Ok(combos)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(c: &[Vec<Param>]) -> Vec<String> {
        c.iter()
            .map(|ps| {
                ps.iter()
                    .map(|p| match &p.value {
                        ParamValue::String(s) => format!("{}={s}", p.name),
                        _ => String::new(),
                    })
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .collect()
    }

    // docs/matrix.md "Specifying both params and include": an include whose matrix params
    // match adds its other params to the matching combinations; one matching none adds a
    // new combination; an include with only new params adds them to every combination.
    #[test]
    fn fan_out_with_include() {
        let m: Matrix = serde_json::from_value(serde_json::json!({
            "params": [{"name": "GOARCH", "value": ["amd64", "ppc64le"]},
                       {"name": "version", "value": ["go1.17", "go1.18.1"]}],
            "include": [
                {"name": "common", "params": [{"name": "package", "value": "common"}]},
                {"name": "go117", "params": [{"name": "version", "value": "go1.17"},
                                              {"name": "flags", "value": "-cover"}]},
                {"name": "s390x", "params": [{"name": "GOARCH", "value": "s390x"},
                                              {"name": "flags", "value": "-race"}]}
            ]
        }))
        .unwrap();
        let c = combinations(&m, 256).unwrap();
        assert_eq!(
            names(&c),
            [
                "GOARCH=amd64,version=go1.17,package=common,flags=-cover",
                "GOARCH=ppc64le,version=go1.17,package=common,flags=-cover",
                "GOARCH=amd64,version=go1.18.1,package=common",
                "GOARCH=ppc64le,version=go1.18.1,package=common",
                "GOARCH=s390x,flags=-race",
            ]
        );
        assert!(combinations(&m, 4).is_err());
    }
}
