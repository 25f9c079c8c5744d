//! `sipass-bridge version`: the compatibility report of a running role (this release, the
//! bridge protocol, the proxy's and SiPass's versions, and whether the pair is supported),
//! to confirm before an upgrade. `--check` makes it a gate for scripts.

use anyhow::{Context, Result};
use model::version::{PRODUCT_VERSION, PROTOCOL_VERSION};
use role::compatibility::{CompatibilityReport, Verdict};

use crate::RoleTarget;
use crate::admin::Unhealthy;
use crate::api::Api;

#[derive(clap::Args)]
pub struct VersionArgs {
    #[command(flatten)]
    target: RoleTarget,
    /// Exit 2 with the reason when the pair is unsupported or the proxy cannot be reached,
    /// 1 when the role cannot be asked, 0 when the pair is supported and connected.
    #[arg(long)]
    check: bool,
}

pub async fn version(args: VersionArgs) -> Result<()> {
    let report: CompatibilityReport = async { Api::new(&args.target)?.get("/version").await }
        .await
        .with_context(|| {
            format!(
                "this is SiPass Bridge {PRODUCT_VERSION} (bridge protocol {PROTOCOL_VERSION}); the running role could not be asked for its proxy's and SiPass's versions"
            )
        })?;
    if args.target.json {
        out!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_report(&report);
    }
    if args.check && report.verdict != Verdict::Supported {
        return Err(Unhealthy(format!(
            "{}: {}",
            verdict_name(report.verdict),
            report.reason
        ))
        .into());
    }
    Ok(())
}

fn verdict_name(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Supported => "supported",
        Verdict::Unsupported => "unsupported",
        Verdict::Unreachable => "unreachable",
    }
}

fn print_report(r: &CompatibilityReport) {
    let printable = |t: &str| protocol::printable(t, 512);
    out!("SiPass Bridge     {} (this role)", r.product_version);
    out!("Bridge protocol   {}", r.protocol_version);
    match &r.proxy {
        Some(p) => {
            out!(
                "Proxy             {} at {} (protocol {})",
                printable(&p.product_version),
                printable(&p.address),
                p.protocol_version
            );
            out!("SiPass            {}", printable(&p.sipass_version));
        }
        None => {
            out!("Proxy             unknown (no Hello yet)");
            out!("SiPass            unknown");
        }
    }
    out!(
        "Supported SiPass  {}",
        r.supported_sipass_versions.join(", ")
    );
    out!(
        "Verdict           {}: {}",
        verdict_name(r.verdict),
        printable(&r.reason)
    );
}
