//! The bridge protocol on port 5645: the code generated from `proto/`, the conversions to
//! the model's types, the shared-token check and the TLS set-up both ends use.

use std::time::Duration;

use model::EntityKind;
use tonic::metadata::MetadataValue;
use tonic::service::Interceptor;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};
use tonic::{Request, Status};

/// Generated from `proto/sipass_bridge.proto`.
#[allow(clippy::all)]
pub mod pb {
    tonic::include_proto!("sipassbridge.v1");
}

/// The default port, as in the commercial plugin.
pub const DEFAULT_PORT: u16 = 5645;

/// The largest message either side accepts. A page of entities stays well below it; anything
/// larger is refused with RESOURCE_EXHAUSTED instead of being buffered.
pub const MAX_MESSAGE_BYTES: usize = 32 * 1024 * 1024;

/// The most payload bytes one page or batch carries, well under [`MAX_MESSAGE_BYTES`]:
/// pages and batches are cut at this size as well as at their count.
pub const BATCH_BYTES: usize = 4 * 1024 * 1024;

/// The most payload bytes one message of a stream (Watch, Events) carries. Smaller than a
/// page, because a stream's messages wait in memory while its reader is slow: what an unread
/// stream holds is a few of these.
pub const STREAM_BATCH_BYTES: usize = 256 * 1024;

/// Splits items into consecutive groups of at most [`BATCH_BYTES`] (by `size`), each with
/// at least one item.
pub fn split_by_size<T>(items: Vec<T>, size: impl Fn(&T) -> usize) -> Vec<Vec<T>> {
    split_within(items, BATCH_BYTES, size)
}

/// Splits items into consecutive groups of at most `max_bytes` (by `size`), each with at
/// least one item.
pub fn split_within<T>(items: Vec<T>, max_bytes: usize, size: impl Fn(&T) -> usize) -> Vec<Vec<T>> {
    let mut groups = Vec::new();
    let mut current = Vec::new();
    let mut bytes = 0;
    for item in items {
        let n = size(&item);
        if !current.is_empty() && bytes + n > max_bytes {
            groups.push(std::mem::take(&mut current));
            bytes = 0;
        }
        bytes += n;
        current.push(item);
    }
    if !current.is_empty() {
        groups.push(current);
    }
    groups
}

/// The wire enum for a model kind.
pub fn kind_to_wire(kind: EntityKind) -> pb::EntityKind {
    match kind {
        EntityKind::Cardholder => pb::EntityKind::Cardholder,
        EntityKind::Credential => pb::EntityKind::Credential,
        EntityKind::Workgroup => pb::EntityKind::Workgroup,
        EntityKind::Unit => pb::EntityKind::Unit,
        EntityKind::Doorset => pb::EntityKind::Doorset,
        EntityKind::Bank => pb::EntityKind::Bank,
        EntityKind::ApbCluster => pb::EntityKind::ApbCluster,
        EntityKind::ApbArea => pb::EntityKind::ApbArea,
        EntityKind::IntrusionArea => pb::EntityKind::IntrusionArea,
        EntityKind::Output => pb::EntityKind::Output,
        EntityKind::AlarmClass => pb::EntityKind::AlarmClass,
    }
}

/// The model kind for a wire value; unknown or unspecified values are an invalid argument.
pub fn kind_from_wire(value: i32) -> Result<EntityKind, Status> {
    let kind = match pb::EntityKind::try_from(value) {
        Ok(pb::EntityKind::Cardholder) => EntityKind::Cardholder,
        Ok(pb::EntityKind::Credential) => EntityKind::Credential,
        Ok(pb::EntityKind::Workgroup) => EntityKind::Workgroup,
        Ok(pb::EntityKind::Unit) => EntityKind::Unit,
        Ok(pb::EntityKind::Doorset) => EntityKind::Doorset,
        Ok(pb::EntityKind::Bank) => EntityKind::Bank,
        Ok(pb::EntityKind::ApbCluster) => EntityKind::ApbCluster,
        Ok(pb::EntityKind::ApbArea) => EntityKind::ApbArea,
        Ok(pb::EntityKind::IntrusionArea) => EntityKind::IntrusionArea,
        Ok(pb::EntityKind::Output) => EntityKind::Output,
        Ok(pb::EntityKind::AlarmClass) => EntityKind::AlarmClass,
        Ok(pb::EntityKind::Unspecified) | Err(_) => {
            return Err(Status::invalid_argument(format!(
                "unknown entity kind {value}"
            )));
        }
    };
    Ok(kind)
}

/// Checks the shared token on every call, in constant time.
#[derive(Clone)]
pub struct RequireToken {
    expected: String,
}

impl RequireToken {
    pub fn new(token: &str) -> Self {
        RequireToken {
            expected: format!("Bearer {token}"),
        }
    }
}

impl Interceptor for RequireToken {
    fn call(&mut self, request: Request<()>) -> Result<Request<()>, Status> {
        let given = request
            .metadata()
            .get("authorization")
            .map(|v| v.as_bytes())
            .unwrap_or_default();
        if constant_time_eq(given, self.expected.as_bytes()) {
            Ok(request)
        } else {
            Err(Status::unauthenticated(
                "missing or wrong bridge token; give the role the token from the proxy's data folder (proxy-token)",
            ))
        }
    }
}

/// Adds the shared token to every call a client makes.
#[derive(Clone)]
pub struct AddToken {
    value: MetadataValue<tonic::metadata::Ascii>,
}

impl Interceptor for AddToken {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        request
            .metadata_mut()
            .insert("authorization", self.value.clone());
        Ok(request)
    }
}

/// A peer's text (a client name, a version string) made safe to log: control characters
/// escaped, so that a newline cannot forge a log line nor an escape sequence drive a
/// terminal, and at most `max_chars` characters kept, the rest counted.
pub fn printable(text: &str, max_chars: usize) -> String {
    let mut out = String::new();
    for (i, c) in text.chars().enumerate() {
        if i == max_chars {
            out.push_str(&format!(
                "…(+{} bytes)",
                text.len() - text.char_indices().nth(i).map_or(text.len(), |(at, _)| at)
            ));
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Compares two secrets in time that depends only on their lengths, so that a caller
/// guessing a token learns nothing from how long a refusal takes. Shared by the bridge
/// protocol's token check and the Config Tool's API token check.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A client of the bridge protocol, with the token added to every call.
pub type BridgeClient = pb::bridge_client::BridgeClient<
    tonic::service::interceptor::InterceptedService<Channel, AddToken>,
>;

/// Why a role could not set up a connection to the proxy.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("'{0}' is not a valid proxy address: {1}")]
    BadAddress(String, String),
    #[error("the bridge token contains characters that cannot be sent; it must be printable ASCII")]
    BadToken,
    #[error("cannot reach the proxy at {addr}: {reason}; {hint}")]
    Unreachable {
        addr: String,
        reason: String,
        hint: String,
    },
}

/// Where a proxy is and how to trust it.
#[derive(Clone)]
pub struct ProxyAddress {
    pub host: String,
    pub port: u16,
    /// PEM of the proxy's CA (its `tls/ca.pem`).
    pub ca_pem: String,
    pub token: String,
}

/// Connects to a proxy over TLS, trusting only its CA.
/// What to do about a failed connection: a certificate that does not name the host the role
/// connects by is fixed on the proxy's side, not by checking the network.
fn unreachable_hint(reason: &str, host: &str) -> String {
    if reason.contains("not valid for name") || reason.contains("NotValidForName") {
        format!(
            "connect by a name in the proxy's certificate, or start the proxy with --tls-name {host} (tls-name in proxy.toml)"
        )
    } else {
        "check the host and port and that the proxy is running".to_owned()
    }
}

pub async fn connect(proxy: &ProxyAddress) -> Result<BridgeClient, ConnectError> {
    let addr = format!("{}:{}", proxy.host, proxy.port);
    let host = if proxy.host.contains(':') {
        format!("[{}]", proxy.host)
    } else {
        proxy.host.clone()
    };
    let url = format!("https://{host}:{}", proxy.port);
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(&proxy.ca_pem))
        .domain_name(proxy.host.clone());
    let endpoint = Endpoint::from_shared(url)
        .and_then(|e| e.tls_config(tls))
        .map_err(|e| ConnectError::BadAddress(addr.clone(), error_chain(&e)))?
        .connect_timeout(Duration::from_secs(5))
        .http2_keep_alive_interval(Duration::from_secs(20))
        .keep_alive_timeout(Duration::from_secs(10))
        .tcp_nodelay(true);
    let channel = endpoint.connect().await.map_err(|e| {
        let reason = error_chain(&e);
        ConnectError::Unreachable {
            hint: unreachable_hint(&reason, &proxy.host),
            addr,
            reason,
        }
    })?;
    let value = format!("Bearer {}", proxy.token)
        .parse()
        .map_err(|_| ConnectError::BadToken)?;
    Ok(
        pb::bridge_client::BridgeClient::with_interceptor(channel, AddToken { value })
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES),
    )
}

/// "outer: inner: innermost", skipping repeats, so that the actionable cause is visible.
pub fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cause = Some(err);
    while let Some(e) = cause {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        cause = e.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_certificate_name_failure_points_at_tls_name() {
        let reason = "transport error: invalid peer certificate: certificate not valid for name \"192.0.2.2\"; certificate is only valid for DnsName(\"vm\")";
        let hint = super::unreachable_hint(reason, "192.0.2.2");
        assert!(hint.contains("--tls-name 192.0.2.2"), "{hint}");
        let refused = super::unreachable_hint("connection refused", "192.0.2.2");
        assert!(refused.contains("that the proxy is running"), "{refused}");
    }

    #[test]
    fn peer_text_is_logged_on_one_line_and_cut_to_size() {
        assert_eq!(printable("role-1", 64), "role-1");
        assert_eq!(
            printable("role\nERROR forged line\u{1b}[31m", 64),
            "role\\nERROR forged line\\u{1b}[31m"
        );
        let huge = "é".repeat(1_000_000);
        let shown = printable(&huge, 10);
        assert_eq!(
            shown,
            format!("{}…(+{} bytes)", "é".repeat(10), 2 * (1_000_000 - 10))
        );
    }

    use super::*;

    #[test]
    fn every_kind_survives_the_wire() {
        for kind in EntityKind::ALL {
            assert_eq!(kind_from_wire(kind_to_wire(kind) as i32).unwrap(), kind);
        }
        assert!(kind_from_wire(0).is_err());
        assert!(kind_from_wire(99).is_err());
    }

    #[test]
    fn groups_stay_under_the_byte_budget_and_keep_order() {
        let items: Vec<usize> = vec![BATCH_BYTES / 2, BATCH_BYTES / 2, 1, BATCH_BYTES * 2, 3];
        let groups = split_by_size(items, |n| *n);
        assert_eq!(
            groups,
            vec![
                vec![BATCH_BYTES / 2, BATCH_BYTES / 2],
                vec![1],
                vec![BATCH_BYTES * 2],
                vec![3]
            ]
        );
        assert!(split_by_size(Vec::<usize>::new(), |n| *n).is_empty());
    }

    #[test]
    fn the_token_check_refuses_a_wrong_token() {
        let mut check = RequireToken::new("s3cret");
        let mut ok = Request::new(());
        ok.metadata_mut()
            .insert("authorization", "Bearer s3cret".parse().unwrap());
        assert!(check.call(ok).is_ok());
        let mut wrong = Request::new(());
        wrong
            .metadata_mut()
            .insert("authorization", "Bearer s3creT".parse().unwrap());
        assert_eq!(
            check.call(wrong).unwrap_err().code(),
            tonic::Code::Unauthenticated
        );
        assert!(check.call(Request::new(())).is_err());
    }
}
