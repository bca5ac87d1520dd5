//! One `package.json`: name, version, dependencies by kind, scripts, `files`, `main`,
//! `packageManager`, patches.

use anyhow::{bail, Context, Result};
use serde_json::Value as Json;

use super::{Dep, DepKind, Manifest};

pub fn parse_manifest(text: &str, file: &str) -> Result<Manifest> {
    if text.starts_with('\u{feff}') {
        bail!(
            "{file} starts with a byte-order mark (U+FEFF), which JSON does not allow and pnpm's \
             readers do not all skip: save it as UTF-8 without a BOM"
        );
    }
    let v: Json =
        serde_json::from_str(text).with_context(|| format!("{file} is not valid JSON"))?;
    let obj = v
        .as_object()
        .with_context(|| format!("{file} must hold a JSON object"))?;
    let str_of = |k: &str| obj.get(k).and_then(Json::as_str).map(str::to_string);
    let mut deps = Vec::new();
    for (field, kind) in [
        ("dependencies", DepKind::Prod),
        ("optionalDependencies", DepKind::Optional),
        ("devDependencies", DepKind::Dev),
        ("peerDependencies", DepKind::Peer),
    ] {
        if let Some(map) = obj.get(field).and_then(Json::as_object) {
            for (name, spec) in map {
                let spec = spec
                    .as_str()
                    .with_context(|| format!("{file}: {field}.{name} must be a string"))?;
                deps.push(Dep {
                    name: name.clone(),
                    spec: spec.to_string(),
                    kind,
                });
            }
        }
    }
    let scripts = obj
        .get("scripts")
        .and_then(Json::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default();
    let files = obj
        .get("files")
        .and_then(Json::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let patches = obj
        .get("pnpm")
        .and_then(|p| p.get("patchedDependencies"))
        .and_then(Json::as_object)
        .map(|m| {
            m.values()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let package_manager = match obj.get("packageManager") {
        None | Some(Json::Null) => None,
        Some(Json::String(s)) => Some(s.clone()),
        Some(other) => bail!(
            "{file}: \"packageManager\" is {}, not a string: write it as \"pnpm@<exact version>\", e.g. \"pnpm@10.34.9\"",
            crate::values::shown(&other.to_string())
        ),
    };
    let name = str_of("name");
    let bin = match obj.get("bin") {
        Some(Json::String(f)) => name
            .as_deref()
            .map(|n| vec![(n.rsplit('/').next().unwrap_or(n).to_string(), f.clone())])
            .unwrap_or_default(),
        Some(Json::Object(m)) => m
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
            .collect(),
        _ => Vec::new(),
    };
    let tool_settings = obj
        .iter()
        .filter_map(|(k, v)| {
            let o = v.as_object().filter(|o| o.contains_key("schema"))?;
            let fields = o
                .iter()
                .filter_map(|(f, x)| Some((f.clone(), x.as_str()?.to_string())))
                .collect();
            Some((k.clone(), fields))
        })
        .collect();
    Ok(Manifest {
        name,
        version: str_of("version"),
        scripts,
        deps,
        main: str_of("main"),
        files,
        package_manager,
        patches,
        bin,
        tool_settings,
    })
}
