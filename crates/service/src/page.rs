//! The owner's page at `/`: static assets compiled into the binary (`crates/service/page/`),
//! the engine's JavaScript loader, and the engine's WebAssembly module read from a built path
//! at start (`scripts/engine-wasm` builds it; it is never committed, docs/page.md).
//!
//! The page trusts its own assets, not the API: it reads back and hashes what it asks a wallet
//! to sign with the engine. So the service prints the SHA-256 of every asset it serves, and an
//! owner who wants to can compare them with a build of their own, or serve the page elsewhere
//! and point it at the API with `?api=URL`.

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// One file the page is made of.
#[derive(Debug, Clone)]
pub struct Asset {
    /// Where it is served (`/`, `/app.js`, …).
    pub path: &'static str,
    /// Its media type.
    pub content_type: &'static str,
    /// Its bytes.
    pub bytes: Arc<[u8]>,
}

impl Asset {
    fn new(path: &'static str, content_type: &'static str, bytes: &[u8]) -> Self {
        Self {
            path,
            content_type,
            bytes: bytes.into(),
        }
    }

    /// Its SHA-256, hex.
    pub fn sha256(&self) -> String {
        alloy::hex::encode(Sha256::digest(&self.bytes))
    }
}

/// The page's assets that are part of this build.
fn compiled_assets() -> Vec<Asset> {
    vec![
        Asset::new(
            "/",
            "text/html; charset=utf-8",
            include_bytes!("../page/index.html"),
        ),
        Asset::new(
            "/app.js",
            "text/javascript; charset=utf-8",
            include_bytes!("../page/app.js"),
        ),
        Asset::new(
            "/style.css",
            "text/css; charset=utf-8",
            include_bytes!("../page/style.css"),
        ),
        Asset::new(
            "/engine/index.mjs",
            "text/javascript; charset=utf-8",
            include_bytes!("../../../packages/engine/index.mjs"),
        ),
    ]
}

/// Where the engine module is looked for when no path is given: beside the binary, then the
/// repository's build output from the working directory.
pub fn default_engine_paths() -> Vec<PathBuf> {
    let mut paths = Vec::new();
    if let Ok(exe) = std::env::current_exe()
        && let Some(dir) = exe.parent()
    {
        paths.push(dir.join("sessionkeys_engine.wasm"));
    }
    paths.push(PathBuf::from("packages/engine/sessionkeys_engine.wasm"));
    paths
}

/// Why the page has no engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineMissing {
    /// Where it was looked for.
    pub searched: Vec<PathBuf>,
}

impl std::fmt::Display for EngineMissing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let searched: Vec<String> = self
            .searched
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        write!(
            f,
            "no engine module (searched {}): build it with scripts/engine-wasm, or give \
             --engine-wasm PATH; the page signs nothing without it",
            searched.join(", ")
        )
    }
}

/// The page: its assets, and the engine module when one was found.
#[derive(Debug, Clone)]
pub struct Page {
    assets: Vec<Asset>,
    engine: Result<Asset, EngineMissing>,
}

impl Page {
    /// The page with the engine module at the first of `candidates` that can be read, checked
    /// to be WebAssembly.
    pub fn load(candidates: &[PathBuf]) -> Self {
        let engine = candidates
            .iter()
            .find_map(|path| read_module(path))
            .map(|bytes| Asset::new("/engine.wasm", "application/wasm", &bytes))
            .ok_or_else(|| EngineMissing {
                searched: candidates.to_vec(),
            });
        Self {
            assets: compiled_assets(),
            engine,
        }
    }

    /// Every asset served, with its SHA-256: what an owner compares.
    pub fn digests(&self) -> Vec<(&'static str, String)> {
        self.assets
            .iter()
            .chain(self.engine.as_ref().ok())
            .map(|a| (a.path, a.sha256()))
            .collect()
    }

    /// Why there is no engine, if there is none.
    pub fn engine_missing(&self) -> Option<&EngineMissing> {
        self.engine.as_ref().err()
    }

    /// The page's routes.
    pub fn router<S: Clone + Send + Sync + 'static>(&self) -> Router<S> {
        let mut router = Router::new();
        for asset in self.assets.iter().chain(self.engine.as_ref().ok()) {
            let asset = asset.clone();
            router = router.route(asset.path, get(move || serve(asset.clone())));
        }
        if let Err(missing) = &self.engine {
            let message = missing.to_string();
            router = router.route(
                "/engine.wasm",
                get(move || async move {
                    (
                        StatusCode::NOT_FOUND,
                        axum::Json(serde_json::json!({
                            "error": { "code": "not_found", "message": message }
                        })),
                    )
                }),
            );
        }
        router
    }
}

fn read_module(path: &Path) -> Option<Vec<u8>> {
    let bytes = std::fs::read(path).ok()?;
    bytes.starts_with(b"\0asm").then_some(bytes)
}

/// The page's own rules for the browser: scripts and styles from this origin only (and the
/// engine's WebAssembly), the API wherever `?api=` points, never in a frame.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self' http: https:; \
     base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

async fn serve(asset: Asset) -> Response {
    let mut response = asset.bytes.to_vec().into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(etag) = HeaderValue::from_str(&format!("\"{}\"", asset.sha256())) {
        headers.insert(header::ETAG, etag);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_that_is_not_webassembly_is_no_engine_and_the_error_says_how_to_build_one() {
        let dir = std::env::temp_dir().join(format!("sk-page-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let fake = dir.join("engine.wasm");
        std::fs::write(&fake, b"<html>not a module</html>").unwrap();
        let page = Page::load(&[fake.clone(), dir.join("absent.wasm")]);
        let missing = page.engine_missing().unwrap().to_string();
        assert!(missing.contains("scripts/engine-wasm"), "{missing}");
        assert!(missing.contains(&fake.display().to_string()), "{missing}");
        assert!(
            page.digests()
                .iter()
                .all(|(path, _)| *path != "/engine.wasm")
        );

        std::fs::write(&fake, b"\0asm\x01\0\0\0").unwrap();
        let page = Page::load(&[fake]);
        assert!(page.engine_missing().is_none());
        let digests = page.digests();
        assert_eq!(
            digests
                .iter()
                .find(|(p, _)| *p == "/engine.wasm")
                .unwrap()
                .1,
            alloy::hex::encode(Sha256::digest(b"\0asm\x01\0\0\0"))
        );
        std::fs::remove_dir_all(&dir).ok();
    }
}

#[cfg(test)]
mod constants {
    use alloy::primitives::Address;
    use alloy::sol_types::SolCall;
    use sessionkeys_contracts::session::ISessionKeyValidator;

    /// The value of `export const NAME = '…';` in the page's script.
    fn constant(name: &str) -> String {
        let script = include_str!("../page/app.js");
        let start = script
            .find(&format!("export const {name} = '"))
            .unwrap_or_else(|| panic!("app.js has no {name}"));
        let rest = &script[start..];
        let value = &rest[rest.find('\'').unwrap() + 1..];
        value[..value.find('\'').unwrap()].to_string()
    }

    #[test]
    fn the_page_knows_the_validator_and_the_epoch_view_it_reads() {
        let validator = sessionkeys::deployment::session_key_validator(Address::ZERO).address();
        assert_eq!(
            constant("VALIDATOR").to_lowercase(),
            format!("{validator:#x}"),
            "app.js VALIDATOR"
        );
        assert_eq!(
            constant("EPOCH_OF"),
            format!(
                "0x{}",
                alloy::hex::encode(ISessionKeyValidator::epochOfCall::SELECTOR)
            ),
            "app.js EPOCH_OF"
        );
    }
}
