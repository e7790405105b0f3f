//! The web console's files (built from `web/` by Vite): `/assets/*` with
//! hashed names, cached for a year; any other page path answers
//! `index.html`, never cached, so the single-page app routes it. Paths of
//! the APIs keep their JSON 404s.
//!
//! Where the files are: the `web_dir` setting, else `web/dist` under the
//! working directory (a checkout), else `share/strata/web` beside the
//! executable (an install). Without them every page explains how to build
//! the console instead of failing blank.

use std::path::{Path, PathBuf};

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

/// The built console, if there is one.
#[derive(Debug, Clone)]
pub struct Console {
    dir: Option<PathBuf>,
}

/// The app loads only its own scripts, styles and data; file previews
/// show images as `blob:` URLs; nothing may frame it.
pub(crate) const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; \
                   connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Paths that belong to the APIs: never the console's.
const API_PREFIXES: [&str; 7] = ["/v1/", "/graphql", "/auth/", "/healthz", "/readyz", "/metrics", "/.well-known/"];

impl Console {
    /// Finds the built console: `configured`, else the usual places.
    pub fn locate(configured: Option<&Path>) -> Console {
        let candidates: Vec<PathBuf> = match configured {
            Some(dir) => vec![dir.to_path_buf()],
            None => {
                let beside_binary = std::env::current_exe()
                    .ok()
                    .and_then(|exe| exe.parent().map(|bin| bin.join("../share/strata/web")));
                std::iter::once(PathBuf::from("web/dist")).chain(beside_binary).collect()
            }
        };
        let dir = candidates.into_iter().find(|dir| dir.join("index.html").is_file());
        match &dir {
            Some(dir) => tracing::info!(dir = %dir.display(), "serving the web console"),
            None => tracing::info!("the web console is not built; pages say how to build it"),
        }
        Console { dir }
    }
}

/// `GET` (or `HEAD`) `/assets/{name}`: a hashed, immutable file.
pub(crate) async fn asset(request: HttpRequest, console: web::Data<Console>, name: web::Path<String>) -> HttpResponse {
    let Some(dir) = &console.dir else { return crate::error::not_found(request).await };
    if !is_plain_file_name(&name) {
        return crate::error::not_found(request).await;
    }
    match tokio::fs::read(dir.join("assets").join(name.as_str())).await {
        Ok(bytes) => HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, content_type(&name)))
            .insert_header((header::CACHE_CONTROL, "public, max-age=31536000, immutable"))
            .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
            .body(bytes),
        Err(_) => crate::error::not_found(request).await,
    }
}

/// Any other path: a file at the root such as `favicon.svg`; for a
/// browser's page load (GET or HEAD accepting HTML, outside the APIs) the app's
/// `index.html`; else the API's JSON 404.
pub(crate) async fn page(request: HttpRequest, console: web::Data<Console>) -> HttpResponse {
    let path = request.path().to_owned();
    let readable = matches!(*request.method(), actix_web::http::Method::GET | actix_web::http::Method::HEAD);
    if !readable || API_PREFIXES.iter().any(|p| path.starts_with(p)) {
        return crate::error::not_found(request).await;
    }
    let root_file = path.trim_start_matches('/');
    let is_root_file = is_plain_file_name(root_file) && root_file.contains('.');
    if !is_root_file && !accepts_html(&request) {
        return crate::error::not_found(request).await;
    }
    let Some(dir) = &console.dir else { return not_built() };
    if is_root_file {
        if let Ok(bytes) = tokio::fs::read(dir.join(root_file)).await {
            return HttpResponse::Ok()
                .insert_header((header::CONTENT_TYPE, content_type(root_file)))
                .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
                .body(bytes);
        }
        return crate::error::not_found(request).await;
    }
    match tokio::fs::read(dir.join("index.html")).await {
        Ok(bytes) => {
            let mut response = html(bytes);
            response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, header::HeaderValue::from_static(CSP));
            response
        }
        Err(error) => {
            tracing::error!(%error, "cannot read the console's index.html");
            not_built()
        }
    }
}

pub(crate) fn html(body: impl actix_web::body::MessageBody + 'static) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::REFERRER_POLICY, "same-origin"))
        .body(body)
}

/// The page shown when the console's files are missing.
fn not_built() -> HttpResponse {
    html(
        "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>Strata</title>\
         <body style=\"font-family:system-ui,sans-serif;max-width:40rem;margin:4rem auto;line-height:1.5\">\
         <h1>The web console is not built</h1>\
         <p>The server runs, and the CLI and GraphQL (<a href=\"/graphql\">/graphql</a>) work. \
         To get the console, build it once from the checkout and reload this page:</p>\
         <pre>scripts/web.sh</pre>\
         <p>(It runs <code>npm ci</code> and <code>npm run build</code> in <code>web/</code>; \
         <code>scripts/dev.sh</code> does it for you.)</p></body></html>",
    )
}

fn accepts_html(request: &HttpRequest) -> bool {
    request
        .headers()
        .get(header::ACCEPT)
        .and_then(|accept| accept.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"))
}

/// One path segment of safe characters: no separators, no `..`.
fn is_plain_file_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, ext)| ext) {
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("json" | "map") => "application/json",
        Some("woff2") => "font/woff2",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_names_are_served() {
        assert!(is_plain_file_name("index-3f2a9c.js"));
        for bad in ["", "../secret", "a/b.js", ".env", "a\\b.js", "%2e%2e"] {
            assert!(!is_plain_file_name(bad), "{bad}");
        }
    }
}
