//! The GraphQL explorer shown when a browser opens `/graphql`.
//!
//! It replaces async-graphql's GraphiQL page, which loads React and GraphiQL
//! from unpkg.com without integrity checks: any script running on this
//! origin can read the console's CSRF cookie and refresh sessions, so a
//! compromised CDN would have owned every signed-in user. The explorer is a
//! page, a script and a style sheet compiled into the binary, served under
//! the console's Content-Security-Policy (`script-src 'self'`), and it never
//! sends cookies: queries run as the token pasted into it.

use actix_web::http::header;
use actix_web::{HttpResponse, web};

const PAGE: &str = include_str!("explorer/explorer.html");
const SCRIPT: &str = include_str!("explorer/explorer.js");
const STYLE: &str = include_str!("explorer/explorer.css");

/// Mounts the explorer's page (for `GET /graphql` accepting HTML; the caller
/// routes that) and its two files.
pub(crate) fn configure(config: &mut web::ServiceConfig) {
    config
        .route("/graphql/explorer.js", web::get().to(script))
        .route("/graphql/explorer.js", web::head().to(script))
        .route("/graphql/explorer.css", web::get().to(style))
        .route("/graphql/explorer.css", web::head().to(style));
}

/// The explorer page, with the console's CSP and page headers.
pub(crate) async fn page() -> HttpResponse {
    let mut response = crate::console::html(PAGE);
    response
        .headers_mut()
        .insert(header::CONTENT_SECURITY_POLICY, header::HeaderValue::from_static(crate::console::CSP));
    response
}

async fn script() -> HttpResponse {
    file(SCRIPT, "text/javascript; charset=utf-8")
}

async fn style() -> HttpResponse {
    file(STYLE, "text/css; charset=utf-8")
}

fn file(body: &'static str, content_type: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, content_type))
        // Not hashed names: revalidate, so an upgrade is picked up at once.
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `src`/`href` of the page and every URL in its script is
    /// same-origin: an absolute path, never a scheme or `//host`.
    #[test]
    fn the_explorer_references_no_other_origin() {
        for (name, text) in [("page", PAGE), ("script", SCRIPT), ("style", STYLE)] {
            assert!(!text.contains("://"), "{name} names an absolute URL");
            for quote in ['"', '\''] {
                assert!(!text.contains(&format!("{quote}//")), "{name} has a protocol-relative URL");
            }
            assert!(!text.contains("@import") && !text.contains("url("), "{name} loads from a style");
        }
        for attribute in ["src=\"", "href=\""] {
            for value in PAGE.split(attribute).skip(1) {
                assert!(value.starts_with("/graphql/"), "{attribute}{value}");
            }
        }
    }
}
