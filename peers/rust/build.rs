//! Reads the exact `webrtc` / `rtc` versions this crate is built against from the workspace
//! `Cargo.lock`, so the peer's `Hello` reports versions that were resolved, never assumed.
//!
//! Exports `WEBRTC_VERSION` and `RTC_VERSION` (`"unknown"` when the lock file or the entry is
//! missing). The lock file is parsed by hand: it is a flat list of `[[package]]` blocks and a
//! TOML dependency is not worth a build-time download.

use std::path::PathBuf;

/// One `[[package]]` block of a Cargo.lock.
#[derive(Default)]
struct Package {
    name: String,
    version: String,
    dependencies: Vec<String>,
}

fn parse_lock(text: &str) -> Vec<Package> {
    let mut packages = Vec::new();
    let mut current: Option<Package> = None;
    let mut in_dependencies = false;
    for line in text.lines() {
        let line = line.trim();
        if line == "[[package]]" {
            packages.extend(current.take());
            current = Some(Package::default());
            in_dependencies = false;
            continue;
        }
        let Some(package) = current.as_mut() else {
            continue;
        };
        if in_dependencies {
            if line.starts_with(']') {
                in_dependencies = false;
            } else if let Some(dep) = quoted(line) {
                package.dependencies.push(dep.to_owned());
            }
        } else if let Some(value) = line.strip_prefix("name = ") {
            package.name = quoted(value).unwrap_or_default().to_owned();
        } else if let Some(value) = line.strip_prefix("version = ") {
            package.version = quoted(value).unwrap_or_default().to_owned();
        } else if line.starts_with("dependencies = [") {
            in_dependencies = !line.ends_with(']');
        }
    }
    packages.extend(current);
    packages
}

/// The text between the first pair of double quotes.
fn quoted(s: &str) -> Option<&str> {
    let start = s.find('"')? + 1;
    let len = s[start..].find('"')?;
    Some(&s[start..start + len])
}

/// The version of dependency `dep` of package `of` (at `of_version` if given). A dependency entry
/// is `"name"` when the lock holds one version of it and `"name version"` when it holds several.
fn dependency_version(
    packages: &[Package],
    of: &str,
    of_version: Option<&str>,
    dep: &str,
) -> Option<String> {
    let owner = packages
        .iter()
        .find(|p| p.name == of && of_version.is_none_or(|v| p.version == v))?;
    let entry = owner
        .dependencies
        .iter()
        .find(|d| d.split(' ').next() == Some(dep))?;
    match entry.split(' ').nth(1) {
        Some(version) => Some(version.to_owned()),
        None => packages
            .iter()
            .find(|p| p.name == dep)
            .map(|p| p.version.clone()),
    }
}

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    let lock_path = manifest_dir.join("../../Cargo.lock");
    println!("cargo:rerun-if-changed={}", lock_path.display());
    println!("cargo:rerun-if-changed=build.rs");

    let packages = std::fs::read_to_string(&lock_path)
        .map(|text| parse_lock(&text))
        .unwrap_or_default();
    let package = std::env::var("CARGO_PKG_NAME").unwrap_or_default();
    let webrtc = dependency_version(&packages, &package, None, "webrtc");
    let rtc = webrtc
        .as_deref()
        .and_then(|version| dependency_version(&packages, "webrtc", Some(version), "rtc"));
    if webrtc.is_none() {
        println!(
            "cargo:warning=webrtc version not found in {}; reporting \"unknown\"",
            lock_path.display()
        );
    }
    println!(
        "cargo:rustc-env=WEBRTC_VERSION={}",
        webrtc.as_deref().unwrap_or("unknown")
    );
    println!(
        "cargo:rustc-env=RTC_VERSION={}",
        rtc.as_deref().unwrap_or("unknown")
    );
}
