//! `cargo xtask bench --format json` for real, on the sample and the STAND-IN base: the
//! report is data (the same document as the JSON file), the tables go to stderr. Asserts
//! the data's shape and its internal consistency, never a timing (figures are the bench's
//! job, not a test's).

mod support;

use serde_json::Value;
use support::*;

fn num(j: &Value, path: &[&str]) -> f64 {
    let mut v = j;
    for p in path {
        v = &v[*p];
    }
    v.as_f64()
        .unwrap_or_else(|| panic!("{} is not a number: {v}", path.join(".")))
}

#[test]
#[cfg_attr(
    not(engine),
    ignore = "needs the Docker engine: runs under CI=true or XTASK_TESTS=engine"
)]
fn bench_json_is_the_report_the_file_holds() {
    engine();
    let _lock = engine_lock();
    let s = xtask(&repo_root(), &["standin"]);
    assert_eq!(s.code, 0, "{}", s.all());
    let out = TempDir::new("bench-json");
    let file = out.path().join("bench.json");
    let r = xtask(
        &repo_root(),
        &[
            "bench",
            "--node-image",
            "standin",
            "--no-scaling",
            "--no-compile",
            "--runs",
            "1",
            "--out",
            file.to_str().expect("utf-8 path"),
            "--format",
            "json",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.all());
    let j = json_of(&r);
    let written: Value =
        serde_json::from_str(&std::fs::read_to_string(&file).expect("the JSON file"))
            .expect("the file is JSON");
    assert_eq!(j, written, "stdout and the file carry the same report");
    assert_eq!(j["schema"], "xtask-bench/1");
    assert_eq!(j["api"], "@cipherbox/api");
    assert_eq!(j["standin"], "node:22-alpine", "{}", j["standin"]);
    // the tables (the text rendering) went to stderr
    assert!(r.stderr.contains("JSON written to"), "{}", r.stderr);
    for subject in ["generated", "reference"] {
        assert!(num(&j, &[subject, "cold", "secs"]) > 0.0, "{subject}");
        assert!(
            num(&j, &[subject, "warm_source_change", "secs"]) > 0.0,
            "{subject}"
        );
        let image = &j[subject]["image"];
        let parts: f64 = ["base", "dependencies", "app", "generated", "setup"]
            .iter()
            .map(|k| num(image, &[k]))
            .sum();
        assert_eq!(
            parts,
            num(image, &["total"]),
            "{subject}: the size by origin adds up to the total: {image}"
        );
    }
    // each fixture's image by layer group, as build-image reports it: the groups add up
    let fixtures = j["fixtures"].as_array().expect("fixtures");
    assert!(!fixtures.is_empty(), "{}", j["fixtures"]);
    for f in fixtures {
        let groups = f["size"]["groups"].as_array().expect("groups");
        let names: Vec<&str> = groups.iter().filter_map(|g| g["name"].as_str()).collect();
        assert_eq!(
            names,
            ["base", "dependencies", "app", "generated", "other"],
            "{f}"
        );
        let sum: f64 = groups.iter().map(|g| num(g, &["bytes"])).sum();
        assert_eq!(sum, num(f, &["size", "total"]), "{f}");
        assert!(num(&groups[1], &["bytes"]) > 0.0, "dependencies: {f}");
        assert!(f["size"]["over"].is_boolean(), "{f}");
    }
    assert!(
        r.stderr.contains("Image size by layer group"),
        "{}",
        r.stderr
    );
    // the generated Dockerfile re-runs no install on a source-only change
    assert_eq!(
        j["generated"]["warm_source_change"]["installs_ran"],
        serde_json::json!([]),
        "{}",
        j["generated"]["warm_source_change"]
    );
    let warm = num(&j, &["ratios", "warm_source_change"]);
    let expected = num(&j, &["generated", "warm_source_change", "secs"])
        / num(&j, &["reference", "warm_source_change", "secs"]);
    assert!((warm - expected).abs() < 1e-9, "{warm} vs {expected}");
    let targets = j["targets"].as_array().expect("targets");
    assert!(!targets.is_empty());
    for t in targets {
        assert!(t["target"].is_string() && t["met"].is_boolean(), "{t}");
    }
    assert!(j["compile_secs"].is_null(), "--no-compile");
}
