//! Embeds the web view (`make web` writes `core/web/dist/`; `PERISCOPE_WEB_DIST`
//! names another folder) into the binary: writes `$OUT_DIR/web_bundle.rs`, a
//! `periscope_server::WebBundle` of `include_bytes!` of the gzip'd files
//! (`<name>.gz`; a file without one is embedded as it is), each with its
//! length and a content hash for its ETag. Without the folder the bundle is
//! empty and the hub serves a page saying how to build it: never an error.

use std::collections::BTreeMap;
use std::hash::Hasher;
use std::path::{Path, PathBuf};

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=PERISCOPE_WEB_DIST");
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let dist = match std::env::var_os("PERISCOPE_WEB_DIST") {
        Some(d) if !d.is_empty() => manifest.join(d),
        _ => manifest.join("../web/dist"),
    };
    // Watch the folder when it exists (cargo scans a folder's files), else its
    // nearest existing parent, so a later `make web` embeds the new bundle. (A
    // missing path would rerun this script on every build.)
    let watched = dist.ancestors().find(|p| p.exists()).unwrap_or(&manifest).to_path_buf();
    println!("cargo:rerun-if-changed={}", watched.display());

    let mut files = BTreeMap::new();
    if dist.is_dir() {
        collect(&dist, "", &mut files);
        if !files.contains_key("index.html") {
            println!("cargo:warning=the web bundle {} has no index.html: not embedded", dist.display());
            files.clear();
        }
    }
    let mut out = String::from("periscope_server::WebBundle { files: &[\n");
    for (name, source) in &files {
        let gz = source.with_file_name(format!("{}.gz", source.file_name().unwrap_or_default().to_string_lossy()));
        let (body, gzip) = if gz.is_file() { (gz, true) } else { (source.clone(), false) };
        let bytes = std::fs::read(&body).unwrap_or_else(|e| panic!("cannot read {}: {e}", body.display()));
        let len = if source.is_file() {
            std::fs::metadata(source).map(|m| m.len()).unwrap_or(0)
        } else {
            // Only `name.gz`: the gzip trailer holds the length (mod 2^32; bundle files are smaller).
            bytes.len().checked_sub(4).map_or(0, |at| u32::from_le_bytes(bytes[at..].try_into().unwrap()) as u64)
        };
        out.push_str(&format!(
            "    periscope_server::WebFile {{ path: {name:?}, body: include_bytes!({:?}), gzip: {gzip}, len: {len}, hash: {:?} }},\n",
            body.canonicalize().unwrap_or(body.clone()).display().to_string(),
            hash(&bytes),
        ));
    }
    out.push_str("] }\n");
    let path = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("web_bundle.rs");
    if std::fs::read_to_string(&path).ok().as_deref() != Some(out.as_str()) {
        std::fs::write(&path, out).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    }
}

/// The bundle's files under `dir`: served name (`a/b.js`) -> the file, or the
/// `.gz` alone when only that exists. Names with other characters than
/// `[A-Za-z0-9._-]` and hidden files are left out.
fn collect(dir: &Path, prefix: &str, files: &mut BTreeMap<String, PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let safe = !name.starts_with('.')
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if !safe {
            println!("cargo:warning=web bundle: {} left out (name)", entry.path().display());
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            collect(&path, &format!("{prefix}{name}/"), files);
        } else if let Some(base) = name.strip_suffix(".gz") {
            files.entry(format!("{prefix}{base}")).or_insert_with(|| path.with_file_name(base));
        } else {
            files.insert(format!("{prefix}{name}"), path);
        }
    }
}

/// A content hash for the ETag: two independent 64-bit hashes and the length.
fn hash(bytes: &[u8]) -> String {
    let mut fnv: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        fnv = (fnv ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    let mut sip = std::hash::DefaultHasher::new();
    sip.write(bytes);
    format!("{:016x}{fnv:016x}-{:x}", sip.finish(), bytes.len())
}
