//! The image size budget for real: `build-image --node-image standin --format json` on a copy
//! of the sample reports the image's size by layer group (the groups add up to the size the
//! engine reports), and over a budget (`config set image.budget "10 MB"`) the JSON carries
//! the warning naming the biggest group, `::warning` under GitHub Actions, exit still 0;
//! `--strict-size` makes it a failure with no tag set.

mod support;

use serde_json::Value;
use support::*;

/// The size report's groups as (name, bytes, layers).
fn groups(size: &Value) -> Vec<(String, u64, u64)> {
    size["groups"]
        .as_array()
        .unwrap_or_else(|| panic!("no groups: {size:#}"))
        .iter()
        .map(|g| {
            (
                g["name"].as_str().expect("name").to_string(),
                g["bytes"].as_u64().expect("bytes"),
                g["layers"].as_u64().expect("layers"),
            )
        })
        .collect()
}

#[test]
#[cfg_attr(
    not(engine),
    ignore = "needs the Docker engine: runs under CI=true or XTASK_TESTS=engine"
)]
fn the_size_by_group_adds_up_and_an_image_over_its_budget_warns_without_failing() {
    engine();
    let _lock = engine_lock();
    let s = xtask(&repo_root(), &["standin"]);
    assert_eq!(s.code, 0, "{}", s.all());
    let copy = sample_copy("build-size");
    let root = copy.path();
    let tag = unique("size-budget");
    let image = format!("cipherbox-api:{tag}");
    let _images = Images(vec![image.clone()]);

    let b = build_on_standin(root, &tag, &["--format", "json"], &[]);
    assert_eq!(b.code, 0, "{}", b.all());
    let j = build_report(&b.stdout);
    let size = &j["size"];
    let total = size["total"].as_u64().expect("size.total");
    assert_eq!(Some(total), j["size_bytes"].as_u64(), "{size:#}");
    let g = groups(size);
    let names: Vec<&str> = g.iter().map(|(n, _, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["base", "dependencies", "app", "generated", "other"],
        "{size:#}"
    );
    // every layer is in one group: the groups add up to the image's size (docker history's
    // sizes and the image's differ at most by metadata it does not list: 1%)
    let sum: u64 = g.iter().map(|(_, b, _)| b).sum();
    assert!(
        sum.abs_diff(total) <= total / 100,
        "groups {sum} vs image {total}: {size:#}"
    );
    let of = |name: &str| g.iter().find(|(n, _, _)| n == name).expect("group").clone();
    assert!(of("base").1 > 100_000_000, "the Node base: {size:#}");
    assert!(
        of("dependencies").1 > 0 && of("dependencies").2 == 1,
        "{size:#}"
    );
    // the two packages' dist directories
    assert_eq!(of("app").2, 2, "{size:#}");
    assert_eq!(
        of("generated").1,
        0,
        "the sample generates no code: {size:#}"
    );
    assert_eq!(size["budget"]["total"], 500_000_000, "the default budget");
    assert_eq!(size["over"], false, "{size:#}");
    assert!(size["finding"].is_null(), "{size:#}");
    assert!(
        b.stderr.contains("  groups base "),
        "the text names the groups: {}",
        b.stderr
    );

    // a tiny budget: a warning in the JSON (and as an annotation), the build still passes
    let r = root.to_str().expect("utf-8 path");
    let c = xtask(
        root,
        &["--root", r, "config", "set", "image.budget", "10 MB"],
    );
    assert_eq!(c.code, 0, "{}", c.all());
    let b = build_on_standin(
        root,
        &tag,
        &["--format", "json"],
        &[("GITHUB_ACTIONS", "true")],
    );
    assert_eq!(b.code, 0, "over budget is a warning: {}", b.all());
    let j = build_report(&b.stdout);
    let size = &j["size"];
    assert_eq!(j["result"], "pass", "{j:#}");
    assert_eq!(j["tags"][0], image.as_str(), "{j:#}");
    assert_eq!(size["budget"]["total"], 10_000_000, "{size:#}");
    assert_eq!(size["over"], true, "{size:#}");
    let f = &size["finding"];
    assert_eq!(f["rule"], "image/size-budget", "{f:#}");
    assert_eq!(f["severity"], "warning", "{f:#}");
    let message = f["message"].as_str().expect("message");
    assert!(
        message.contains("over its budget of 10.0 MB (image.budget)")
            && message.contains("the biggest group is base"),
        "{message}"
    );
    assert!(
        b.stderr.contains(&format!(
            "::warning file=infra/api.Dockerfile,line={},title=image/size-budget::",
            f["line"]
        )),
        "{}",
        b.stderr
    );

    // verify's image stage carries the same size report; over budget is a warning finding at
    // the Dockerfile line of the biggest group, and the stage passes
    let v = xtask(
        root,
        &[
            "--root",
            r,
            "verify",
            "--only",
            "image",
            "--node-image",
            "standin",
            "--format",
            "json",
        ],
    );
    assert_eq!(v.code, 0, "{}", v.all());
    let j = json_of(&v);
    let stage = j["stages"]
        .as_array()
        .and_then(|a| a.iter().find(|s| s["name"] == "image"))
        .unwrap_or_else(|| panic!("no image stage: {j:#}"));
    assert_eq!(stage["status"], "pass", "{stage:#}");
    assert_eq!(stage["size"]["over"], true, "{stage:#}");
    assert_eq!(groups(&stage["size"]).len(), 5, "{stage:#}");
    let finding = j["findings"]
        .as_array()
        .and_then(|a| a.iter().find(|f| f["rule"] == "image/size-budget"))
        .unwrap_or_else(|| panic!("no image/size-budget finding: {j:#}"));
    assert_eq!(finding["severity"], "warning", "{finding:#}");
    assert_eq!(finding["file"], "infra/api.Dockerfile", "{finding:#}");
    assert_eq!(finding["line"], stage["size"]["finding"]["line"], "{j:#}");
    let _ = docker(&["rmi", "-f", "cipherbox-api:verify"]);

    // --strict-size: the same image fails and is not tagged anew
    let b = build_on_standin(root, &tag, &["--format", "json", "--strict-size"], &[]);
    assert_eq!(b.code, 1, "{}", b.all());
    let j = build_report(&b.stdout);
    assert_eq!(j["result"], "fail", "{j:#}");
    assert_eq!(j["tags"], serde_json::json!([]), "{j:#}");
    assert_eq!(j["size"]["finding"]["rule"], "image/size-budget-fails");
    assert_eq!(j["size"]["finding"]["severity"], "error");
    assert!(
        j["failure"]
            .as_str()
            .is_some_and(|f| f.contains("over its size budget")),
        "{j:#}"
    );
}
