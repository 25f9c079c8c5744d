//! Starting a simulator and talking to it.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::Value;
use sim::{RunningSim, SimConfig};

/// A running simulator with a logged-in client.
pub struct Sim {
    pub running: RunningSim,
    pub client: reqwest::Client,
    pub token: String,
    /// Keeps the simulator running until the test ends.
    _stop: tokio::sync::oneshot::Sender<()>,
}

/// A fresh folder for one simulator's CA.
fn temp_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("sipass-sim-test-{}", tls::random_hex(8)));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// The defaults tests start from: a small site.
pub fn config() -> SimConfig {
    let mut config = SimConfig::local(temp_dir());
    config.site.cardholders = 250;
    config
}

impl Sim {
    /// Starts a simulator with the test defaults and logs in.
    pub async fn start() -> Sim {
        Sim::with(config()).await
    }

    /// Starts a simulator with `config` and logs in.
    pub async fn with(config: SimConfig) -> Sim {
        tls::install_crypto_provider();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let running = sim::start(config, listener, async {
            let _ = stopped.await;
        })
        .await
        .expect("simulator starts");
        let client = client_for(&running);
        let mut sim = Sim {
            running,
            client,
            token: String::new(),
            _stop: stop,
        };
        sim.token = sim.login().await;
        sim
    }

    /// Shuts the simulator down and waits until it has stopped; returns how long that took.
    pub async fn shut_down(self) -> Duration {
        let started = Instant::now();
        let _ = self._stop.send(());
        self.running.stopped().await;
        started.elapsed()
    }

    /// Logs in as the default operator; returns the token.
    pub async fn login(&self) -> String {
        let (status, body) = self
            .call_as(
                None,
                Method::POST,
                &self.hr("Authentication"),
                Some(serde_json::json!({"Username": "operator", "Password": "sipass"})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["Token"].as_str().unwrap_or_default().to_owned()
    }

    pub fn hr(&self, path: &str) -> String {
        format!("{}/{path}", self.running.hr_url())
    }

    pub fn mgmt(&self, path: &str) -> String {
        format!("{}/{path}", self.running.management_url())
    }

    pub fn simapi(&self, path: &str) -> String {
        format!("{}/{path}", self.running.sim_url())
    }

    /// A request with the SiPass headers and this client's session.
    pub fn request(&self, method: Method, url: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, url)
            .header("clientUniqueId", "integration-test")
            .header("language", "English")
            .header("Authorization", &self.token)
    }

    /// Calls with this client's session; returns status and JSON (Null when none).
    pub async fn call(
        &self,
        method: Method,
        url: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        self.call_as(Some(&self.token), method, url, body).await
    }

    /// Calls with `token` (none: no Authorization header).
    pub async fn call_as(
        &self,
        token: Option<&str>,
        method: Method,
        url: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .client
            .request(method, url)
            .header("clientUniqueId", "integration-test")
            .header("language", "English");
        if let Some(token) = token {
            req = req.header("Authorization", token);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.expect("request sent");
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub async fn get(&self, url: &str) -> (StatusCode, Value) {
        self.call(Method::GET, url, None).await
    }

    pub async fn post(&self, url: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, url, Some(body)).await
    }

    pub async fn put(&self, url: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::PUT, url, Some(body)).await
    }

    pub async fn delete(&self, url: &str) -> (StatusCode, Value) {
        self.call(Method::DELETE, url, None).await
    }

    /// Sets faults; asserts they were accepted.
    pub async fn faults(&self, body: Value) -> Value {
        let (status, settings) = self.put(&self.simapi("Faults"), body).await;
        assert_eq!(status, StatusCode::OK, "{settings}");
        settings
    }

    /// Opens the push channel (on its own connection) from `after`.
    pub async fn push(&self, after: Option<u64>) -> Sse {
        let url = match after {
            Some(n) => self.mgmt(&format!("Notifications?after={n}")),
            None => self.mgmt("Notifications"),
        };
        let resp = client_for(&self.running)
            .get(url)
            .header("clientUniqueId", "integration-test")
            .header("language", "English")
            .header("Authorization", &self.token)
            .send()
            .await
            .expect("push channel opens");
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(
            resp.headers()["content-type"].to_str().unwrap(),
            "text/event-stream"
        );
        Sse {
            resp,
            buf: String::new(),
        }
    }
}

/// A client that trusts the simulator's "SiPass Root CA".
pub fn client_for(running: &RunningSim) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(running.ca_pem.as_bytes()).unwrap();
    reqwest::Client::builder()
        .add_root_certificate(ca)
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

/// One message of the push channel (or a comment, with `comment` set).
#[derive(Debug, Clone, Default)]
pub struct Frame {
    pub id: Option<u64>,
    pub event: String,
    pub data: Value,
    pub comment: Option<String>,
}

/// A Server-Sent Events stream being read.
pub struct Sse {
    resp: reqwest::Response,
    buf: String,
}

/// How long a test waits for something that should happen at once.
pub const PATIENCE: Duration = Duration::from_secs(10);

impl Sse {
    /// The next frame, comments included; `None` when the stream ended or `PATIENCE`
    /// passed.
    pub async fn next_frame(&mut self) -> Option<Frame> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let raw: String = self.buf.drain(..end + 2).collect();
                return Some(parse_frame(&raw));
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            match tokio::time::timeout(left, self.resp.chunk()).await {
                Ok(Ok(Some(chunk))) => self.buf.push_str(&String::from_utf8_lossy(&chunk)),
                _ => return None,
            }
        }
    }

    /// The next message, skipping comments.
    pub async fn next(&mut self) -> Option<Frame> {
        loop {
            let frame = self.next_frame().await?;
            if frame.comment.is_none() {
                return Some(frame);
            }
        }
    }

    /// The next `n` messages; panics if they do not come.
    pub async fn take(&mut self, n: usize) -> Vec<Frame> {
        let mut out = Vec::new();
        for _ in 0..n {
            out.push(self.next().await.expect("a push message"));
        }
        out
    }

    /// True once the server closed the stream (or broke the connection).
    pub async fn ended(&mut self) -> bool {
        let deadline = Instant::now() + PATIENCE;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match tokio::time::timeout(left, self.resp.chunk()).await {
                Ok(Ok(Some(_))) => continue,
                Ok(Ok(None)) | Ok(Err(_)) => return true,
                Err(_) => return false,
            }
        }
        false
    }
}

fn parse_frame(raw: &str) -> Frame {
    let mut frame = Frame::default();
    for line in raw.lines() {
        if let Some(c) = line.strip_prefix(':') {
            frame.comment = Some(c.trim().to_owned());
        } else if let Some(v) = line.strip_prefix("id: ") {
            frame.id = v.parse().ok();
        } else if let Some(v) = line.strip_prefix("event: ") {
            frame.event = v.to_owned();
        } else if let Some(v) = line.strip_prefix("data: ") {
            frame.data = serde_json::from_str(v).expect("push data is one line of JSON");
        }
    }
    frame
}

/// Polls `check` until it returns `Some`, for at most `PATIENCE`.
pub async fn eventually<T, F, Fut>(mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "condition not met in time");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A cardholder body with every top-level field, as SiPass requires on create.
pub fn new_cardholder(first: &str, last: &str) -> Value {
    serde_json::json!({
        "Token": "-1",
        "FirstName": first,
        "LastName": last,
        "EmployeeNumber": "X-1",
        "EmployeeName": format!("{first} {last}"),
        "GeneralInformation": "",
        "StartDate": "2025-01-01T00:00:00",
        "EndDate": "2026-01-01T00:00:00",
        "Status": 62,
        "PrimaryWorkgroupId": 1,
        "PrimaryWorkgroupName": "<None>",
        "ApbWorkgroupId": 1,
        "NonPartitionWorkGroups": [],
        "AccessRules": [],
        "NonPartitionWorkgroupAccessRules": [],
        "Credentials": [{
            "CardNumber": "777", "FacilityCode": 100, "CardTechnologyCode": 10, "Pin": "",
            "PinMode": 1, "PinDigit": 0, "ProfileId": "1", "ProfileName": "HID Corporate 1000",
            "StartDate": "2025-01-01T00:00:00", "EndDate": "2026-01-01T00:00:00",
            "RevisionNumber": 0, "Active": true, "PinErrorDisable": false
        }],
        "BaseCardNumber": "",
        "SmartCardProfileId": "",
        "SmartCardProfileName": "",
        "FingerPrints": [],
        "Potrait": "",
        "Attributes": {
            "Accessibility": false, "ApbExclusion": false, "ApbReEntryExclusion": false,
            "Isolate": false, "SelfAuthorize": false, "Supervisor": false, "Visitor": false,
            "Void": false, "RestrictedVisitor": false
        },
        "PersonalDetails": {
            "Address": "", "DateOfBirth": "", "PayrollNumber": "", "Title": "",
            "ContactDetails": {
                "Email": "", "MobileNumber": "", "MobileServiceProviderId": "", "PagerNumber": "",
                "PagerServiceProviderId": "", "PhoneNumber": "", "ManagerEmailAddress": "",
                "UseEmailforMessageForward": false
            },
            "UserDetails": {"UserName": "", "Password": ""}
        },
        "TraceDetails": {
            "CardLastUsed": "", "CardNumberLastUsed": "", "LastApbLocation": "", "PointName": "",
            "TraceCard": false
        },
        "Vehicle1": {"CarColor": "", "CarModelNumber": "", "CarRegistrationNumber": ""},
        "Vehicle2": {"CarColor": "", "CarModelNumber": "", "CarRegistrationNumber": ""},
        "VisitorDetails": {
            "VisitedEmployeeFirstName": "", "VisitedEmployeeLastName": "", "VisitedEmployeeId": "",
            "VisitorCardStatus": 0, "VisitorCardIssueTime": "", "VisitorCardReturnTime": "",
            "VisitorCustomValues": {}
        },
        "CustomFields": []
    })
}
