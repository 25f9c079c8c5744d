//! The people of a generated site. Each cardholder is a pure function of (seed, token):
//! the store rebuilds it on demand instead of keeping a million of them in memory.

use model::SiPassVersion;
use model::sipass::{
    AccessRule, Attributes, Cardholder, ContactDetails, Credential, CustomField,
    NONE_WORKGROUP_TOKEN, PersonalDetails, TraceDetails, VISITOR_WORKGROUP_TOKEN, Vehicle,
    VisitorDetails,
};

use crate::rng::Rng;

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

/// The cardholder `Status` codes of one SiPass release.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusCodes {
    pub valid: i32,
    pub void: i32,
    pub expired: i32,
    pub before_start_date: i32,
    pub workgroup_void: i32,
}

/// The cardholder `Status` codes per release (`reference/sipass-api.md` §1.5): Val0429
/// (2019) saw 61 Valid, 62 Void, 63 Expired, 64 BeforeStartDate, 65 WorkGroupVoid; respa
/// moved "Valid" to 62 in January 2020 "due to changes in SiPass API", which the simulator
/// places at 2.76. Where the sources are silent (what 61 became) the two codes swap.
///
/// | Release | Valid | Void | Expired | BeforeStartDate | WorkGroupVoid |
/// |---|---|---|---|---|---|
/// | 2.65, 2.70, 2.75 | 61 | 62 | 63 | 64 | 65 |
/// | 2.76, 2.80 | 62 | 61 | 63 | 64 | 65 |
pub fn status_codes(version: SiPassVersion) -> StatusCodes {
    let (valid, void) = if version >= SiPassVersion::V2_76 {
        (62, 61)
    } else {
        (61, 62)
    };
    StatusCodes {
        valid,
        void,
        expired: 63,
        before_start_date: 64,
        workgroup_void: 65,
    }
}

/// The cardholder `Status` code meaning "valid" in `version`.
pub fn status_valid(version: SiPassVersion) -> i32 {
    status_codes(version).valid
}

/// Builds generated cardholders on demand from the seed and what the site generated
/// around them (workgroups, access groups).
#[derive(Clone)]
pub struct Generator {
    seed: u64,
    codes: StatusCodes,
    departments: Vec<(i64, String)>,
    access_groups: Vec<(String, String)>,
}

impl Generator {
    /// A generator for `seed` in `version`, drawing each cardholder's workgroup from
    /// `departments` (token, name) and its access group from `access_groups`.
    pub fn new(
        seed: u64,
        version: SiPassVersion,
        departments: Vec<(i64, String)>,
        access_groups: Vec<(String, String)>,
    ) -> Self {
        Generator {
            seed,
            codes: status_codes(version),
            departments,
            access_groups,
        }
    }
}

/// Stream salts: each kind of random choice draws from its own stream.
const CARDHOLDER_SALT: u64 = 1;

/// One cardholder in this many is a visitor.
const VISITOR_EVERY: u64 = 97;
/// One cardholder in this many has a second credential.
const SECOND_CREDENTIAL_EVERY: u64 = 10;

impl Generator {
    /// First and last name of generated cardholder `token`: the first two draws of its
    /// stream, so they can be had without building the rest.
    pub fn names(&self, token: u64) -> (&'static str, &'static str) {
        let mut rng = Rng::for_item(self.seed, CARDHOLDER_SALT, token);
        (rng.pick(&FIRST_NAMES), rng.pick(&LAST_NAMES))
    }

    /// Generated cardholder `token`, whole.
    pub fn cardholder(&self, token: u64) -> Cardholder {
        let mut rng = Rng::for_item(self.seed, CARDHOLDER_SALT, token);
        let first = rng.pick(&FIRST_NAMES);
        let last = rng.pick(&LAST_NAMES);
        let visitor = token.is_multiple_of(VISITOR_EVERY);
        let (workgroup_id, workgroup_name) = if visitor {
            (VISITOR_WORKGROUP_TOKEN, "<Visitor>".to_owned())
        } else {
            let i = rng.below(self.departments.len() as u64) as usize;
            self.departments
                .get(i)
                .cloned()
                .unwrap_or((NONE_WORKGROUP_TOKEN, "<None>".to_owned()))
        };
        let employee = format!("E{token:07}");
        let mut credentials = vec![credential(token, 0)];
        if token % SECOND_CREDENTIAL_EVERY == 3 {
            credentials.push(credential(token, 1));
        }
        let access_rules = self
            .access_groups
            .get(rng.below(self.access_groups.len() as u64) as usize)
            .map(|(t, n)| access_group_rule(t, n))
            .into_iter()
            .collect();
        Cardholder {
            token: token.to_string(),
            first_name: first.to_owned(),
            last_name: last.to_owned(),
            employee_number: employee.clone(),
            employee_name: format!("{first} {last}"),
            general_information: String::new(),
            start_date: "2024-01-01T00:00:00".to_owned(),
            end_date: "2030-12-31T23:59:59".to_owned(),
            status: self.codes.valid,
            primary_workgroup_id: workgroup_id,
            primary_workgroup_name: workgroup_name,
            apb_workgroup_id: workgroup_id,
            non_partition_work_groups: Vec::new(),
            access_rules,
            non_partition_workgroup_access_rules: Vec::new(),
            credentials,
            base_card_number: String::new(),
            smart_card_profile_id: String::new(),
            smart_card_profile_name: String::new(),
            finger_prints: Vec::new(),
            potrait: String::new(),
            attributes: Attributes {
                visitor,
                ..Attributes::default()
            },
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
            visitor_details: if visitor {
                visitor_details(&mut rng)
            } else {
                VisitorDetails::default()
            },
            custom_fields: vec![CustomField {
                filed_name: "CustomTextBoxControl1__CF".to_owned(),
                field_value: Some(format!("Badge {}", rng.below(1000))),
            }],
            ..Cardholder::default()
        }
    }
}

fn visitor_details(rng: &mut Rng) -> VisitorDetails {
    let mut custom = serde_json::Map::new();
    custom.insert("Company".into(), "Example Ltd".into());
    custom.insert("Reason".into(), "Meeting".into());
    VisitorDetails {
        visited_employee_first_name: rng.pick(&FIRST_NAMES).to_owned(),
        visited_employee_last_name: rng.pick(&LAST_NAMES).to_owned(),
        visited_employee_id: format!("E{:07}", 1 + rng.below(1000)),
        visitor_card_status: 1,
        visitor_card_issue_time: "2025-06-01T09:00:00".to_owned(),
        visitor_card_return_time: "2025-06-01T17:00:00".to_owned(),
        visitor_custom_values: custom,
    }
}

pub fn access_group_rule(token: &str, name: &str) -> AccessRule {
    AccessRule {
        rule_type: 4,
        rule_token: token.to_owned(),
        object_token: token.to_owned(),
        object_name: name.to_owned(),
        time_schedule_token: "1".to_owned(),
        start_date: None,
        end_date: None,
        arming_rights_id: None,
        control_mode_id: None,
        side: 0,
        is_favourite: false,
    }
}

/// Credential `n` (0 or 1) of cardholder `token`: the first a HID Corporate 1000 card, the
/// second a 26-bit Wiegand card; card numbers derive from the token, so they are unique.
pub fn credential(token: u64, n: u8) -> Credential {
    let (number, facility, tech, profile, profile_name) = match n {
        0 => (1_000_000 + token, 100, 10, "1", "HID Corporate 1000"),
        _ => (50_000_000 + token, 200, 26, "2", "Wiegand 26"),
    };
    Credential {
        card_number: number.to_string(),
        facility_code: facility,
        card_technology_code: tech,
        pin: String::new(),
        pin_mode: 1,
        pin_digit: 0,
        profile_id: profile.to_owned(),
        profile_name: profile_name.to_owned(),
        start_date: "2024-01-01T00:00:00".to_owned(),
        end_date: "2030-12-31T23:59:59".to_owned(),
        revision_number: 0,
        active: true,
        pin_error_disable: false,
    }
}
