//! The module-cycle check: within a crate (or a module tree), which
//! modules refer to which (`crate::a::b`, `super::c` paths), and whether
//! those references form a cycle.
//!
//! It reads source text, not the compiler's resolution: comments are
//! skipped and paths are matched as written, which is how this codebase
//! names modules (`use crate::x::…`, `super::y::…`).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

/// A module tree to check: the crate's `src` folder, the module path under
/// which to look (empty for the whole crate), and how many path segments
/// name a node (1: `client`; 2 with prefix `net`: `net::client`).
pub(crate) struct Tree {
    pub(crate) src: &'static str,
    pub(crate) under: &'static str,
    pub(crate) depth: usize,
}

/// The trees `cargo xtask test` keeps free of cycles (issue 11).
pub(crate) const TREES: &[Tree] = &[
    Tree { src: "wf-core/src", under: "net", depth: 2 },
    Tree { src: "wf-core/src", under: "net", depth: 3 },
    Tree { src: "wf-http/src", under: "", depth: 1 },
    Tree { src: "wf-redis/src", under: "", depth: 1 },
    Tree { src: "wf-mysql/src", under: "", depth: 1 },
    Tree { src: "plugin-proof/src", under: "", depth: 1 },
    Tree { src: "wf-etcd/src", under: "", depth: 1 },
    Tree { src: "wf-srv/src", under: "", depth: 1 },
];

/// Every cycle in `tree`, each as the modules it joins.
pub(crate) fn cycles(root: &Path, tree: &Tree) -> Result<Vec<Vec<String>>, String> {
    let mut files = BTreeMap::new();
    collect(&root.join(tree.src), &root.join(tree.src), &mut files)?;
    let modules: BTreeSet<String> = files.keys().cloned().collect();
    let node = |m: &str| m.split("::").take(tree.depth).collect::<Vec<_>>().join("::");
    let inside = |m: &str| tree.under.is_empty() || m == tree.under || m.starts_with(&format!("{}::", tree.under));
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, text) in &files {
        if !inside(module) {
            continue;
        }
        let from = node(module);
        graph.entry(from.clone()).or_default();
        for target in references(module, text, &modules) {
            let to = node(&target);
            let nested = to.starts_with(&format!("{from}::")) || from.starts_with(&format!("{to}::"));
            if inside(&target) && to != from && !nested {
                graph.get_mut(&from).expect("inserted").insert(to);
            }
        }
    }
    Ok(strongly_connected(&graph).into_iter().filter(|c| c.len() > 1).collect())
}

/// Module path → source text for every `.rs` file under `dir`.
fn collect(base: &Path, dir: &Path, out: &mut BTreeMap<String, String>) -> Result<(), String> {
    let entries = fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.is_dir() {
            collect(base, &path, out)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            let rel = path.strip_prefix(base).map_err(|e| e.to_string())?.with_extension("");
            let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
            if parts.last().is_some_and(|p| p == "mod" || p == "lib" || p == "main") {
                parts.pop();
            }
            let text = fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            out.insert(parts.join("::"), text);
        }
    }
    Ok(())
}

/// The modules `text` (the source of `module`) refers to.
fn references(module: &str, text: &str, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let parent: Vec<&str> = if module.is_empty() { vec![] } else { module.split("::").collect() };
    let mut found = BTreeSet::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or("");
        for (prefix, base) in [("crate::", vec![]), ("super::", parent[..parent.len().saturating_sub(1)].to_vec())] {
            let mut rest = code;
            while let Some(i) = rest.find(prefix) {
                let before = rest[..i].chars().last();
                rest = &rest[i + prefix.len()..];
                if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                    continue;
                }
                let path: Vec<&str> = rest
                    .split("::")
                    .map(|s| s.split(|c: char| !(c.is_alphanumeric() || c == '_')).next().unwrap_or(""))
                    .take_while(|s| !s.is_empty())
                    .collect();
                let mut full: Vec<&str> = base.clone();
                full.extend(&path);
                for n in (1..=full.len()).rev() {
                    let candidate = full[..n].join("::");
                    if modules.contains(&candidate) {
                        found.insert(candidate);
                        break;
                    }
                }
            }
        }
    }
    found
}

/// Tarjan's strongly connected components.
fn strongly_connected(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct State<'g> {
        graph: &'g BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        on_stack: BTreeSet<&'g str>,
        out: Vec<Vec<String>>,
    }
    fn visit<'g>(s: &mut State<'g>, v: &'g str) {
        let i = s.index.len();
        s.index.insert(v, i);
        s.low.insert(v, i);
        s.stack.push(v);
        s.on_stack.insert(v);
        for w in s.graph.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !s.index.contains_key(w) {
                visit(s, w);
                let lw = s.low[w];
                let lv = s.low.get_mut(v).expect("visited");
                *lv = (*lv).min(lw);
            } else if s.on_stack.contains(w) {
                let iw = s.index[w];
                let lv = s.low.get_mut(v).expect("visited");
                *lv = (*lv).min(iw);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.push(w.to_owned());
                if w == v {
                    break;
                }
            }
            s.out.push(component);
        }
    }
    let mut s = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in graph.keys() {
        if !s.index.contains_key(v.as_str()) {
            visit(&mut s, v);
        }
    }
    s.out
}

/// `cargo xtask test`'s step: fails naming every cycle found.
pub(crate) fn check(root: &Path) -> Result<(), String> {
    let mut problems = Vec::new();
    for tree in TREES {
        for cycle in cycles(root, tree)? {
            problems.push(format!("{} ({}): {}", tree.src, tree.under, cycle.join(" <-> ")));
        }
    }
    if problems.is_empty() {
        eprintln!("=== xtask: no module cycle in {} trees", TREES.len());
        Ok(())
    } else {
        Err(format!("module cycles:\n  {}", problems.join("\n  ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_cycle_and_only_then() {
        let mut g = BTreeMap::new();
        g.insert("a".to_owned(), BTreeSet::from(["b".to_owned()]));
        g.insert("b".to_owned(), BTreeSet::from(["c".to_owned()]));
        g.insert("c".to_owned(), BTreeSet::new());
        assert!(strongly_connected(&g).iter().all(|c| c.len() == 1));
        g.get_mut("c").unwrap().insert("a".to_owned());
        let cycles: Vec<_> = strongly_connected(&g).into_iter().filter(|c| c.len() > 1).collect();
        assert_eq!(cycles.len(), 1);
        assert_eq!(cycles[0].len(), 3);
    }

    #[test]
    fn a_real_tree_with_a_cycle_is_caught() {
        // wf-core's top level has cycles (task <-> series); the check sees them.
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let found = cycles(root, &Tree { src: "wf-core/src", under: "", depth: 1 }).unwrap();
        assert!(found.iter().any(|c| c.contains(&"task".to_owned()) && c.contains(&"series".to_owned())), "{found:?}");
    }

    #[test]
    fn references_resolve_to_the_longest_module() {
        let modules: BTreeSet<String> =
            ["net", "net::client", "net::client::pool", "net::uri"].iter().map(|s| s.to_string()).collect();
        let refs = references(
            "net::client::setup",
            "use crate::net::uri::Uri; use super::pool::PoolKey; // crate::net::dns in a comment",
            &modules,
        );
        assert_eq!(refs, BTreeSet::from(["net::uri".to_owned(), "net::client::pool".to_owned()]));
    }
}
