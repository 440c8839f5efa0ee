//! The pipeline task graph, as tektoncd/pipeline `pkg/reconciler/pipeline/dag/dag.go`:
//! nodes are pipeline tasks, edges come from `runAfter` and result references, a cycle or a
//! dependency on an unknown task is an error, and the candidates to schedule are the tasks
//! whose parents are all done.
//!
//! Everything here is linear in tasks plus edges (n log n where names are sorted): building
//! and cycle detection (Kahn's algorithm, shared with validation), ancestors, and the
//! incremental [`Schedule`] a run uses instead of recomputing candidates on every event.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use sluice_apis::tekton::pipeline::find_cycle;

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
    /// `prev` as indices, distinct.
    prev: Vec<Vec<usize>>,
    /// The reverse edges: the tasks waiting for each task.
    next: Vec<Vec<usize>>,
}

impl Dag {
    /// Builds the graph from `(task, dependencies)` pairs, failing as dag.go `Build` does:
    /// a duplicate task first, then a cycle (`findCyclesInDependencies`, the message naming
    /// the smallest remaining task and its remaining dependencies), then a dependency on a
    /// task that is not in the pipeline (`addLink`).
    pub fn build(tasks: &[(String, Vec<String>)]) -> Result<Dag, Error> {
        let mut dag = Dag::default();
        for (name, _) in tasks {
            if dag.index.contains_key(name) {
                return Err(Error::Dag(format!(
                    "task {name} is already present in Graph, can't add it again: duplicate pipeline task"
                )));
            }
            dag.index.insert(name.clone(), dag.nodes.len());
            dag.nodes.push(Node {
                name: name.clone(),
                prev: Vec::new(),
            });
        }
        // dag.go passes only the tasks that have dependencies.
        let deps: BTreeMap<String, Vec<String>> = tasks
            .iter()
            .filter(|(_, d)| !d.is_empty())
            .map(|(n, d)| (n.clone(), d.clone()))
            .collect();
        if let Some(msg) = find_cycle(&deps) {
            return Err(Error::Dag(format!("cycle detected; {msg}")));
        }
        dag.prev = vec![Vec::new(); dag.nodes.len()];
        dag.next = vec![Vec::new(); dag.nodes.len()];
        for (i, (name, deps)) in tasks.iter().enumerate() {
            let mut seen = HashSet::new();
            for d in deps {
                let Some(&j) = dag.index.get(d) else {
                    return Err(Error::Dag(format!(
                        "couldn't add link between {name} and {d}: task {name} depends on {d} but {d} wasn't present in Pipeline"
                    )));
                };
                if seen.insert(j) {
                    dag.nodes[i].prev.push(d.clone());
                    dag.prev[i].push(j);
                    dag.next[j].push(i);
                }
            }
        }
        Ok(dag)
    }

    pub fn node(&self, name: &str) -> Option<&Node> {
        self.index.get(name).map(|&i| &self.nodes[i])
    }

    /// `GetCandidateTasks`: tasks not yet `started` whose parents are all in `done`, in
    /// declaration order. One pass over the graph; a run uses [`Schedule`] instead.
    pub fn candidates(&self, done: &HashSet<String>, started: &HashSet<String>) -> Vec<String> {
        self.nodes
            .iter()
            .filter(|n| !started.contains(&n.name) && n.prev.iter().all(|p| done.contains(p)))
            .map(|n| n.name.clone())
            .collect()
    }

    /// Every task reachable from `name` through `prev` edges (its ancestors).
    pub fn ancestors(&self, name: &str) -> BTreeSet<String> {
        let mut seen = vec![false; self.nodes.len()];
        let mut todo: Vec<usize> = self.index.get(name).copied().into_iter().collect();
        let mut out = BTreeSet::new();
        while let Some(n) = todo.pop() {
            for &p in &self.prev[n] {
                if !seen[p] {
                    seen[p] = true;
                    out.insert(self.nodes[p].name.clone());
                    todo.push(p);
                }
            }
        }
        out
    }
}

/// `GetCandidateTasks` maintained incrementally over a run: each task's count of unfinished
/// parents drops as parents finish, so a run of n tasks and e edges costs O(n log n + e)
/// in scheduling, however many events it handles.
#[derive(Debug, Clone)]
pub struct Schedule<'a> {
    dag: &'a Dag,
    pending: Vec<usize>,
    finished: Vec<bool>,
    ready: Vec<usize>,
    n_finished: usize,
}

impl<'a> Schedule<'a> {
    /// Nothing finished yet: the roots are ready.
    pub fn new(dag: &'a Dag) -> Self {
        let pending: Vec<usize> = dag.prev.iter().map(Vec::len).collect();
        let ready = (0..dag.nodes.len()).filter(|&i| pending[i] == 0).collect();
        Schedule {
            dag,
            pending,
            finished: vec![false; dag.nodes.len()],
            ready,
            n_finished: 0,
        }
    }

    /// Records that `name` finished (succeeded, failed or was skipped). Names outside the
    /// graph and repeated calls are ignored.
    pub fn finish(&mut self, name: &str) {
        let Some(&i) = self.dag.index.get(name) else {
            return;
        };
        if std::mem::replace(&mut self.finished[i], true) {
            return;
        }
        self.n_finished += 1;
        for &c in &self.dag.next[i] {
            self.pending[c] -= 1;
            if self.pending[c] == 0 {
                self.ready.push(c);
            }
        }
    }

    /// Whether [`Self::take_ready`] has something to return.
    pub fn has_ready(&self) -> bool {
        !self.ready.is_empty()
    }

    /// The tasks whose parents have all finished, not returned before, in declaration order.
    pub fn take_ready(&mut self) -> Vec<String> {
        let mut ready = std::mem::take(&mut self.ready);
        ready.sort_unstable();
        ready
            .into_iter()
            .map(|i| self.dag.nodes[i].name.clone())
            .collect()
    }

    /// Whether every task of the graph finished.
    pub fn all_finished(&self) -> bool {
        self.n_finished == self.dag.nodes.len()
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
            "couldn't add link between a and zz: task a depends on zz but zz wasn't present in Pipeline"
        );
    }
    // dag.go Build: the cycle message names the smallest remaining task and its remaining
    // dependencies, sorted (getInterdependencyError), not a path; a self dependency is a
    // cycle; a duplicate task is reported before anything else.
    #[test]
    fn upstream_messages() {
        let e = Dag::build(&[t("b", &["c"]), t("c", &["b", "a"]), t("a", &[])]).unwrap_err();
        assert_eq!(e.to_string(), "cycle detected; task \"b\" depends on \"c\"");
        let e = Dag::build(&[t("x", &["x"]), t("y", &["x"])]).unwrap_err();
        assert_eq!(e.to_string(), "cycle detected; task \"x\" depends on \"x\"");
        let e = Dag::build(&[t("a", &[]), t("a", &["zz"])]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "task a is already present in Graph, can't add it again: duplicate pipeline task"
        );
    }

    fn names(edges: &[(u8, Vec<u8>)]) -> Vec<(String, Vec<String>)> {
        let mut seen = HashSet::new();
        edges
            .iter()
            .filter(|(k, _)| seen.insert(*k))
            .map(|(k, d)| (format!("t{k}"), d.iter().map(|x| format!("t{x}")).collect()))
            .collect()
    }

    /// Acyclic by construction: each task depends only on tasks declared before it.
    fn acyclic(edges: &[Vec<u8>]) -> Vec<(String, Vec<String>)> {
        edges
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let deps = d
                    .iter()
                    .filter(|&&x| (x as usize) < i)
                    .map(|x| format!("t{x}"))
                    .collect();
                (format!("t{i}"), deps)
            })
            .collect()
    }

    fn has_cycle(tasks: &[(String, Vec<String>)]) -> bool {
        // Naive: a task is on a cycle when it reaches itself.
        let map: HashMap<&str, &Vec<String>> = tasks.iter().map(|(n, d)| (n.as_str(), d)).collect();
        tasks.iter().any(|(start, _)| {
            let mut seen = HashSet::new();
            let mut todo = vec![start.as_str()];
            while let Some(n) = todo.pop() {
                for d in map.get(n).into_iter().flat_map(|d| d.iter()) {
                    if d == start {
                        return true;
                    }
                    if seen.insert(d.as_str()) {
                        todo.push(d.as_str());
                    }
                }
            }
            false
        })
    }

    proptest::proptest! {
        // Build fails exactly on graphs with a cycle (checked naively) or an unknown task.
        #[test]
        fn build_fails_on_cycles_and_unknown_tasks(
            edges in proptest::collection::vec(
                (0u8..8, proptest::collection::vec(0u8..9, 0..4)),
                1..10,
            )
        ) {
            let tasks = names(&edges);
            let known: HashSet<&str> = tasks.iter().map(|(n, _)| n.as_str()).collect();
            let unknown = tasks.iter().any(|(_, d)| d.iter().any(|x| !known.contains(x.as_str())));
            match Dag::build(&tasks) {
                Ok(_) => proptest::prop_assert!(!unknown && !has_cycle(&tasks)),
                Err(e) => {
                    let e = e.to_string();
                    if has_cycle(&tasks) {
                        proptest::prop_assert!(e.starts_with("cycle detected; "), "{}", e);
                    } else {
                        proptest::prop_assert!(unknown, "{}", e);
                        proptest::prop_assert!(e.starts_with("couldn't add link"), "{}", e);
                    }
                }
            }
        }

        // The incremental schedule hands out what `candidates` computes from scratch, in
        // the same order, whatever order the tasks finish in; ancestors match a naive walk.
        #[test]
        fn schedule_matches_candidates(
            edges in proptest::collection::vec(proptest::collection::vec(0u8..12, 0..4), 1..12),
            picks in proptest::collection::vec(0usize..100, 12),
        ) {
            let tasks = acyclic(&edges);
            let dag = Dag::build(&tasks).unwrap();
            let mut schedule = Schedule::new(&dag);
            let mut done = HashSet::new();
            let mut started = HashSet::new();
            let mut in_flight: Vec<String> = Vec::new();
            for pick in picks.iter().cycle().take(tasks.len() * 2 + 2) {
                let expected = dag.candidates(&done, &started);
                let got = schedule.take_ready();
                proptest::prop_assert_eq!(&got, &expected);
                started.extend(got.iter().cloned());
                in_flight.extend(got);
                if in_flight.is_empty() {
                    break;
                }
                let finished = in_flight.remove(pick % in_flight.len());
                schedule.finish(&finished);
                schedule.finish(&finished);
                done.insert(finished);
            }
            proptest::prop_assert_eq!(schedule.all_finished(), done.len() == tasks.len());
            for (name, _) in &tasks {
                let mut naive = BTreeSet::new();
                let mut todo = vec![name.clone()];
                while let Some(n) = todo.pop() {
                    for p in &dag.node(&n).unwrap().prev {
                        if naive.insert(p.clone()) {
                            todo.push(p.clone());
                        }
                    }
                }
                proptest::prop_assert_eq!(dag.ancestors(name), naive);
            }
        }
    }

    // Issue 18 item 6: building and scheduling a 10,000-task chain and a 10,000-task
    // fan-out/fan-in is linear (the bound is generous for debug builds).
    #[test]
    fn large_graphs_build_and_schedule_quickly() {
        let n = 10_000;
        let chain: Vec<(String, Vec<String>)> = (0..n)
            .map(|i| {
                let d = if i == 0 {
                    vec![]
                } else {
                    vec![format!("t{}", i - 1)]
                };
                (format!("t{i}"), d)
            })
            .collect();
        let mut fan: Vec<(String, Vec<String>)> = vec![("root".into(), vec![])];
        fan.extend((0..n).map(|i| (format!("m{i}"), vec!["root".to_owned()])));
        fan.push(("sink".into(), (0..n).map(|i| format!("m{i}")).collect()));
        for tasks in [chain, fan] {
            let t = std::time::Instant::now();
            let dag = Dag::build(&tasks).unwrap();
            let mut schedule = Schedule::new(&dag);
            let mut order = 0;
            while !schedule.all_finished() {
                let ready = schedule.take_ready();
                assert!(!ready.is_empty());
                for r in ready {
                    order += 1;
                    schedule.finish(&r);
                }
            }
            assert_eq!(order, tasks.len());
            let took = t.elapsed();
            eprintln!("{} tasks: {took:?}", tasks.len());
            assert!(took.as_secs_f64() < 5.0, "{took:?}");
        }
    }
}
