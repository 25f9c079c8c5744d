//! A headless Chromium driven through chromedriver with the W3C WebDriver protocol (JSON over
//! HTTP): only the commands the Config Tool's browser tests use, over the harness's HTTP
//! client, synchronously. Debian's `chromium` and `chromium-driver` packages provide both
//! programs (scripts/test installs them).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::{HarnessError, Result, TempDir};

/// The key WebDriver names an element reference with.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
/// How long chromedriver may take to answer its status.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// Chromium's flags for a test machine: headless, no sandbox (root in a container), and
/// nothing that reaches the network on its own.
pub const CHROMIUM_FLAGS: [&str; 8] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,900",
];

/// Where a program is on PATH, if anywhere.
fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    })
}

/// A browser session: chromedriver (killed when dropped) and one Chromium window.
pub struct Browser {
    driver: Child,
    base: String,
    session: String,
    http: reqwest::Client,
    runtime: tokio::runtime::Runtime,
    _profile: TempDir,
}

/// An element found on the page.
#[derive(Clone, Debug)]
pub struct Element(String);

fn answer_error(what: &str, detail: impl ToString) -> HarnessError {
    HarnessError::Answer {
        what: what.to_owned(),
        detail: detail.to_string(),
    }
}

impl Browser {
    /// Starts chromedriver on a free port and opens a headless Chromium.
    pub fn start() -> Result<Self> {
        let driver_path = on_path("chromedriver").ok_or_else(|| {
            answer_error(
                "chromedriver",
                "not installed: apt-get install -y chromium chromium-driver (scripts/test does)",
            )
        })?;
        let chromium = ["chromium", "chromium-browser", "google-chrome"]
            .iter()
            .find_map(|n| on_path(n))
            .ok_or_else(|| {
                answer_error("chromium", "not installed: apt-get install -y chromium")
            })?;
        let port = crate::free_port()?;
        let driver = Command::new(&driver_path)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|source| HarnessError::Spawn {
                command: driver_path.display().to_string(),
                source,
            })?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|source| HarnessError::Io {
                what: "cannot start an async runtime".into(),
                source,
            })?;
        let profile = TempDir::new("chromium-profile")?;
        let mut browser = Browser {
            driver,
            base: format!("http://127.0.0.1:{port}"),
            session: String::new(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()?,
            runtime,
            _profile: profile,
        };
        let deadline = Instant::now() + START_TIMEOUT;
        while browser.call("GET", "/status", None).is_err() {
            if Instant::now() > deadline {
                return Err(HarnessError::Timeout {
                    what: "chromedriver to answer".into(),
                    timeout: START_TIMEOUT,
                });
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|f| f.to_string()).collect();
        args.push(format!(
            "--user-data-dir={}",
            browser._profile.path().display()
        ));
        let created = browser.call(
            "POST",
            "/session",
            Some(json!({"capabilities": {"alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {"binary": chromium, "args": args},
            }}})),
        )?;
        browser.session = created["sessionId"]
            .as_str()
            .ok_or_else(|| answer_error("chromedriver's new session", &created))?
            .to_owned();
        Ok(browser)
    }

    /// One WebDriver command: its `value`, or the WebDriver error as [`HarnessError::Status`].
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value> {
        let url = format!("{}{path}", self.base);
        let method = reqwest::Method::from_bytes(method.as_bytes())
            .map_err(|e| answer_error("a WebDriver method", e))?;
        let request = self.http.request(method.clone(), &url);
        let request = match body {
            Some(body) => request.json(&body),
            None => request,
        };
        self.runtime.block_on(async {
            let response = request.send().await?;
            let status = response.status().as_u16();
            let mut answer: Value = response.json().await?;
            if status >= 400 {
                return Err(HarnessError::Status {
                    request: format!("{method} {path}"),
                    status,
                    body: answer["value"].to_string(),
                });
            }
            Ok(answer["value"].take())
        })
    }

    fn session_call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value> {
        self.call(method, &format!("/session/{}{path}", self.session), body)
    }

    /// Opens `url` and waits for it to load.
    pub fn goto(&self, url: &str) -> Result<()> {
        self.session_call("POST", "/url", Some(json!({ "url": url })))
            .map(drop)
    }

    /// The address of the page shown.
    pub fn url(&self) -> Result<String> {
        let url = self.session_call("GET", "/url", None)?;
        Ok(url.as_str().unwrap_or_default().to_owned())
    }

    /// Every element matching the CSS `selector`, in document order.
    pub fn find_all(&self, selector: &str) -> Result<Vec<Element>> {
        let found = self.session_call(
            "POST",
            "/elements",
            Some(json!({"using": "css selector", "value": selector})),
        )?;
        Ok(found
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e[ELEMENT].as_str().map(|id| Element(id.to_owned())))
            .collect())
    }

    /// The first element matching `selector`, waiting up to `timeout` for it to appear.
    pub fn wait_for(&self, selector: &str, timeout: Duration) -> Result<Element> {
        crate::eventually(timeout, &format!("an element '{selector}'"), || {
            self.find_all(selector).ok()?.into_iter().next()
        })
    }

    /// The first element matching `selector` now.
    pub fn find(&self, selector: &str) -> Result<Element> {
        self.wait_for(selector, Duration::from_secs(10))
    }

    pub fn click(&self, element: &Element) -> Result<()> {
        self.session_call(
            "POST",
            &format!("/element/{}/click", element.0),
            Some(json!({})),
        )
        .map(drop)
    }

    /// Replaces an input's value with `text`, as typed.
    pub fn type_into(&self, element: &Element, text: &str) -> Result<()> {
        self.session_call(
            "POST",
            &format!("/element/{}/clear", element.0),
            Some(json!({})),
        )?;
        self.session_call(
            "POST",
            &format!("/element/{}/value", element.0),
            Some(json!({ "text": text })),
        )
        .map(drop)
    }

    /// The element's rendered text.
    pub fn text(&self, element: &Element) -> Result<String> {
        let text = self.session_call("GET", &format!("/element/{}/text", element.0), None)?;
        Ok(text.as_str().unwrap_or_default().to_owned())
    }

    /// A DOM property of the element (e.g. `value`, `hidden`).
    pub fn property(&self, element: &Element, name: &str) -> Result<Value> {
        self.session_call(
            "GET",
            &format!("/element/{}/property/{name}", element.0),
            None,
        )
    }

    /// An attribute of the element as written in the page (`data-device`), if it has it.
    pub fn attribute(&self, element: &Element, name: &str) -> Result<Option<String>> {
        let value = self.session_call(
            "GET",
            &format!("/element/{}/attribute/{name}", element.0),
            None,
        )?;
        Ok(value.as_str().map(str::to_owned))
    }

    /// The text of an alert, confirm or prompt open now, if any.
    pub fn open_dialog(&self) -> Option<String> {
        self.session_call("GET", "/alert/text", None)
            .ok()
            .map(|t| t.as_str().unwrap_or_default().to_owned())
    }

    /// Accepts the alert, confirm or prompt open now (a prompt with its default answer).
    pub fn accept_dialog(&self) -> Result<()> {
        self.session_call("POST", "/alert/accept", Some(json!({})))
            .map(drop)
    }

    /// Resizes the window (smaller screenshots for the guide).
    pub fn set_window_size(&self, width: u32, height: u32) -> Result<()> {
        self.session_call(
            "POST",
            "/window/rect",
            Some(json!({ "width": width, "height": height })),
        )
        .map(drop)
    }

    /// Saves a PNG of the window to `path` (its folder created).
    pub fn screenshot(&self, path: &Path) -> Result<()> {
        let encoded = self.session_call("GET", "/screenshot", None)?;
        save_png(&encoded, path)
    }

    /// Scrolls the page so that the element's top is at the top of the window (an element
    /// screenshot shows only what is in the window).
    pub fn scroll_to(&self, element: &Element) -> Result<()> {
        self.session_call(
            "POST",
            "/execute/sync",
            Some(json!({
                "script": "arguments[0].scrollIntoView({block: 'start'});",
                "args": [{ ELEMENT: element.0 }],
            })),
        )
        .map(drop)
    }

    /// Saves a PNG of one element (cropped to it) to `path` (its folder created).
    pub fn screenshot_element(&self, element: &Element, path: &Path) -> Result<()> {
        let encoded =
            self.session_call("GET", &format!("/element/{}/screenshot", element.0), None)?;
        save_png(&encoded, path)
    }
}

/// Decodes a WebDriver screenshot and writes it to `path`, creating its folder.
fn save_png(encoded: &Value, path: &Path) -> Result<()> {
    let png = decode_base64(encoded.as_str().unwrap_or_default())
        .ok_or_else(|| answer_error("a screenshot", "not base64"))?;
    if let Some(folder) = path.parent() {
        std::fs::create_dir_all(folder).map_err(|source| HarnessError::Io {
            what: format!("cannot create {}", folder.display()),
            source,
        })?;
    }
    std::fs::write(path, png).map_err(|source| HarnessError::Io {
        what: format!("cannot write {}", path.display()),
        source,
    })
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self.session_call("DELETE", "", None);
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Standard base64 (with padding), as WebDriver sends screenshots.
fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let bytes: Vec<u8> = text.bytes().filter(|c| !c.is_ascii_whitespace()).collect();
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
    for chunk in bytes.chunks(4) {
        let data: Vec<u8> = chunk.iter().copied().take_while(|&c| c != b'=').collect();
        let mut n = 0u32;
        for (i, c) in data.iter().enumerate() {
            n |= value(*c)? << (18 - 6 * i);
        }
        let keep = data.len().saturating_sub(1);
        out.extend(n.to_be_bytes()[1..1 + keep].iter());
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_decodes_with_and_without_padding() {
        assert_eq!(super::decode_base64("aGVsbG8=").unwrap(), b"hello");
        assert_eq!(super::decode_base64("aGk=").unwrap(), b"hi");
        assert_eq!(super::decode_base64("YWJj").unwrap(), b"abc");
        assert_eq!(super::decode_base64("a$=="), None);
    }
}
