//! The pipeline task graph, as tektoncd/pipeline `pkg/reconciler/pipeline/dag/dag.go`:
//! nodes are pipeline tasks, edges come from `runAfter` and result references, a cycle or a
//! dependency on an unknown task is an error, and the candidates to schedule are the tasks
//! whose parents are all done.

use std::collections::{BTreeSet, HashMap, HashSet};

use crate::Error;

/// One node: a pipeline task and the tasks it waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub name: String,
    pub prev: Vec<String>,
}

/// A directed acyclic graph of pipeline tasks, in declaration order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dag {
    pub nodes: Vec<Node>,
    index: HashMap<String, usize>,
}

impl Dag {
    /// Builds the graph from `(task, dependencies)` pairs.
    pub fn build(tasks: &[(String, Vec<String>)]) -> Result<Dag, Error> {
        let mut dag = Dag::default();
        for (name, _) in tasks {
            if dag.index.contains_key(name) {
                return Err(Error::Dag(format!("duplicate pipeline task {name:?}")));
            }
            dag.index.insert(name.clone(), dag.nodes.len());
            dag.nodes.push(Node {
                name: name.clone(),
                prev: Vec::new(),
            });
        }
        for (name, deps) in tasks {
            let i = dag.index[name];
            for d in deps {
                if !dag.index.contains_key(d) {
                    return Err(Error::Dag(format!(
                        "task {name} depends on {d} but {d} wasn't present in Pipeline"
                    )));
                }
                if d == name {
                    return Err(Error::Dag(format!(
                        "cycle detected; task {name:?} depends on itself"
                    )));
                }
                if !dag.nodes[i].prev.contains(d) {
                    dag.nodes[i].prev.push(d.clone());
                }
            }
        }
        dag.check_cycles()?;
        Ok(dag)
    }

    fn check_cycles(&self) -> Result<(), Error> {
        // 0 unvisited, 1 on stack, 2 done
        let mut mark = vec![0u8; self.nodes.len()];
        for start in 0..self.nodes.len() {
            if mark[start] != 0 {
                continue;
            }
            let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
            mark[start] = 1;
            while let Some((n, next)) = stack.pop() {
                if next < self.nodes[n].prev.len() {
                    stack.push((n, next + 1));
                    let p = self.index[&self.nodes[n].prev[next]];
                    match mark[p] {
                        0 => {
                            mark[p] = 1;
                            stack.push((p, 0));
                        }
                        1 => {
                            let mut path: Vec<&str> = stack
                                .iter()
                                .map(|(i, _)| self.nodes[*i].name.as_str())
                                .collect();
                            let from = path
                                .iter()
                                .position(|x| *x == self.nodes[p].name)
                                .unwrap_or(0);
                            path = path.split_off(from);
                            path.push(&self.nodes[p].name);
                            return Err(Error::Dag(format!(
                                "cycle detected; task {:?} depends on {:?}: {}",
                                self.nodes[n].name,
                                self.nodes[p].name,
                                path.join(" -> ")
                            )));
                        }
                        _ => {}
                    }
                } else {
                    mark[n] = 2;
                }
            }
        }
        Ok(())
    }

    pub fn node(&self, name: &str) -> Option<&Node> {
        self.index.get(name).map(|&i| &self.nodes[i])
    }

    /// `GetCandidateTasks`: tasks not yet `started` whose parents are all in `done`, in
    /// declaration order.
    pub fn candidates(&self, done: &HashSet<String>, started: &HashSet<String>) -> Vec<String> {
        self.nodes
            .iter()
            .filter(|n| !started.contains(&n.name) && n.prev.iter().all(|p| done.contains(p)))
            .map(|n| n.name.clone())
            .collect()
    }

    /// Every task reachable from `name` through `prev` edges (its ancestors).
    pub fn ancestors(&self, name: &str) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        let mut todo = vec![name.to_owned()];
        while let Some(n) = todo.pop() {
            if let Some(node) = self.node(&n) {
                for p in &node.prev {
                    if out.insert(p.clone()) {
                        todo.push(p.clone());
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(name: &str, deps: &[&str]) -> (String, Vec<String>) {
        (name.into(), deps.iter().map(|s| s.to_string()).collect())
    }

    // tektoncd/pipeline pkg/reconciler/pipeline/dag/dag_test.go: roots are candidates first;
    // a task is a candidate once all its parents are done.
    #[test]
    fn candidates_follow_the_edges() {
        let d = Dag::build(&[
            t("a", &[]),
            t("b", &["a"]),
            t("c", &["a"]),
            t("d", &["b", "c"]),
        ])
        .unwrap();
        let none = HashSet::new();
        assert_eq!(d.candidates(&none, &none), ["a"]);
        let done: HashSet<String> = ["a".to_owned()].into();
        assert_eq!(d.candidates(&done, &done), ["b", "c"]);
        let done: HashSet<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        assert_eq!(d.candidates(&done, &done), ["d"]);
        assert_eq!(
            d.ancestors("d").into_iter().collect::<Vec<_>>(),
            ["a", "b", "c"]
        );
    }

    // dag.go `Build` fails on cycles (`findCyclesInDependencies`) and on unknown tasks.
    #[test]
    fn cycles_and_unknown_tasks_are_errors() {
        let e = Dag::build(&[t("a", &["c"]), t("b", &["a"]), t("c", &["b"])]).unwrap_err();
        assert!(e.to_string().contains("cycle detected"), "{e}");
        let e = Dag::build(&[t("a", &["zz"])]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "task a depends on zz but zz wasn't present in Pipeline"
        );
    }
}
