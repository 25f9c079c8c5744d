//! The Config Tool's pages: one shared layout (navigation, the health state with its reason,
//! who is signed in) around each page's static body, and each page's script. Nothing in a
//! page comes from SiPass: the scripts fetch it from the API and set it as text, never as
//! HTML, and the Content-Security-Policy refuses inline script besides. No build step.

use axum::Router;
use axum::extract::Path as UrlPath;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;

use crate::AppState;

/// A page: its path (also its script's name), its title and its static body.
pub struct Page {
    pub id: &'static str,
    pub title: &'static str,
    /// Shown in the navigation to administrators only (the API refuses operators anyway).
    pub administrators_only: bool,
    body: &'static str,
    script: &'static str,
}

/// Every page, in the navigation's order. Monitoring and Resources are the slots the alarm,
/// command and database features fill with their sections.
pub const PAGES: &[Page] = &[
    Page {
        id: "synchronization",
        title: "Synchronization",
        administrators_only: false,
        body: include_str!("assets/pages/synchronization.html"),
        script: include_str!("assets/pages/synchronization.js"),
    },
    Page {
        id: "monitoring",
        title: "Monitoring",
        administrators_only: false,
        body: include_str!("assets/pages/monitoring.html"),
        script: include_str!("assets/pages/monitoring.js"),
    },
    Page {
        id: "entities",
        title: "Entities",
        administrators_only: false,
        body: include_str!("assets/pages/entities.html"),
        script: include_str!("assets/pages/entities.js"),
    },
    Page {
        id: "properties",
        title: "Properties",
        administrators_only: true,
        body: include_str!("assets/pages/properties.html"),
        script: include_str!("assets/pages/properties.js"),
    },
    Page {
        id: "resources",
        title: "Resources",
        administrators_only: true,
        body: include_str!("assets/pages/resources.html"),
        script: include_str!("assets/pages/resources.js"),
    },
    Page {
        id: "users",
        title: "Users",
        administrators_only: true,
        body: include_str!("assets/pages/users.html"),
        script: include_str!("assets/pages/users.js"),
    },
];

/// The sign-in page, outside the navigation.
const SIGN_IN: Page = Page {
    id: "signin",
    title: "Sign in",
    administrators_only: false,
    body: include_str!("assets/pages/signin.html"),
    script: include_str!("assets/pages/signin.js"),
};

/// The routes of the pages and their assets.
pub(crate) fn routes() -> Router<AppState> {
    let mut router = Router::new()
        .route("/", get(|| async { Redirect::to("/synchronization") }))
        .route("/signin", get(|| async { layout(&SIGN_IN) }))
        .route("/app.js", get(script))
        .route("/app.css", get(stylesheet))
        .route("/pages/{file}", get(page_script));
    for page in PAGES {
        router = router.route(
            &format!("/{}", page.id),
            get(move || async { layout(page) }),
        );
    }
    router
}

/// The navigation's entries as JSON for the shared script: (id, title, administrators only).
fn navigation() -> String {
    let entries: Vec<_> = PAGES
        .iter()
        .map(|p| serde_json::json!([p.id, p.title, p.administrators_only]))
        .collect();
    serde_json::Value::from(entries).to_string()
}

/// A page in the shared layout. The navigation travels in a data attribute (escaped), for
/// the shared script to show what the signed-in user may open.
fn layout(page: &Page) -> Html<String> {
    Html(format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title} · SiPass Bridge Config Tool</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/app.css">
</head>
<body data-page="{id}" data-nav="{nav}">
<header>
  <h1>SiPass Bridge</h1>
  <nav id="nav"></nav>
  <span class="spacer"></span>
  <span id="health" class="health starting" title="Role health">…</span>
  <span id="who" class="who"></span>
  <button id="signout" class="secondary" hidden>Sign out</button>
</header>
<p id="health-reason" class="health-reason"></p>
<main id="main">
<h2>{title}</h2>
{body}
</main>
<script src="/app.js"></script>
<script src="/pages/{id}.js"></script>
</body>
</html>
"#,
        title = page.title,
        id = page.id,
        nav = escape_attribute(&navigation()),
        body = page.body,
    ))
}

/// Text made safe inside a double-quoted HTML attribute.
pub fn escape_attribute(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('\'', "&#39;")
}

fn javascript(text: &'static str) -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        text,
    )
        .into_response()
}

async fn script() -> Response {
    javascript(include_str!("assets/app.js"))
}

async fn page_script(UrlPath(file): UrlPath<String>) -> Response {
    let id = file.strip_suffix(".js").unwrap_or_default();
    match PAGES.iter().chain([&SIGN_IN]).find(|p| p.id == id) {
        Some(page) => javascript(page.script),
        None => (StatusCode::NOT_FOUND, "no such script").into_response(),
    }
}

/// Any other address outside the API: a page that says so and leads back, instead of an
/// empty 404 the browser shows as its own error. The address asked for is not repeated.
pub(crate) async fn not_found() -> Response {
    let links: String = PAGES
        .iter()
        .map(|p| format!(r#" <a href="/{}">{}</a>"#, p.id, p.title))
        .collect();
    let html = format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>No such page · SiPass Bridge Config Tool</title>
<link rel="stylesheet" href="/app.css">
</head>
<body>
<header><h1>SiPass Bridge</h1></header>
<main>
<h2>No such page</h2>
<p>The Config Tool has no page at this address. Its pages:{links}.</p>
</main>
</body>
</html>
"#
    );
    (StatusCode::NOT_FOUND, Html(html)).into_response()
}

async fn stylesheet() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("assets/app.css"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_page_has_its_own_id_and_the_layout_links_its_script() {
        let mut ids: Vec<_> = PAGES.iter().map(|p| p.id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), PAGES.len());
        for page in PAGES.iter().chain([&SIGN_IN]) {
            let html = layout(page).0;
            assert!(html.contains(&format!("<script src=\"/pages/{}.js\">", page.id)));
            assert!(!html.contains("<script>"), "no inline script");
        }
    }

    #[test]
    fn attributes_are_escaped() {
        assert_eq!(
            escape_attribute(r#"["a","<b>'&"]"#),
            "[&quot;a&quot;,&quot;&lt;b&gt;&#39;&amp;&quot;]"
        );
    }
}
