//! The dashboard page's chart library: `third_party/uplot/` holds the npm release byte for
//! byte. The files equal `tests/browser/node_modules/uplot/` (installed by `npm ci` against
//! the lockfile's integrity).

#![allow(clippy::unwrap_used)] // a test fails by panicking

use std::path::{Path, PathBuf};

fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("browser")
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

#[test]
fn vendored_uplot_is_the_npm_release() {
    let package = browser_dir().join("node_modules/uplot");
    assert!(
        package.join("package.json").is_file(),
        "{} is missing: run `npm ci --prefix tests/browser` (it installs the uplot release \
         pinned with its integrity in tests/browser/package-lock.json)",
        package.display()
    );
    let vendored = workspace().join("third_party/uplot");
    for (ours, theirs) in [
        ("uPlot.iife.min.js", "dist/uPlot.iife.min.js"),
        ("uPlot.min.css", "dist/uPlot.min.css"),
        ("LICENSE", "LICENSE"),
    ] {
        let a = std::fs::read(vendored.join(ours)).unwrap();
        let b = std::fs::read(package.join(theirs)).unwrap();
        assert!(
            a == b,
            "third_party/uplot/{ours} ({} bytes) differs from the npm release's {theirs} \
             ({} bytes): copy it again (third_party/uplot/VENDOR.md)",
            a.len(),
            b.len()
        );
    }
    // The release installed is the one package.json pins and VENDOR.md records.
    let installed: serde_json::Value =
        serde_json::from_slice(&std::fs::read(package.join("package.json")).unwrap()).unwrap();
    let pinned: serde_json::Value =
        serde_json::from_slice(&std::fs::read(browser_dir().join("package.json")).unwrap())
            .unwrap();
    let version = installed["version"].as_str().unwrap();
    assert_eq!(
        pinned["dependencies"]["uplot"].as_str(),
        Some(version),
        "tests/browser/package.json must pin the exact uplot version installed \
         (run `npm ci --prefix tests/browser`)"
    );
    let vendor_md = std::fs::read_to_string(vendored.join("VENDOR.md")).unwrap();
    assert!(
        vendor_md.contains(&format!("uplot-{version}.tgz")),
        "third_party/uplot/VENDOR.md does not name the tarball of uplot {version}"
    );
}
