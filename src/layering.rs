//! The layers of the crate, and the test that keeps imports pointing down them.
//!
//! A module may use only modules of a lower layer (the foundation may also use itself, without
//! cycles). `docs/ARCHITECTURE.md` explains each layer; a new top-level module gets a row here.

/// Top-level modules by layer, lowest first.
pub const LAYERS: &[(&str, u8)] = &[
    // Foundation: vocabulary every layer shares.
    ("error", 0),
    ("clock", 0),
    ("config", 0),
    ("checksum", 0),
    ("integrity", 0),
    ("cipher", 0),
    ("xml", 0),
    ("cors", 0),
    ("credentials", 0),
    ("schedule", 0),
    // The index and the blobs, each behind its own trait or crate.
    ("meta", 1),
    ("blob", 1),
    // Every state change: write order, orphan guard, leases, records.
    ("store", 2),
    // Request authentication, then who may do what.
    ("auth", 3),
    ("access", 4),
    // Background work over the store.
    ("scrub", 5),
    ("lifecycle", 5),
    ("accesslog", 5),
    // Request plumbing both surfaces share.
    ("web", 6),
    // The two surfaces, side by side: neither uses the other.
    ("s3", 7),
    ("api", 7),
    // Front ends.
    ("server", 8),
    ("cli", 8),
    ("bench", 8),
];

#[cfg(test)]
mod tests {
    use super::LAYERS;
    use std::collections::{BTreeMap, BTreeSet};
    use std::path::{Path, PathBuf};

    fn layer(module: &str) -> Option<u8> {
        LAYERS.iter().find(|(m, _)| *m == module).map(|(_, l)| *l)
    }

    fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                rust_files(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }

    /// The top-level modules a line of code names through `crate::`.
    fn named_modules(line: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut rest = line;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            if let Some(group) = rest.strip_prefix('{') {
                // `crate::{a::b, c}`: the first segment of each item at depth 0.
                let mut depth = 0;
                let mut item_start = true;
                for (i, ch) in group.char_indices() {
                    match ch {
                        '{' => depth += 1,
                        '}' if depth == 0 => {
                            rest = &group[i..];
                            break;
                        }
                        '}' => depth -= 1,
                        ',' if depth == 0 => item_start = true,
                        c if item_start && (c.is_alphanumeric() || c == '_') => {
                            let ident: String = group[i..]
                                .chars()
                                .take_while(|c| c.is_alphanumeric() || *c == '_')
                                .collect();
                            out.push(ident);
                            item_start = false;
                        }
                        _ => {}
                    }
                }
            } else {
                let ident: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !ident.is_empty() {
                    out.push(ident);
                }
            }
        }
        out
    }

    /// module → module it uses → files where.
    fn imports() -> BTreeMap<(String, String), BTreeSet<String>> {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        rust_files(&src, &mut files);
        let mut edges: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
        for f in files {
            let rel = f.strip_prefix(&src).unwrap().to_string_lossy().into_owned();
            let module = rel.split('/').next().unwrap().trim_end_matches(".rs");
            // The binary uses the crate by name; this file names modules in its own test.
            if matches!(module, "main" | "lib" | "layering") {
                continue;
            }
            let text = std::fs::read_to_string(&f).unwrap();
            // `use a::{\n b,\n c}` spans lines: join a statement before scanning it.
            let code: String = text
                .lines()
                .filter(|l| !l.trim_start().starts_with("//"))
                .collect::<Vec<_>>()
                .join(" ");
            for to in named_modules(&code) {
                if to != module {
                    edges
                        .entry((module.to_owned(), to))
                        .or_default()
                        .insert(rel.clone());
                }
            }
        }
        edges
    }

    #[test]
    fn the_scanner_reads_paths_and_groups() {
        assert_eq!(
            named_modules(
                "use crate::a::b; let x = crate::c::d(); use crate::{e::f, g, h::{i, j}};"
            ),
            ["a", "c", "e", "g", "h"]
        );
    }

    #[test]
    fn every_module_has_a_layer_and_imports_point_down() {
        let mut wrong = Vec::new();
        let edges = imports();
        for ((from, to), files) in &edges {
            match (layer(from), layer(to)) {
                (Some(a), Some(b)) if a > b || (a == 0 && b == 0) => {}
                (None, _) => wrong.push(format!("module {from} has no layer in LAYERS")),
                (_, None) => wrong.push(format!("{from} uses {to}, which has no layer")),
                (Some(a), Some(b)) => wrong.push(format!(
                    "{from} (layer {a}) uses {to} (layer {b}) in {files:?}"
                )),
            }
        }
        // The foundation may use itself, but not in a circle.
        let foundation: BTreeMap<&str, Vec<&str>> = edges
            .keys()
            .filter(|(a, b)| layer(a) == Some(0) && layer(b) == Some(0))
            .fold(BTreeMap::new(), |mut m, (a, b)| {
                m.entry(a.as_str()).or_default().push(b.as_str());
                m
            });
        fn reaches(
            g: &BTreeMap<&str, Vec<&str>>,
            from: &str,
            to: &str,
            seen: &mut Vec<String>,
        ) -> bool {
            for next in g.get(from).into_iter().flatten() {
                if *next == to {
                    return true;
                }
                if !seen.iter().any(|s| s == next) {
                    seen.push((*next).to_owned());
                    if reaches(g, next, to, seen) {
                        return true;
                    }
                }
            }
            false
        }
        for m in foundation.keys() {
            if reaches(&foundation, m, m, &mut Vec::new()) {
                wrong.push(format!("{m} is part of an import cycle in the foundation"));
            }
        }
        assert!(wrong.is_empty(), "layering broken:\n{}", wrong.join("\n"));
    }
}
