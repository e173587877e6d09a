//! `GET /ui`: the admin console, three hand-written files under
//! `console/ui/` embedded in the build (the Lambda binary; the Worker has
//! Workers Static Assets serve `console/`, with `console/_headers`). The page holds no data and needs no key; every
//! call it makes goes to the admin API with the key the operator signs in
//! with (kept in `sessionStorage`). Served under a strict
//! `Content-Security-Policy`: same-origin script, style and fetch only.

use http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG, IF_NONE_MATCH, REFERRER_POLICY,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use http::{HeaderValue, Method, StatusCode};

use crate::http::{Body, GatewayResponse, IncomingRequest};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Asset {
    Index,
    Script,
    Style,
}

const INDEX: &str = include_str!("../../../console/ui/index.html");
const SCRIPT: &str = include_str!("../../../console/ui/app.js");
const STYLE: &str = include_str!("../../../console/ui/app.css");

pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

/// FNV-1a, 64 bits, at compile time: the validator of an asset that only
/// changes with the build.
const fn fnv(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        h ^= bytes[i] as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
        i += 1;
    }
    h
}

const TAGS: [u64; 3] = [
    fnv(INDEX.as_bytes()),
    fnv(SCRIPT.as_bytes()),
    fnv(STYLE.as_bytes()),
];

/// The asset at `path` (already without a trailing `/`).
pub fn find(path: &str) -> Option<Asset> {
    match path {
        "/ui" | "/ui/index.html" => Some(Asset::Index),
        "/ui/app.js" => Some(Asset::Script),
        "/ui/app.css" => Some(Asset::Style),
        _ => None,
    }
}

impl Asset {
    fn parts(self) -> (&'static str, &'static str, u64) {
        match self {
            Asset::Index => (INDEX, "text/html; charset=utf-8", TAGS[0]),
            Asset::Script => (SCRIPT, "text/javascript; charset=utf-8", TAGS[1]),
            Asset::Style => (STYLE, "text/css; charset=utf-8", TAGS[2]),
        }
    }
}

/// The asset, or `304 Not Modified` when the client holds this build's copy.
pub fn serve(asset: Asset, req: &IncomingRequest) -> GatewayResponse {
    let (text, content_type, tag) = asset.parts();
    let etag = format!("\"{tag:016x}\"");
    let fresh = req
        .headers
        .get_all(IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| {
            let t = t.trim();
            t == "*" || t.trim_start_matches("W/") == etag
        });
    let (status, body) = if fresh {
        (StatusCode::NOT_MODIFIED, Body::Empty)
    } else if req.method == Method::HEAD {
        (StatusCode::OK, Body::Empty)
    } else {
        (StatusCode::OK, Body::Full(text.as_bytes().into()))
    };
    let mut resp = http::Response::new(body);
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(ETAG, v);
    }
    // Revalidated on every load (a 304 is cheap), so a new build shows at once.
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(path: &str, if_none_match: Option<&str>) -> GatewayResponse {
        let mut headers = http::HeaderMap::new();
        if let Some(t) = if_none_match {
            headers.insert(IF_NONE_MATCH, HeaderValue::from_str(t).unwrap());
        }
        let req = IncomingRequest {
            method: Method::GET,
            path: path.into(),
            query: None,
            headers,
            body: Default::default(),
        };
        serve(find(path).unwrap(), &req)
    }

    fn text(resp: &GatewayResponse) -> &str {
        match resp.body() {
            Body::Full(b) => std::str::from_utf8(b).unwrap(),
            _ => "",
        }
    }

    #[test]
    fn the_route_table_serves_the_console_without_a_key() {
        use crate::endpoints::{find as route, Endpoint};
        for (path, asset) in [
            ("/ui", Asset::Index),
            ("/ui/", Asset::Index),
            ("/ui/app.js", Asset::Script),
        ] {
            for m in [Method::GET, Method::HEAD] {
                assert_eq!(
                    route(&m, path),
                    Some((Endpoint::Ui(asset), m.clone(), false)),
                    "{m} {path}"
                );
            }
        }
        assert_eq!(route(&Method::POST, "/ui"), None);
    }

    /// The Worker's copy of these headers (Workers Static Assets read
    /// `console/_headers`) must not drift from what this module sets.
    #[test]
    fn the_static_assets_headers_file_sets_the_same_headers() {
        let file: String = include_str!("../../../console/_headers")
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| format!("{l}\n"))
            .collect();
        let blocks: Vec<&str> = file.trim().split("\n\n").collect();
        let patterns: Vec<&str> = blocks.iter().filter_map(|b| b.lines().next()).collect();
        assert_eq!(patterns, ["/ui", "/ui/*"]);
        let served = get("/ui", None);
        for block in blocks {
            let set: Vec<(String, &str)> = block
                .lines()
                .skip(1)
                .filter_map(|l| l.trim().split_once(": "))
                .map(|(k, v)| (k.to_ascii_lowercase(), v))
                .collect();
            assert_eq!(set.len(), 5, "{block}");
            for (name, value) in set {
                assert_eq!(served.headers()[name.as_str()], value, "{name}");
            }
        }
    }

    #[test]
    fn paths_name_their_assets() {
        assert_eq!(find("/ui"), Some(Asset::Index));
        assert_eq!(find("/ui/index.html"), Some(Asset::Index));
        assert_eq!(find("/ui/app.js"), Some(Asset::Script));
        assert_eq!(find("/ui/app.css"), Some(Asset::Style));
        assert_eq!(find("/ui/../key/list"), None);
        assert_eq!(find("/ui/other.js"), None);
    }

    #[test]
    fn each_asset_has_its_type_and_the_strict_headers() {
        for (path, ty) in [
            ("/ui", "text/html"),
            ("/ui/app.js", "text/javascript"),
            ("/ui/app.css", "text/css"),
        ] {
            let r = get(path, None);
            assert_eq!(r.status(), StatusCode::OK);
            let h = r.headers();
            assert!(h[CONTENT_TYPE].to_str().unwrap().starts_with(ty), "{path}");
            assert_eq!(h[CONTENT_SECURITY_POLICY], CSP);
            assert_eq!(h[X_CONTENT_TYPE_OPTIONS], "nosniff");
            assert_eq!(h[REFERRER_POLICY], "no-referrer");
            assert_eq!(h[CACHE_CONTROL], "no-cache");
            assert!(!text(&r).is_empty());
        }
    }

    #[test]
    fn the_page_loads_only_its_own_files() {
        let page = get("/ui", None);
        let html = text(&page);
        assert!(html.contains(r#"src="/ui/app.js""#));
        assert!(html.contains(r#"href="/ui/app.css""#));
        // Nothing inline or external that the CSP would refuse.
        assert!(!html.contains("<script>") && !html.contains("style="));
        assert!(!html.contains("http://") && !html.contains("https://"));
        // The SVG namespace is a name, not a place the page goes.
        let js = text(&get("/ui/app.js", None)).replace("http://www.w3.org/2000/svg", "");
        assert!(!js.contains("http://") && !js.contains("https://"));
        assert!(!js.contains("localStorage") && !js.contains("document.cookie"));
        assert!(js.contains("sessionStorage"));
    }

    #[test]
    fn a_matching_etag_gets_304_and_another_the_asset() {
        let first = get("/ui/app.js", None);
        let tag = first.headers()[ETAG].to_str().unwrap().to_owned();
        assert!(tag.starts_with('"') && tag.len() == 18);
        let again = get("/ui/app.js", Some(&tag));
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
        assert!(matches!(again.body(), Body::Empty));
        let weak = get("/ui/app.js", Some(&format!("\"x\", W/{tag}")));
        assert_eq!(weak.status(), StatusCode::NOT_MODIFIED);
        let other = get("/ui/app.js", Some("\"0000000000000000\""));
        assert_eq!(other.status(), StatusCode::OK);
        // Each file has its own tag.
        assert_ne!(get("/ui", None).headers()[ETAG], first.headers()[ETAG]);
    }
}
