//! The DAG of nodes (petgraph): topological order, cycles named, ancestors and descendants.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;

use crate::error::{ProjectError, Result};
use crate::node::Node;

/// Parent → child edges between unique ids.
#[derive(Debug, Clone)]
pub struct Dag {
    graph: DiGraph<String, ()>,
    index: HashMap<String, NodeIndex>,
}

impl Dag {
    /// Builds the DAG; a cycle is an error naming its nodes.
    pub fn new(nodes: &BTreeMap<String, Node>) -> Result<Self> {
        let mut graph = DiGraph::new();
        let mut index = HashMap::new();
        for id in nodes.keys() {
            index.insert(id.clone(), graph.add_node(id.clone()));
        }
        for n in nodes.values() {
            // A unit test does not need its model built: it runs the model's SQL on fixtures.
            if n.resource_type == crate::node::ResourceType::UnitTest {
                continue;
            }
            for d in &n.depends_on {
                if let (Some(a), Some(b)) = (index.get(d), index.get(&n.unique_id)) {
                    graph.update_edge(*a, *b, ());
                }
            }
        }
        for scc in tarjan_scc(&graph) {
            if scc.len() > 1 || scc.first().is_some_and(|i| graph.contains_edge(*i, *i)) {
                let mut names: Vec<String> = scc.iter().map(|i| graph[*i].clone()).collect();
                names.sort();
                return Err(ProjectError::Graph(format!(
                    "found a cycle: {} (each depends on the next through ref/source)",
                    names.join(" --> ")
                )));
            }
        }
        Ok(Self { graph, index })
    }

    /// Adds an edge (for `build`: a model's tests before its children).
    pub fn add_edge(&mut self, parent: &str, child: &str) {
        if let (Some(a), Some(b)) = (self.index.get(parent), self.index.get(child))
            && a != b
        {
            self.graph.update_edge(*a, *b, ());
        }
    }

    /// Direct parents.
    pub fn parents(&self, id: &str) -> Vec<String> {
        self.index
            .get(id)
            .map(|i| {
                self.graph
                    .edges_directed(*i, petgraph::Direction::Incoming)
                    .map(|e| self.graph[e.source()].clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Direct children.
    pub fn children(&self, id: &str) -> Vec<String> {
        self.index
            .get(id)
            .map(|i| self.graph.neighbors(*i).map(|c| self.graph[c].clone()).collect())
            .unwrap_or_default()
    }

    fn walk(&self, id: &str, depth: Option<usize>, dir: petgraph::Direction) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        let Some(start) = self.index.get(id) else { return out };
        let mut frontier = vec![*start];
        let mut level = 0;
        while !frontier.is_empty() && depth.is_none_or(|d| level < d) {
            let mut next = Vec::new();
            for i in frontier {
                for n in self.graph.neighbors_directed(i, dir) {
                    if out.insert(self.graph[n].clone()) {
                        next.push(n);
                    }
                }
            }
            frontier = next;
            level += 1;
        }
        out
    }

    /// Ancestors up to `depth` generations (all when `None`).
    pub fn ancestors(&self, id: &str, depth: Option<usize>) -> BTreeSet<String> {
        self.walk(id, depth, petgraph::Direction::Incoming)
    }

    /// Descendants up to `depth` generations (all when `None`).
    pub fn descendants(&self, id: &str, depth: Option<usize>) -> BTreeSet<String> {
        self.walk(id, depth, petgraph::Direction::Outgoing)
    }

    /// Topological order of the given subset (stable: ties by unique id).
    pub fn order(&self, subset: &BTreeSet<String>) -> Result<Vec<String>> {
        let mut indeg: BTreeMap<&String, usize> = subset.iter().map(|s| (s, 0)).collect();
        for s in subset {
            for c in self.children(s) {
                if let Some(d) = indeg.get_mut(&c) {
                    *d += 1;
                }
            }
        }
        let mut ready: BTreeSet<String> = indeg
            .iter()
            .filter(|(_, d)| **d == 0)
            .map(|(s, _)| (*s).clone())
            .collect();
        let mut out = Vec::with_capacity(subset.len());
        while let Some(s) = ready.pop_first() {
            for c in self.children(&s) {
                if let Some(d) = indeg.get_mut(&c) {
                    *d -= 1;
                    if *d == 0 {
                        ready.insert(c);
                    }
                }
            }
            out.push(s);
        }
        if out.len() != subset.len() {
            let stuck: Vec<&String> = subset.iter().filter(|s| !out.contains(s)).collect();
            if std::env::var_os("GLUE_DEBUG_DAG").is_some() {
                for s in &stuck {
                    eprintln!("{s} <- {:?}", self.parents(s));
                }
            }
            return Err(ProjectError::Graph(format!(
                "found a cycle among the selected nodes: {}",
                stuck.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
            )));
        }
        Ok(out)
    }
}
