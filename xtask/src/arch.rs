//! `cargo xtask arch`: the shape of the workspace, measured from the code. For each crate: its lines of Rust under
//! `src/`, its largest file, and the import circles between its files; the command fails on a circle or on a file
//! of 1,000 lines or more that [`ONE_IDEA`] does not explain.
//!
//! A file imports another when it names one of its items through a path that starts at `crate::`, `super::` or
//! `self::` (in a `use` or inline); the path is resolved to the deepest module file it names. The crate root
//! (`lib.rs`, `main.rs`) is the table of contents and is left out: it declares and re-exports every module. A
//! parent's `mod.rs` that declares a child is not an import of it; a child that uses its parent's items is.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Files of 1,000 lines or more, each one idea that would lose its shape if cut, and why. Checked: an entry whose
/// file is gone or shorter is an error, so the list cannot go stale.
pub const ONE_IDEA: &[(&str, &str)] = &[];

/// The limit above which a file must be explained in [`ONE_IDEA`].
pub const MAX_LINES: usize = 1000;

/// One crate's measurements.
#[derive(Debug)]
pub struct CrateShape {
    /// The crate's folder, relative to the workspace.
    pub dir: String,
    /// Lines of Rust under `src/`.
    pub lines: usize,
    /// Rust files under `src/`.
    pub files: usize,
    /// The largest file (relative to the crate) and its lines.
    pub largest: (String, usize),
    /// Circles of imports: each a list of files (relative to the crate).
    pub circles: Vec<Vec<String>>,
}

/// Measures every crate of the workspace (each folder of `root` with `Cargo.toml` and `src/`).
pub fn measure(root: &Path) -> Result<Vec<CrateShape>, String> {
    let mut out = Vec::new();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root)
        .map_err(|e| format!("{}: {e}", root.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    // Crates below xtask/ (the simulator client) count too.
    if let Ok(more) = std::fs::read_dir(root.join("xtask")) {
        dirs.extend(more.filter_map(|e| e.ok().map(|e| e.path())));
    }
    dirs.sort();
    for dir in dirs {
        if !dir.join("Cargo.toml").is_file() || !dir.join("src").is_dir() {
            continue;
        }
        // Generated code is not written by hand.
        if dir.ends_with("spark-connect-proto") {
            continue;
        }
        out.push(measure_crate(root, &dir)?);
    }
    Ok(out)
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The module path of a file under `src/` (`a/b.rs` and `a/b/mod.rs` are `["a", "b"]`; the root is `[]`).
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap_or(file).with_extension("");
    let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib" | "main")) {
        parts.pop();
    }
    parts
}

fn measure_crate(root: &Path, dir: &Path) -> Result<CrateShape, String> {
    let src = dir.join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut modules: BTreeMap<Vec<String>, String> = BTreeMap::new();
    let mut texts = BTreeMap::new();
    let mut lines = 0;
    let mut largest = (String::new(), 0);
    for f in &files {
        let text = std::fs::read_to_string(f).map_err(|e| format!("{}: {e}", f.display()))?;
        let rel = f.strip_prefix(dir).unwrap().display().to_string();
        let n = text.lines().count();
        lines += n;
        if n > largest.1 {
            largest = (rel.clone(), n);
        }
        // `src/bin/*.rs` and build helpers are crate roots of their own; only the library's tree is a module tree.
        if f.strip_prefix(&src).is_ok_and(|r| r.starts_with("bin")) {
            continue;
        }
        modules.insert(module_of(&src, f), rel.clone());
        texts.insert(rel, (module_of(&src, f), text));
    }
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (file, (module, text)) in &texts {
        if module.is_empty() {
            continue;
        }
        let is_mod_rs = file.ends_with("mod.rs");
        for path in paths_in(text) {
            let Some(target) = resolve(&modules, module, is_mod_rs, &path) else {
                continue;
            };
            if target != *file && modules.get(&Vec::new()).is_none_or(|r| *r != target) {
                edges.entry(file.clone()).or_default().insert(target);
            }
        }
    }
    let circles = strongly_connected(&edges).into_iter().filter(|c| c.len() > 1).collect();
    Ok(CrateShape {
        dir: dir.strip_prefix(root).unwrap_or(dir).display().to_string(),
        lines,
        files: files.len(),
        largest,
        circles,
    })
}

/// Every path of the text that starts at `crate`, `super` or `self`, `use` groups expanded; comments left out.
fn paths_in(text: &str) -> Vec<Vec<String>> {
    // Unit tests (a `#[cfg(test)]` module, by convention at the end of the file) are not the architecture.
    let text = text.find("#[cfg(test)]\nmod ").map_or(text, |i| &text[..i]);
    let code: String = text
        .lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n");
    let mut out = Vec::new();
    // The file's own submodules (`mod x;`): a path that starts with one is relative to this file.
    let children: Vec<String> = code
        .lines()
        .filter_map(|l| {
            let l = l.trim().trim_start_matches("pub ").trim_start_matches("pub(crate) ");
            l.strip_prefix("mod ")?.strip_suffix(';').map(|m| m.trim().to_string())
        })
        .collect();
    // `use` statements, groups and all; a `pub use` re-exports (a table of contents) and imports nothing.
    let mut rest = code.as_str();
    while let Some(i) = find_word(rest, "use") {
        let reexport = rest[..i].trim_end().ends_with("pub") || rest[..i].trim_end().ends_with(')');
        let after = &rest[i + 3..];
        let end = after.find(';').unwrap_or(after.len());
        let tree = after[..end].split_whitespace().collect::<Vec<_>>().join(" ");
        let tree = ["::", "{", "}", ","]
            .iter()
            .fold(tree, |t, p| t.replace(&format!(" {p}"), p).replace(&format!("{p} "), p));
        if !reexport {
            expand(&tree, &[], &mut out);
        }
        rest = &after[end..];
    }
    for path in &mut out {
        if path.first().is_some_and(|p| children.contains(p)) {
            path.insert(0, "self".into());
        }
    }
    // Inline paths, re-exports left out.
    let code: String = code
        .split_inclusive(';')
        .filter(|stmt| !stmt.trim_start().starts_with("pub use") && !stmt.trim_start().starts_with("pub(crate) use"))
        .collect();
    let child_starts: Vec<String> = children.iter().map(|c| format!("{c}::")).collect();
    for start in ["crate::", "super::", "self::"]
        .into_iter()
        .chain(child_starts.iter().map(String::as_str))
    {
        let mut from = 0;
        while let Some(i) = code[from..].find(start) {
            let at = from + i;
            from = at + start.len();
            let before = code[..at].chars().last();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            let mut path = Vec::new();
            let mut tail = &code[at..];
            loop {
                let seg: String = tail.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                if seg.is_empty() {
                    break;
                }
                tail = &tail[seg.len()..];
                if path.is_empty() && !["crate", "super", "self"].contains(&seg.as_str()) {
                    path.push("self".to_string());
                }
                path.push(seg);
                match tail.strip_prefix("::") {
                    Some(t) => tail = t,
                    None => break,
                }
            }
            out.push(path);
        }
    }
    out.retain(|p| matches!(p.first().map(String::as_str), Some("crate" | "super" | "self")));
    out
}

fn find_word(text: &str, word: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = text[from..].find(word) {
        let at = from + i;
        let before = text[..at].chars().last();
        let after = text[at + word.len()..].chars().next();
        if !before.is_some_and(|c| c.is_alphanumeric() || c == '_') && after.is_some_and(char::is_whitespace) {
            return Some(at);
        }
        from = at + word.len();
    }
    None
}

/// Expands a `use` tree (`a::{b, c::{d, e}}`) into its paths.
fn expand(tree: &str, prefix: &[String], out: &mut Vec<Vec<String>>) {
    let tree = tree.trim_start_matches("::");
    match tree.find('{') {
        None => {
            let mut p = prefix.to_vec();
            p.extend(
                tree.split("::")
                    .map(|s| s.split(" as ").next().unwrap_or(s).to_string())
                    .filter(|s| !s.is_empty()),
            );
            out.push(p);
        }
        Some(open) => {
            let head = &tree[..open];
            let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
            let mut p = prefix.to_vec();
            p.extend(head.split("::").filter(|s| !s.is_empty()).map(str::to_string));
            let mut depth = 0;
            let mut start = 0;
            for (i, c) in inner.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        expand(&inner[start..i], &p, out);
                        start = i + 1;
                    }
                    _ => {}
                }
            }
            if start < inner.len() {
                expand(&inner[start..], &p, out);
            }
        }
    }
}

/// The file a path names: the deepest module of the path that is a file of the crate.
fn resolve(
    modules: &BTreeMap<Vec<String>, String>,
    here: &[String],
    is_mod_rs: bool,
    path: &[String],
) -> Option<String> {
    // The module `self` means: a `mod.rs` (or a file) is its own module.
    let mut base: Vec<String> = here.to_vec();
    let mut segs = path.iter().peekable();
    match segs.next().map(String::as_str) {
        Some("crate") => base.clear(),
        Some("self") => {}
        Some("super") => {
            base.pop();
            while segs.peek().is_some_and(|s| s.as_str() == "super") {
                segs.next();
                base.pop();
            }
        }
        _ => return None,
    }
    let _ = is_mod_rs;
    let mut full = base;
    full.extend(segs.cloned());
    (0..=full.len()).rev().find_map(|n| modules.get(&full[..n]).cloned())
}

/// Tarjan's strongly connected components of the import graph.
fn strongly_connected(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct State<'a> {
        edges: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        next: usize,
        out: Vec<Vec<String>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a str) {
        s.index.insert(v, s.next);
        s.low.insert(v, s.next);
        s.next += 1;
        s.stack.push(v);
        s.on_stack.insert(v);
        if let Some(targets) = s.edges.get(v) {
            for w in targets {
                if !s.index.contains_key(w.as_str()) {
                    visit(s, w);
                    let low = s.low[w.as_str()].min(s.low[v]);
                    s.low.insert(v, low);
                } else if s.on_stack.contains(w.as_str()) {
                    let low = s.index[w.as_str()].min(s.low[v]);
                    s.low.insert(v, low);
                }
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.push(w.to_string());
                if w == v {
                    break;
                }
            }
            component.sort();
            s.out.push(component);
        }
    }
    let mut s = State {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        next: 0,
        out: Vec::new(),
    };
    let nodes: BTreeSet<&str> = edges
        .iter()
        .flat_map(|(k, v)| std::iter::once(k.as_str()).chain(v.iter().map(String::as_str)))
        .collect();
    for n in nodes {
        if !s.index.contains_key(n) {
            visit(&mut s, n);
        }
    }
    s.out
}

/// What is wrong with the shapes: circles, and files over [`MAX_LINES`] not explained (or explained but gone).
pub fn problems(root: &Path, shapes: &[CrateShape]) -> Vec<String> {
    let mut out = Vec::new();
    for c in shapes {
        for circle in &c.circles {
            out.push(format!("{}: import circle: {}", c.dir, circle.join(" <-> ")));
        }
        let mut files = Vec::new();
        rust_files(&root.join(&c.dir).join("src"), &mut files);
        for f in files {
            let n = std::fs::read_to_string(&f).map(|t| t.lines().count()).unwrap_or(0);
            let rel = f.strip_prefix(root).unwrap().display().to_string();
            if n >= MAX_LINES && !ONE_IDEA.iter().any(|(p, _)| *p == rel) {
                out.push(format!(
                    "{rel}: {n} lines (split it by idea, or say in xtask's ONE_IDEA why it is one)"
                ));
            }
        }
    }
    for (p, _) in ONE_IDEA {
        let n = std::fs::read_to_string(root.join(p))
            .map(|t| t.lines().count())
            .unwrap_or(0);
        if n < MAX_LINES {
            out.push(format!("{p}: listed in ONE_IDEA but has {n} lines (remove the entry)"));
        }
    }
    out
}

/// The table `cargo xtask arch` prints (Markdown).
pub fn table(shapes: &[CrateShape]) -> String {
    let mut out = String::from("| crate | lines | files | largest file | circles |\n|---|---:|---:|---|---:|\n");
    for c in shapes {
        out.push_str(&format!(
            "| {} | {} | {} | {} ({}) | {} |\n",
            c.dir,
            c.lines,
            c.files,
            c.largest.0,
            c.largest.1,
            c.circles.len()
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn use_groups_expand_to_paths() {
        let p = paths_in("use crate::a::{b, c::{D, e as f}};\nuse super::g;\nfn x() { crate::h::i(); self::j::k }");
        let p: BTreeSet<String> = p.iter().map(|p| p.join("::")).collect();
        for want in [
            "crate::a::b",
            "crate::a::c::D",
            "crate::a::c::e",
            "super::g",
            "crate::h::i",
            "self::j::k",
        ] {
            assert!(p.contains(want), "{want} in {p:?}");
        }
    }

    #[test]
    fn a_circle_is_found_and_a_chain_is_not() {
        let dir = tempfile_dir();
        let src = dir.join("src");
        std::fs::create_dir_all(src.join("m")).unwrap();
        std::fs::write(dir.join("Cargo.toml"), "").unwrap();
        std::fs::write(src.join("lib.rs"), "mod a; mod b; mod c; mod m; mod n;\npub use a::A;").unwrap();
        std::fs::write(src.join("a.rs"), "use crate::b::B;\npub struct A;").unwrap();
        std::fs::write(src.join("b.rs"), "pub struct B;\nfn f() { crate::a::A; }").unwrap();
        std::fs::write(src.join("c.rs"), "use crate::{a::A, b::B};").unwrap();
        std::fs::write(src.join("m/mod.rs"), "mod leaf;\npub use leaf::L;\npub fn helper() {}").unwrap();
        std::fs::write(src.join("m/leaf.rs"), "use super::helper;\npub struct L;").unwrap();
        std::fs::create_dir_all(src.join("n")).unwrap();
        std::fs::write(
            src.join("n/mod.rs"),
            "mod kid;\npub fn f() { kid::g() }\npub fn helper() {}",
        )
        .unwrap();
        std::fs::write(src.join("n/kid.rs"), "pub fn g() { super::helper() }").unwrap();
        let shape = measure_crate(&dir, &dir).unwrap();
        // a <-> b; n/mod.rs calls its child, which calls a helper of its parent; m/mod.rs only re-exports its child.
        let mut circles = shape.circles;
        circles.sort();
        assert_eq!(
            circles,
            vec![
                vec!["src/a.rs".to_string(), "src/b.rs".to_string()],
                vec!["src/n/kid.rs".to_string(), "src/n/mod.rs".to_string()]
            ]
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    fn tempfile_dir() -> PathBuf {
        let d = std::env::temp_dir().join(format!("xtask-arch-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    /// The workspace as it is: no circle, no unexplained long file.
    #[test]
    fn the_workspace_has_no_import_circle_and_no_unexplained_long_file() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let shapes = measure(root).unwrap();
        assert!(shapes.len() >= 7, "{shapes:?}");
        let problems = problems(root, &shapes);
        assert!(problems.is_empty(), "{}\n{}", problems.join("\n"), table(&shapes));
    }
}

#[cfg(test)]
mod simulator_suites {
    use std::path::Path;

    /// Every `tests/sim_*.rs` of a crate is a `[[test]]` with `required-features = ["it"]` in its Cargo.toml: without
    /// it the file runs in plain `cargo test`, where no simulator is up, and fails there.
    #[test]
    fn every_simulator_suite_requires_the_it_feature() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let mut missing = Vec::new();
        let mut seen = 0;
        for entry in std::fs::read_dir(root).unwrap().flatten() {
            let tests = entry.path().join("tests");
            let Ok(files) = std::fs::read_dir(&tests) else { continue };
            let manifest = std::fs::read_to_string(entry.path().join("Cargo.toml")).unwrap_or_default();
            // name → whether its [[test]] block requires `it`.
            let blocks: Vec<(String, bool)> = manifest
                .split("[[test]]")
                .skip(1)
                .map(|b| {
                    let block = b.split("\n[").next().unwrap_or(b);
                    let name = block
                        .lines()
                        .find_map(|l| l.trim().strip_prefix("name"))
                        .and_then(|r| r.split('"').nth(1))
                        .unwrap_or("")
                        .to_string();
                    let it = block
                        .lines()
                        .any(|l| l.trim().starts_with("required-features") && l.contains("\"it\""));
                    (name, it)
                })
                .collect();
            for f in files.flatten() {
                let name = f.file_name().to_string_lossy().to_string();
                let Some(stem) = name.strip_prefix("sim_").and_then(|s| s.strip_suffix(".rs")) else {
                    continue;
                };
                seen += 1;
                let test = format!("sim_{stem}");
                if !blocks.iter().any(|(n, it)| *n == test && *it) {
                    missing.push(format!("{}/tests/{name}", entry.file_name().to_string_lossy()));
                }
            }
        }
        assert!(seen >= 10, "the simulator suites were not found ({seen})");
        assert!(
            missing.is_empty(),
            "no [[test]] with required-features = [\"it\"]: {missing:?}"
        );
    }
}
