//! A deterministic site generator: the same seed and size always give the same site, so a
//! test or a benchmark can be repeated exactly.

use model::SiPassVersion;
use model::sipass::{
    Attributes, Cardholder, ContactDetails, Credential, CustomField, PersonalDetails, TraceDetails,
    Vehicle, VisitorDetails,
};

/// The token of the first generated cardholder; SiPass hands out small numeric tokens.
pub const FIRST_CARDHOLDER_TOKEN: u64 = 1;

/// What to generate.
#[derive(Debug, Clone)]
pub struct SiteSpec {
    pub cardholders: usize,
    pub seed: u64,
}

impl Default for SiteSpec {
    fn default() -> Self {
        SiteSpec {
            cardholders: 1000,
            seed: 1,
        }
    }
}

const FIRST_NAMES: [&str; 24] = [
    "Ada",
    "Alan",
    "Grace",
    "Linus",
    "Margaret",
    "Dennis",
    "Barbara",
    "Ken",
    "Frances",
    "Edsger",
    "Radia",
    "Tim",
    "Hedy",
    "Donald",
    "Katherine",
    "John",
    "Sophie",
    "Niklaus",
    "Annie",
    "Leslie",
    "Joan",
    "Bjarne",
    "Mary",
    "Guido",
];
const LAST_NAMES: [&str; 24] = [
    "Lovelace",
    "Turing",
    "Hopper",
    "Torvalds",
    "Hamilton",
    "Ritchie",
    "Liskov",
    "Thompson",
    "Allen",
    "Dijkstra",
    "Perlman",
    "Berners-Lee",
    "Lamarr",
    "Knuth",
    "Johnson",
    "McCarthy",
    "Wilson",
    "Wirth",
    "Easley",
    "Lamport",
    "Clarke",
    "Stroustrup",
    "Keller",
    "van Rossum",
];

/// SplitMix64: tiny, fast and good enough to spread names; no dependency needed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[(self.next() % from.len() as u64) as usize]
    }
}

/// The cardholder `Status` code meaning "valid": SiPass moved it from 61 to 62 around 2.76
/// (`reference/sipass-api.md` §1.5).
pub fn status_valid(version: SiPassVersion) -> i32 {
    if version >= SiPassVersion::V2_76 {
        62
    } else {
        61
    }
}

/// Generates `spec.cardholders` cardholders, each with one credential.
pub fn cardholders(spec: &SiteSpec, version: SiPassVersion) -> Vec<Cardholder> {
    let mut rng = Rng(spec.seed);
    (0..spec.cardholders as u64)
        .map(|i| cardholder(&mut rng, FIRST_CARDHOLDER_TOKEN + i, version))
        .collect()
}

fn cardholder(rng: &mut Rng, token: u64, version: SiPassVersion) -> Cardholder {
    let first = rng.pick(&FIRST_NAMES);
    let last = rng.pick(&LAST_NAMES);
    let employee = format!("E{token:07}");
    Cardholder {
        token: token.to_string(),
        first_name: first.to_owned(),
        last_name: last.to_owned(),
        employee_number: employee.clone(),
        employee_name: format!("{first} {last}"),
        general_information: String::new(),
        start_date: "2024-01-01T00:00:00".to_owned(),
        end_date: "2030-12-31T23:59:59".to_owned(),
        status: status_valid(version),
        primary_workgroup_id: 1,
        primary_workgroup_name: "<None>".to_owned(),
        apb_workgroup_id: 1,
        non_partition_work_groups: Vec::new(),
        access_rules: Vec::new(),
        non_partition_workgroup_access_rules: Vec::new(),
        credentials: vec![credential(token)],
        base_card_number: String::new(),
        smart_card_profile_id: String::new(),
        smart_card_profile_name: String::new(),
        finger_prints: Vec::new(),
        potrait: String::new(),
        attributes: Attributes::default(),
        personal_details: PersonalDetails {
            contact_details: ContactDetails {
                email: format!(
                    "{}.{}{token}@example.com",
                    first.to_lowercase(),
                    last.to_lowercase().replace(' ', "")
                ),
                ..ContactDetails::default()
            },
            payroll_number: employee,
            ..PersonalDetails::default()
        },
        trace_details: TraceDetails::default(),
        vehicle1: Vehicle::default(),
        vehicle2: Vehicle::default(),
        visitor_details: VisitorDetails::default(),
        custom_fields: vec![CustomField {
            filed_name: "CustomTextBoxControl1__CF".to_owned(),
            field_value: format!("Badge {}", rng.next() % 1000),
        }],
    }
}

fn credential(token: u64) -> Credential {
    Credential {
        card_number: (1_000_000 + token).to_string(),
        facility_code: 100,
        card_technology_code: 10,
        pin: String::new(),
        pin_mode: 1,
        pin_digit: 0,
        profile_id: "1".to_owned(),
        profile_name: "HID Corporate 1000".to_owned(),
        start_date: "2024-01-01T00:00:00".to_owned(),
        end_date: "2030-12-31T23:59:59".to_owned(),
        revision_number: 0,
        active: true,
        pin_error_disable: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_site() {
        let spec = SiteSpec {
            cardholders: 50,
            seed: 7,
        };
        let a = cardholders(&spec, SiPassVersion::V2_80);
        assert_eq!(a, cardholders(&spec, SiPassVersion::V2_80));
        assert_ne!(
            a,
            cardholders(&SiteSpec { seed: 8, ..spec }, SiPassVersion::V2_80)
        );
        assert_eq!(a[0].token, "1");
        assert_eq!(a[49].token, "50");
    }
}
