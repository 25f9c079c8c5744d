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
use model::sipass::{AccessRule, Cardholder};
use serde_json::{Map, Value, json};

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
    pub fn cardholder(&self, cardholder: &Cardholder, primary_rules: &[AccessRule]) -> Value {
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
        zero_when_empty(&mut o, "SmartCardProfileId");
        if let Some(Value::Object(personal)) = o.get_mut("PersonalDetails")
            && let Some(Value::Object(contact)) = personal.get_mut("ContactDetails")
        {
            zero_when_empty(contact, "MobileServiceProviderId");
            zero_when_empty(contact, "PagerServiceProviderId");
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
        o.insert("CustomFields".into(), custom_fields(cardholder));
        Value::Object(o)
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
        if let Some(Value::String(date)) = object.get_mut(key)
            && let Some(with) = with_offset(date, &self.utc_offset)
        {
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

fn zero_when_empty(object: &mut Map<String, Value>, key: &str) {
    match object.get(key) {
        Some(Value::String(s)) if !s.is_empty() => {}
        _ => {
            object.insert(key.into(), Value::String("0".into()));
        }
    }
}

/// Every custom field the site defines, `null` when the cardholder has no value, then any
/// other field the cardholder was given.
fn custom_fields(cardholder: &Cardholder) -> Value {
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
mod tests {
    use super::*;

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
