//! HR API answers in the shapes real SiPass sends, as the public clients recorded them
//! (`reference/sipass-api.md` §1.4-§1.5; Val0429's `custom/services/acs/SiPassAdapter.ts`
//! comments hold the bodies). The simulator keeps its objects typed; this turns them into
//! what goes on the wire:
//!
//! - dates carry the site's UTC offset (`"2018-02-01T04:36:59+08:00"`), a bare date gets
//!   midnight;
//! - `Potrait` is an image URL (`api/V1/cardholders/images?imgId=...`), answered by
//!   [`image`]; `CardholderPortrait` is the base64 JPEG or `null`;
//! - unset profile and provider ids are `"0"`;
//! - every custom field the site defines is listed, `null` when unset;
//! - `PrimaryWorkGroupAccessRule` holds the primary workgroup's rules;
//! - the version profile decides what differs between releases: `PINModeValue.Type`
//!   (respa, 2020: 2.76 on) and `ManagerEmailAddress` (respa: added in January 2020).

use model::SiPassVersion;
use model::sipass::{AccessRule, Cardholder, CustomField};
use serde_json::{Map, Value};

/// The custom fields the simulated site defines (SiPass generates such names in its
/// Custom Page Designer; these are among the ones Val0429's site had).
pub const SITE_CUSTOM_FIELDS: [&str; 4] = [
    "CustomTextBoxControl1__CF",
    "CustomTextBoxControl2__CF",
    "CustomDropdownControl1__CF",
    "CustomDateControl1__CF",
];

/// How the simulated release and site shape answers.
#[derive(Debug, Clone)]
pub struct Presentation {
    version: SiPassVersion,
    /// `+HH:MM` or `-HH:MM`.
    utc_offset: String,
}

impl Presentation {
    pub fn new(version: SiPassVersion, utc_offset: &str) -> Self {
        Presentation {
            version,
            utc_offset: utc_offset.to_owned(),
        }
    }

    /// True from the release respa's January 2020 changes point at (the simulator places
    /// them at 2.76, like the status codes).
    fn is_2020(&self) -> bool {
        self.version >= SiPassVersion::V2_76
    }

    /// A full cardholder as `GET Cardholders/{token}` answers it.
    /// `primary_rules` are the rules of its primary workgroup.
    pub fn cardholder(&self, cardholder: Cardholder, primary_rules: &[AccessRule]) -> Value {
        let Ok(mut value) = serde_json::to_value(self.shaped(cardholder, primary_rules)) else {
            return Value::Null;
        };
        if !self.is_2020()
            && let Some(Value::Object(contact)) =
                value.pointer_mut("/PersonalDetails/ContactDetails")
        {
            contact.remove("ManagerEmailAddress");
        }
        value
    }

    /// True when a cardholder answers exactly as its [`shaped`](Self::shaped) struct
    /// serializes, so a list can write it without a JSON tree in between: from 2.76 on
    /// (before, `ManagerEmailAddress` is taken out).
    pub fn cardholder_is_shaped(&self) -> bool {
        self.is_2020()
    }

    /// `cardholder` with every edit that holds for all releases made on the struct itself:
    /// dates with the site's offset, `"0"` for unset ids, the portrait URL, the site's
    /// custom fields and, when given, the primary workgroup's rules.
    pub fn shaped(&self, mut cardholder: Cardholder, primary_rules: &[AccessRule]) -> Cardholder {
        let c = &mut cardholder;
        if !primary_rules.is_empty() {
            c.primary_work_group_access_rule = primary_rules.to_vec();
        }
        c.potrait = portrait_url(&c.token);
        self.date(&mut c.start_date);
        self.date(&mut c.end_date);
        zero_when_empty(&mut c.smart_card_profile_id);
        let contact = &mut c.personal_details.contact_details;
        zero_when_empty(&mut contact.mobile_service_provider_id);
        zero_when_empty(&mut contact.pager_service_provider_id);
        for credential in &mut c.credentials {
            self.date(&mut credential.start_date);
            self.date(&mut credential.end_date);
        }
        for rule in c
            .access_rules
            .iter_mut()
            .chain(&mut c.non_partition_workgroup_access_rules)
            .chain(&mut c.primary_work_group_access_rule)
        {
            // An unset rule date is `null` on the wire and stays so.
            rule.start_date.iter_mut().for_each(|d| self.date(d));
            rule.end_date.iter_mut().for_each(|d| self.date(d));
        }
        self.date(&mut c.visitor_details.visitor_card_issue_time);
        self.date(&mut c.visitor_details.visitor_card_return_time);
        c.custom_fields = site_custom_fields(std::mem::take(&mut c.custom_fields));
        cardholder
    }

    /// An object of another HR kind as SiPass answers it (the `_links`, flat contacts and
    /// nulls are in the model already); what differs by release is applied here.
    pub fn object(&self, kind: model::management::ObjectKind, mut value: Value) -> Value {
        use model::management::ObjectKind;
        match kind {
            ObjectKind::CredentialProfile if !self.is_2020() => {
                if let Some(Value::Object(mode)) = value.get_mut("PINModeValue") {
                    mode.remove("Type");
                }
            }
            ObjectKind::WorkGroup | ObjectKind::AccessLevel => {
                let rules = if kind == ObjectKind::WorkGroup {
                    "AccessPolicyRules"
                } else {
                    "AccessRule"
                };
                if let Some(Value::Array(items)) = value.get_mut(rules) {
                    for item in items.iter_mut().filter_map(Value::as_object_mut) {
                        self.date_in(item, "StartDate");
                        self.date_in(item, "EndDate");
                    }
                }
            }
            _ => {}
        }
        value
    }

    /// Gives the date under `key` the site's offset, when it is a non-empty local date.
    fn date_in(&self, object: &mut Map<String, Value>, key: &str) {
        if let Some(Value::String(date)) = object.get_mut(key) {
            self.date(date);
        }
    }

    /// Gives `date` the site's offset, when it is a non-empty local date.
    fn date(&self, date: &mut String) {
        if let Some(with) = with_offset(date, &self.utc_offset) {
            *date = with;
        }
    }
}

/// `date` with `offset` appended when it is a local date-time (`2024-01-01T00:00:00`) or a
/// bare date (then at midnight); `None` when it is empty or already has an offset.
pub fn with_offset(date: &str, offset: &str) -> Option<String> {
    let bytes = date.as_bytes();
    let digits = |range: std::ops::Range<usize>| {
        bytes
            .get(range)
            .is_some_and(|b| b.iter().all(u8::is_ascii_digit))
    };
    let is_date = digits(0..4) && bytes.get(4) == Some(&b'-') && digits(5..7) && digits(8..10);
    match bytes.len() {
        10 if is_date => Some(format!("{date}T00:00:00{offset}")),
        19 if is_date
            && bytes[10] == b'T'
            && digits(11..13)
            && digits(14..16)
            && digits(17..19) =>
        {
            Some(format!("{date}{offset}"))
        }
        _ => None,
    }
}

/// SiPass answers `"0"` for an unset id.
fn zero_when_empty(id: &mut String) {
    if id.is_empty() {
        "0".clone_into(id);
    }
}

/// Every custom field the site defines, `None` when the cardholder has no value, then any
/// other field the cardholder was given (names are matched case-insensitively, the first
/// match counts).
fn site_custom_fields(given: Vec<CustomField>) -> Vec<CustomField> {
    let is_site = |name: &str| {
        SITE_CUSTOM_FIELDS
            .iter()
            .any(|n| n.eq_ignore_ascii_case(name))
    };
    let mut fields: Vec<CustomField> = SITE_CUSTOM_FIELDS
        .iter()
        .map(|&name| CustomField {
            filed_name: name.to_owned(),
            field_value: given
                .iter()
                .find(|f| f.filed_name.eq_ignore_ascii_case(name))
                .and_then(|f| f.field_value.clone()),
        })
        .collect();
    fields.extend(given.into_iter().filter(|f| !is_site(&f.filed_name)));
    fields
}

/// The relative URL SiPass gives as `Potrait`: `api/V1/cardholders/images?imgId=<token>&
/// token=<64 upper-case hex>&noCache=<number>` (Val0429). The `token` is the image's key.
pub fn portrait_url(cardholder: &str) -> String {
    let key = image_key(cardholder);
    let no_cache = u32::from_str_radix(&key[..8], 16).unwrap_or(0) >> 1;
    format!("api/V1/cardholders/images?imgId={cardholder}&token={key}&noCache={no_cache}")
}

/// The image key of a cardholder's portrait: 64 upper-case hex digits derived from its
/// token, so the URL is stable and a guessed `imgId` alone does not fetch an image.
pub fn image_key(cardholder: &str) -> String {
    let mut out = String::with_capacity(64);
    let mut state: u64 = 0xcbf2_9ce4_8422_2325;
    for round in 0..4u64 {
        for b in cardholder.bytes().chain(round.to_le_bytes()) {
            state ^= u64::from(b);
            state = state.wrapping_mul(0x0000_0100_0000_01b3);
        }
        out.push_str(&format!("{state:016X}"));
    }
    out
}

/// The JPEG answered for a cardholder without a portrait of its own: a 1x1 white image.
pub const PLACEHOLDER_JPEG_BASE64: &str = "/9j/4AAQSkZJRgABAQEASABIAAD/2wBDAP//////////////////////////////////////////////////////////////////////////////////////wgALCAABAAEBAREA/8QAFBABAAAAAAAAAAAAAAAAAAAAAP/aAAgBAQABPxA=";

/// The bytes of a base64 (standard alphabet) text; whitespace is skipped (Val0429's
/// recorded portrait has a space in it). `None` when it is not base64.
pub fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for c in text.bytes().filter(|c| !c.is_ascii_whitespace()) {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => break,
            _ => return None,
        };
        buffer = (buffer << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use model::SiPassVersion;
    use model::sipass::{Credential, CustomField};
    use serde_json::json;

    // ----- the oracle: the Value-editing presentation as it was -------------------------

    impl Presentation {
        /// The implementation before cardholders were shaped as structs, verbatim: the
        /// oracle the typed one must answer exactly as.
        pub(crate) fn old_cardholder(
            &self,
            cardholder: &Cardholder,
            primary_rules: &[AccessRule],
        ) -> Value {
            let Ok(Value::Object(mut o)) = serde_json::to_value(cardholder) else {
                return Value::Null;
            };
            if !primary_rules.is_empty() {
                let rules = serde_json::to_value(primary_rules).unwrap_or(Value::Null);
                o.insert("PrimaryWorkGroupAccessRule".into(), rules);
            }
            let token = cardholder.token.clone();
            o.insert("Potrait".into(), Value::String(portrait_url(&token)));
            for key in ["StartDate", "EndDate"] {
                self.date_in(&mut o, key);
            }
            old_zero_when_empty(&mut o, "SmartCardProfileId");
            if let Some(Value::Object(personal)) = o.get_mut("PersonalDetails")
                && let Some(Value::Object(contact)) = personal.get_mut("ContactDetails")
            {
                old_zero_when_empty(contact, "MobileServiceProviderId");
                old_zero_when_empty(contact, "PagerServiceProviderId");
                if !self.is_2020() {
                    contact.remove("ManagerEmailAddress");
                }
            }
            for list in [
                "Credentials",
                "AccessRules",
                "NonPartitionWorkgroupAccessRules",
                "PrimaryWorkGroupAccessRule",
            ] {
                if let Some(Value::Array(items)) = o.get_mut(list) {
                    for item in items.iter_mut().filter_map(Value::as_object_mut) {
                        self.date_in(item, "StartDate");
                        self.date_in(item, "EndDate");
                    }
                }
            }
            if let Some(Value::Object(visitor)) = o.get_mut("VisitorDetails") {
                self.date_in(visitor, "VisitorCardIssueTime");
                self.date_in(visitor, "VisitorCardReturnTime");
            }
            o.insert("CustomFields".into(), old_custom_fields(cardholder));
            Value::Object(o)
        }
    }

    fn old_zero_when_empty(object: &mut Map<String, Value>, key: &str) {
        match object.get(key) {
            Some(Value::String(s)) if !s.is_empty() => {}
            _ => {
                object.insert(key.into(), Value::String("0".into()));
            }
        }
    }

    /// Every custom field the site defines, `null` when the cardholder has no value, then any
    /// other field the cardholder was given.
    fn old_custom_fields(cardholder: &Cardholder) -> Value {
        let value_of = |name: &str| {
            cardholder
                .custom_fields
                .iter()
                .find(|f| f.filed_name.eq_ignore_ascii_case(name))
                .and_then(|f| f.field_value.clone())
        };
        let mut fields: Vec<Value> = SITE_CUSTOM_FIELDS
            .iter()
            .map(|name| json!({"FiledName": name, "FieldValue": value_of(name)}))
            .collect();
        fields.extend(
            cardholder
                .custom_fields
                .iter()
                .filter(|f| {
                    !SITE_CUSTOM_FIELDS
                        .iter()
                        .any(|n| n.eq_ignore_ascii_case(&f.filed_name))
                })
                .map(|f| json!({"FiledName": f.filed_name, "FieldValue": f.field_value})),
        );
        Value::Array(fields)
    }

    // ----- samples --------------------------------------------------------------------

    /// Generated cardholders of the default simulated site (tokens 1..=300: visitors,
    /// second credentials) and hand-edited ones covering every edit's corner cases.
    pub(crate) fn samples() -> Vec<Cardholder> {
        let world =
            crate::generate::site(&crate::generate::SiteSpec::default(), SiPassVersion::V2_80);
        let mut all: Vec<Cardholder> = (1..=300).filter_map(|t| world.cardholders.get(t)).collect();
        let base = all[96].clone(); // token 97: a visitor
        all.extend(edited(&base));
        all
    }

    fn rule(start: Option<&str>, end: Option<&str>) -> AccessRule {
        AccessRule {
            rule_type: 2,
            rule_token: "9".into(),
            object_token: "9".into(),
            object_name: "Door 9".into(),
            start_date: start.map(str::to_owned),
            end_date: end.map(str::to_owned),
            arming_rights_id: Some(1),
            ..AccessRule::default()
        }
    }

    fn field(name: &str, value: Option<&str>) -> CustomField {
        CustomField {
            filed_name: name.into(),
            field_value: value.map(str::to_owned),
        }
    }

    /// Dates of every form `with_offset` tells apart.
    const DATES: [&str; 8] = [
        "",
        "2019-08-25",
        "2018-02-01T04:36:59",
        "2018-02-01T04:36:59+02:00",
        "2018-02-01T04:36:59Z",
        "yesterday",
        "2019-8-25",
        "2018-02-01 04:36:59",
    ];

    fn edited(base: &Cardholder) -> Vec<Cardholder> {
        let mut out = Vec::new();
        for (i, date) in DATES.iter().enumerate() {
            let other = DATES[(i + 3) % DATES.len()];
            let mut c = base.clone();
            c.token = format!("{}", 900 + i);
            c.start_date = (*date).into();
            c.end_date = other.into();
            c.credentials.push(Credential {
                card_number: format!("77{i}"),
                start_date: other.into(),
                end_date: (*date).into(),
                ..Credential::default()
            });
            c.credentials[0].start_date = (*date).into();
            c.access_rules = vec![rule(Some(date), None), rule(None, Some(other))];
            c.non_partition_workgroup_access_rules = vec![rule(Some(other), Some(date))];
            c.primary_work_group_access_rule = vec![rule(Some(""), Some(date))];
            c.visitor_details.visitor_card_issue_time = (*date).into();
            c.visitor_details.visitor_card_return_time = other.into();
            out.push(c);
        }
        let mut c = base.clone();
        c.token = "950".into();
        c.first_name = "Zo\u{eb} \"Q\" \\ \u{1} \u{5f8c}\u{9580}".into();
        c.smart_card_profile_id = "42".into();
        c.smart_card_profile_name = "Mifare".into();
        let contact = &mut c.personal_details.contact_details;
        contact.mobile_service_provider_id = "7".into();
        contact.manager_email_address = "boss@example.com".into();
        c.custom_fields = vec![
            field("Other", Some("x")),
            field("customtextboxcontrol2__cf", Some("lower")),
            field("CustomDropdownControl1__CF", None),
            field("CUSTOMDROPDOWNCONTROL1__CF", Some("later duplicate")),
            field("CustomDateControl1__CF", Some("2020-01-01")),
            field("other", None),
        ];
        c.links = vec![json!({"Rel": "self", "Href": "x"})];
        c.cardholder_portrait = Some("aGVsbG8=".into());
        c.non_partition_work_groups = vec![json!({"Token": 5, "Name": "W"})];
        c.finger_prints = vec![json!(null), json!(1.5)];
        c.visitor_details
            .visitor_custom_values
            .insert("Count".into(), json!(-3));
        out.push(c);
        let mut c = base.clone();
        c.token = String::new();
        c.custom_fields.clear();
        c.personal_details.contact_details.pager_service_provider_id = "8".into();
        out.push(c);
        out
    }

    #[test]
    fn a_shaped_cardholder_answers_as_the_edited_tree_did() {
        let rules = [rule(Some("2021-03-04"), None), rule(None, None)];
        for version in SiPassVersion::ALL {
            for offset in ["+08:00", "-05:30"] {
                let present = Presentation::new(version, offset);
                for c in samples() {
                    for primary in [&rules[..], &[]] {
                        assert_eq!(
                            present.cardholder(c.clone(), primary),
                            present.old_cardholder(&c, primary),
                            "{version:?} {offset} cardholder {}",
                            c.token
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn local_dates_get_the_offset_and_others_are_left() {
        assert_eq!(
            with_offset("2018-02-01T04:36:59", "+08:00").as_deref(),
            Some("2018-02-01T04:36:59+08:00")
        );
        assert_eq!(
            with_offset("2019-08-25", "+08:00").as_deref(),
            Some("2019-08-25T00:00:00+08:00")
        );
        assert_eq!(with_offset("2018-02-01T04:36:59+02:00", "+08:00"), None);
        assert_eq!(with_offset("", "+08:00"), None);
        assert_eq!(with_offset("yesterday", "+08:00"), None);
    }

    #[test]
    fn the_placeholder_is_a_jpeg_and_base64_decodes() {
        let jpeg = decode_base64(PLACEHOLDER_JPEG_BASE64).unwrap();
        assert_eq!(&jpeg[..2], &[0xFF, 0xD8]);
        assert_eq!(decode_base64("aGVs bG8=").unwrap(), b"hello");
        assert!(decode_base64("not*base64").is_none());
    }

    #[test]
    fn portrait_urls_are_stable_and_keyed() {
        let url = portrait_url("18");
        assert!(url.starts_with("api/V1/cardholders/images?imgId=18&token="));
        assert_eq!(url, portrait_url("18"));
        assert_ne!(image_key("18"), image_key("19"));
        assert_eq!(image_key("18").len(), 64);
        assert!(
            image_key("18")
                .chars()
                .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
        );
    }
}
