//! The shape of the workspace, checked (issue 15): no import circles between
//! the modules of any crate, the dispatch core compiles no async runtime,
//! network or clock crate, and the daemon compiles none of the client
//! program's screens or HTTP client.
//!
//! The import graph is read from the sources: an edge from module `a` to
//! module `b` for every `crate::b…` (or `super::…` reaching `b`) path in
//! `a`'s code outside its tests. A module's own ancestors and descendants
//! are not counted (a child using its parent's types is how Rust modules
//! are built); anything else that closes a circle fails the test, at the
//! level of files and at the level of each crate's top-level modules.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The crates whose modules are checked, by their `src` folder.
const CRATES: &[&str] = &[
    "client/proto/src",
    "daemon/core/src",
    "daemon/src",
    "client/src",
    "bench/src",
];

type Module = Vec<String>;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the workspace")
        .to_path_buf()
}

/// Every module of the crate rooted at `src`, with its file.
fn modules(src: &Path) -> BTreeMap<Module, PathBuf> {
    let mut found = BTreeMap::new();
    let mut dirs = vec![src.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let rel = path.strip_prefix(src).unwrap().with_extension("");
            let mut parts: Module = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if matches!(
                parts.last().map(String::as_str),
                Some("mod" | "lib" | "main")
            ) {
                parts.pop();
            }
            found.insert(parts, path);
        }
    }
    found
}

/// A file's code without comments and without a trailing test module.
fn code_of(path: &Path) -> String {
    let text = fs::read_to_string(path).unwrap();
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(at) => &text[..at],
        None => &text[..],
    };
    text.lines()
        .map(|line| match line.find("//") {
            Some(at) => &line[..at],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The paths (`a::b::c`) that follow `prefix` (`crate::` or `super::`) in
/// `code`, braces of grouped imports expanded one level.
fn paths_after<'a>(code: &'a str, prefix: &str) -> Vec<Vec<&'a str>> {
    let mut paths = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find(prefix) {
        let before = rest[..at].chars().last();
        rest = &rest[at + prefix.len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                paths.push(item.trim().split("::").map(str::trim).collect());
            }
            continue;
        }
        let end = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
            .unwrap_or(rest.len());
        paths.push(rest[..end].split("::").filter(|s| !s.is_empty()).collect());
    }
    paths
}

/// The longest module that `path` (from `base`) names.
fn resolve(mods: &BTreeMap<Module, PathBuf>, base: &[String], path: &[&str]) -> Option<Module> {
    let mut full: Module = base.to_vec();
    full.extend(path.iter().map(|s| s.to_string()));
    (base.len() + 1..=full.len())
        .rev()
        .map(|n| full[..n].to_vec())
        .find(|m| mods.contains_key(m))
}

/// The crate's import graph, module to the modules it uses.
fn graph(src: &Path) -> BTreeMap<Module, BTreeSet<Module>> {
    let mods = modules(src);
    let mut edges = BTreeMap::new();
    for (module, file) in &mods {
        if module.last().is_some_and(|m| m == "tests") || module.iter().any(|m| m == "tests") {
            continue;
        }
        let code = code_of(file);
        let mut uses = BTreeSet::new();
        for path in paths_after(&code, "crate::") {
            uses.extend(resolve(&mods, &[], &path));
        }
        // `super` of a `mod.rs` or of a plain file is the parent module.
        let parent = &module[..module.len().saturating_sub(1)];
        for path in paths_after(&code, "super::") {
            uses.extend(resolve(&mods, parent, &path));
        }
        uses.retain(|m: &Module| !(m.starts_with(module) || module.starts_with(m)));
        edges.insert(module.clone(), uses);
    }
    edges
}

/// The circles (strongly connected components of more than one module).
fn circles(edges: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<Vec<String>> {
    // Kosaraju: finish order on the graph, then components on its reverse.
    fn visit(
        m: &Module,
        edges: &BTreeMap<Module, BTreeSet<Module>>,
        seen: &mut BTreeSet<Module>,
        order: &mut Vec<Module>,
    ) {
        if !seen.insert(m.clone()) {
            return;
        }
        for n in edges.get(m).into_iter().flatten() {
            visit(n, edges, seen, order);
        }
        order.push(m.clone());
    }
    let mut seen = BTreeSet::new();
    let mut order = Vec::new();
    for m in edges.keys() {
        visit(m, edges, &mut seen, &mut order);
    }
    let mut reverse: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
    for (m, ns) in edges {
        for n in ns {
            reverse.entry(n.clone()).or_default().insert(m.clone());
        }
    }
    let mut assigned = BTreeSet::new();
    let mut found = Vec::new();
    for m in order.iter().rev() {
        let mut component = Vec::new();
        visit(m, &reverse, &mut assigned, &mut component);
        if component.len() > 1 {
            let mut names: Vec<String> = component.iter().map(|m| m.join("::")).collect();
            names.sort();
            found.push(names);
        }
    }
    found
}

/// The graph between top-level modules only.
fn top_level(edges: &BTreeMap<Module, BTreeSet<Module>>) -> BTreeMap<Module, BTreeSet<Module>> {
    let mut top: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
    for (m, ns) in edges {
        let Some(first) = m.first() else { continue };
        for n in ns {
            if n.first().is_some_and(|f| f != first) {
                top.entry(vec![first.clone()])
                    .or_default()
                    .insert(vec![n[0].clone()]);
            }
        }
    }
    top
}

#[test]
fn no_crate_has_an_import_circle() {
    let root = workspace();
    let mut problems = Vec::new();
    for src in CRATES {
        let edges = graph(&root.join(src));
        assert!(edges.len() > 3, "{src}: read too few modules");
        for circle in circles(&edges) {
            problems.push(format!("{src}: files {}", circle.join(" → ")));
        }
        for circle in circles(&top_level(&edges)) {
            problems.push(format!("{src}: top-level modules {}", circle.join(" → ")));
        }
    }
    assert!(
        problems.is_empty(),
        "import circles:\n{}",
        problems.join("\n")
    );
}

/// hallqd's top-level modules, bottom layer first: a module may use only
/// modules of the layers below its own (Command → core → Events →
/// {journal, displays, outbox, metrics}, with the shard applying commands
/// and the network on top).
const DAEMON_LAYERS: &[&[&str]] = &[
    &["clock", "config", "journal", "systemd"],
    &[
        "fanout",
        "stats",
        "staffing",
        "metrics",
        "cluster",
        "simulation",
    ],
    &["shard"],
    &["daemon"],
    &["net"],
];

#[test]
fn the_daemon_imports_only_from_layers_below() {
    let edges = top_level(&graph(&workspace().join("daemon/src")));
    let layer = |m: &str| DAEMON_LAYERS.iter().position(|l| l.contains(&m));
    let mut problems = Vec::new();
    for (from, uses) in &edges {
        let Some(at) = layer(&from[0]) else {
            problems.push(format!("{} is in no layer of DAEMON_LAYERS", from[0]));
            continue;
        };
        for to in uses {
            match layer(&to[0]) {
                Some(below) if below < at => {}
                _ => problems.push(format!("{} uses {}", from[0], to[0])),
            }
        }
    }
    assert!(
        problems.is_empty(),
        "upward or sideways imports:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_checker_sees_a_circle_when_there_is_one() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path();
    fs::write(src.join("lib.rs"), "mod a;\nmod b;\nmod c;\nmod d;\n").unwrap();
    fs::write(src.join("a.rs"), "use crate::b::Thing;\n").unwrap();
    fs::write(src.join("b.rs"), "use crate::{c::Other, d};\n").unwrap();
    fs::write(src.join("c.rs"), "pub fn f() { super::a::g() }\n").unwrap();
    fs::write(src.join("d.rs"), "// use crate::a;\n").unwrap();
    let edges = graph(src);
    assert_eq!(circles(&edges), vec![vec!["a", "b", "c"]]);
    fs::write(src.join("c.rs"), "pub fn f() {}\n").unwrap();
    assert!(circles(&graph(src)).is_empty());
}

/// The crates in `package`'s normal dependency tree.
fn dependencies(package: &str) -> BTreeSet<String> {
    let out = Command::new(env!("CARGO"))
        .args([
            "tree",
            "--locked",
            "--offline",
            "-e",
            "normal",
            "--prefix",
            "none",
        ])
        .args(["-p", package])
        .current_dir(workspace())
        .output()
        .expect("run cargo tree");
    assert!(
        out.status.success(),
        "cargo tree -p {package}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_core_compiles_no_runtime_network_or_clock_crate() {
    let deps = dependencies("hallq-core");
    assert!(deps.contains("hallq-proto"), "{deps:?}");
    for banned in ["tokio", "quinn", "mio", "socket2", "chrono", "time", "libc"] {
        assert!(!deps.contains(banned), "hallq-core depends on {banned}");
    }
}

#[test]
fn the_daemon_compiles_none_of_the_screens_or_the_http_client() {
    let deps = dependencies("hallq-daemon");
    assert!(deps.contains("hallq-core") && deps.contains("hallq-proto"));
    for banned in ["hallq-client", "axum", "ratatui", "crossterm", "reqwest"] {
        assert!(!deps.contains(banned), "hallq-daemon depends on {banned}");
    }
}
