//! The deployment examples parse and say what the docs say: every YAML file
//! under deploy/ is checked by PyYAML and kubeconform when they are
//! installed (a line says why one was skipped), and always by a structural
//! check here (no YAML crate is a dependency; serde_yaml is unmaintained).

use crate::common;
use std::path::{Path, PathBuf};
use std::process::Command;

fn yaml_files() -> Vec<PathBuf> {
    let mut out = Vec::new();
    for dir in ["deploy/kubernetes", "deploy/github-actions"] {
        let d = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "yaml" || x == "yml") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Lines as (indent, text), comments and blank lines left out; block
/// scalars (`|`, `>-`) are taken as opaque.
fn lines(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut block: Option<usize> = None;
    for raw in text.lines() {
        let indent = raw.len() - raw.trim_start().len();
        let t = raw.trim();
        if let Some(b) = block {
            if t.is_empty() || indent > b {
                continue;
            }
            block = None;
        }
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        if t.ends_with('|') || t.ends_with(">-") || t.ends_with('>') {
            block = Some(indent);
        }
        out.push((indent, t.to_string()));
    }
    out
}

/// The minimal check: no tabs, even indentation, every mapping line a
/// `key:`, every document's top level the keys a Kubernetes object or a
/// workflow has.
fn structural(path: &Path) {
    let text = std::fs::read_to_string(path).unwrap();
    let name = path.display();
    assert!(
        !text.contains('\t'),
        "{name}: tabs are not YAML indentation"
    );
    for (i, doc) in text.split("\n---").enumerate() {
        let ls = lines(doc);
        for (indent, t) in &ls {
            assert!(indent % 2 == 0, "{name}: odd indentation at {t:?}");
            assert!(
                t.starts_with("- ") || t == "-" || t.contains(':'),
                "{name}: {t:?} is neither a list item nor a key"
            );
        }
        let top: Vec<&str> = ls
            .iter()
            .filter(|(ind, _)| *ind == 0)
            .filter_map(|(_, t)| t.split(':').next())
            .collect();
        if path.extension().is_some_and(|x| x == "yml") {
            for k in ["name", "on", "jobs"] {
                assert!(top.contains(&k), "{name}: no top-level {k}: {top:?}");
            }
        } else {
            for k in ["apiVersion", "kind", "metadata"] {
                assert!(top.contains(&k), "{name} document {i}: no {k}: {top:?}");
            }
        }
    }
}

#[test]
fn every_deployment_yaml_parses() {
    let files = yaml_files();
    assert!(files.len() >= 5, "{files:?}");
    for f in &files {
        structural(f);
    }
    // PyYAML, when there is one.
    let script =
        "import sys, yaml\nfor f in sys.argv[1:]:\n    list(yaml.safe_load_all(open(f)))\n";
    common::pyyaml_check(script, &files);
    // kubeconform, when installed: the Kubernetes schemas (offline it may
    // not fetch them, so only its own verdict on what it could check counts).
    let k8s: Vec<&PathBuf> = files
        .iter()
        .filter(|f| f.extension().is_some_and(|x| x == "yaml"))
        .collect();
    match Command::new("kubeconform").arg("-v").output() {
        Ok(_) => {
            let o = Command::new("kubeconform")
                .args(["-strict", "-summary", "-ignore-missing-schemas"])
                .args(&k8s)
                .output()
                .unwrap();
            assert!(
                o.status.success(),
                "kubeconform: {}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            );
        }
        Err(_) => eprintln!("note: kubeconform check skipped: kubeconform is not installed"),
    }
}

#[test]
fn the_indexed_job_and_the_workflow_agree_with_the_docs() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy");
    let job = std::fs::read_to_string(dir.join("kubernetes/segments-job.yaml")).unwrap();
    assert!(job.contains("completionMode: Indexed"));
    let value = |key: &str| -> String {
        job.lines()
            .map(str::trim)
            .find_map(|l| l.strip_prefix(key))
            .unwrap_or_else(|| panic!("no {key}"))
            .trim()
            .trim_matches('"')
            .to_string()
    };
    let n = value("completions:");
    assert_eq!(value("parallelism:"), n);
    let segs = job
        .lines()
        .skip_while(|l| !l.contains("name: LOADDENSITY_SEGMENTS"))
        .nth(1)
        .and_then(|l| l.trim().strip_prefix("value:"))
        .map(|v| v.trim().trim_matches('"').to_string());
    assert_eq!(
        segs.as_deref(),
        Some(n.as_str()),
        "LOADDENSITY_SEGMENTS = completions"
    );
    assert!(job.contains("claimName: loaddensity-results"));
    assert!(job.contains("configMap:"));
    let pvc = std::fs::read_to_string(dir.join("kubernetes/pvc.yaml")).unwrap();
    assert!(pvc.contains("- ReadWriteMany"));
    assert!(
        pvc.to_lowercase().contains("object store") || pvc.to_lowercase().contains("object-store")
    );
    let merge = std::fs::read_to_string(dir.join("kubernetes/merge-job.yaml")).unwrap();
    assert!(merge.contains("loaddensity merge"));
    let wf = std::fs::read_to_string(dir.join("github-actions/segments.yml")).unwrap();
    assert!(wf.contains("matrix:") && wf.contains("loaddensity merge"));
    assert!(wf.contains("upload-artifact") && wf.contains("download-artifact"));
    assert!(dir.join("kubernetes/README.md").exists());
}
