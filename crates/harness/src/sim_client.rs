//! A plain HTTPS client of the simulator (HR API, management API, `/api/sim/V1` test
//! endpoints), written as any third party would, so that what it reads is SiPass's truth
//! and not our own client's.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::{Value, json};

use crate::error::read;
use crate::parts::SIPASS_PASSWORD;
use crate::{HarnessError, Result};

/// A logged-in client of the simulator.
#[derive(Clone)]
pub struct SimClient {
    http: reqwest::Client,
    /// The server root: paths are given from it, e.g. "/api/V1/hr/Cardholders/1".
    root: String,
    token: String,
    client_id: String,
}

impl SimClient {
    /// Logs in as the default operator at `hr_url`, trusting the CA in `sim_dir`;
    /// `client_id` names the caller in SiPass's `clientUniqueId` header.
    pub async fn login(hr_url: &str, sim_dir: &Path, client_id: &str) -> Result<Self> {
        let ca = read(&sim_dir.join("ca.pem"))?;
        let http = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(ca.as_bytes())?)
            .pool_max_idle_per_host(64)
            .build()?;
        let mut client = SimClient {
            http,
            root: hr_url.trim_end_matches("/api/V1/hr").to_owned(),
            token: String::new(),
            client_id: client_id.to_owned(),
        };
        let credentials = json!({"Username": "operator", "Password": SIPASS_PASSWORD});
        let answer = client
            .ok("POST", "/api/V1/hr/Authentication", Some(&credentials))
            .await?;
        client.token = answer["Token"]
            .as_str()
            .ok_or_else(|| HarnessError::Answer {
                what: "the simulator's login".into(),
                detail: format!("no Token in {answer}"),
            })?
            .to_owned();
        Ok(client)
    }

    /// A request with SiPass's headers and the session token, for callers that send many.
    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let request = self
            .http
            .request(method, format!("{}{path}", self.root))
            .header("clientUniqueId", &self.client_id)
            .header("language", "English");
        if self.token.is_empty() {
            request // logging in
        } else {
            request.header("Authorization", &self.token)
        }
    }

    /// Calls `method path` with an optional JSON body: (status, JSON answer or null).
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Value)> {
        let method = method
            .parse::<reqwest::Method>()
            .map_err(|e| HarnessError::Answer {
                what: format!("method {method}"),
                detail: e.to_string(),
            })?;
        let mut request = self.request(method, path);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        Ok((status, response.json().await.unwrap_or(Value::Null)))
    }

    /// Like [`SimClient::call`], with anything but a 2xx answer an error.
    pub async fn ok(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value> {
        let (status, answer) = self.call(method, path, body).await?;
        if (200..300).contains(&status) {
            Ok(answer)
        } else {
            Err(HarnessError::Status {
                request: format!("{method} {path}"),
                status,
                body: answer.to_string(),
            })
        }
    }

    /// Every cardholder in SiPass as (id, "First Last"), read page by page over the HR API.
    pub async fn cardholders(&self) -> Result<BTreeSet<(String, String)>> {
        let mut all = BTreeSet::new();
        loop {
            let path = format!(
                "/api/V1/hr/Cardholders?startIndex={}&endIndex={}&fields=FirstName,LastName",
                all.len(),
                all.len() + 10_000
            );
            let page = self.ok("GET", &path, None).await?;
            let records = page["Records"].as_array().cloned().unwrap_or_default();
            for record in &records {
                all.insert(cardholder(record)?);
            }
            let total = page["TotalRecords"].as_u64().unwrap_or(0);
            if records.is_empty() || all.len() as u64 >= total {
                return Ok(all);
            }
        }
    }
}

/// (id, "First Last") of an HR API cardholder record.
fn cardholder(record: &Value) -> Result<(String, String)> {
    let text = |key: &str| record[key].as_str().unwrap_or_default();
    let id = record["Token"]
        .as_str()
        .ok_or_else(|| HarnessError::Answer {
            what: "the HR API's cardholder list".into(),
            detail: format!("a record without Token: {record}"),
        })?;
    let name = format!("{} {}", text("FirstName"), text("LastName"));
    Ok((id.to_owned(), name.trim().to_owned()))
}
