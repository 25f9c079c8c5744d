//! SiPass HR API objects, with field names exactly as SiPass sends them on the wire
//! (`reference/sipass-api.md` §1.5). The simulator serves these and the SiPass client reads
//! them; keeping one definition means the two cannot drift apart.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::lenient::Shape;

/// The HR API list envelope: `{Records, TotalRecords, TotalDisplayRecords}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Envelope<T> {
    pub records: Vec<T>,
    /// SiPass may send -1 when it does not know (Val0429 saw it on `AccessPoints`), or
    /// leave it out (Val0429's `AccessPointGroups`): both read as -1.
    pub total_records: i64,
    pub total_display_records: i64,
}

impl<T> Default for Envelope<T> {
    fn default() -> Self {
        Envelope {
            records: Vec::new(),
            total_records: -1,
            total_display_records: -1,
        }
    }
}

/// An envelope of JSON values: the records are read as they are, the totals leniently.
impl Shape for Envelope<Value> {
    fn shape() -> Value {
        json!({"Records": [], "TotalRecords": -1, "TotalDisplayRecords": -1})
    }
}

/// Shapes that are the type's serialised default (no arrays of objects inside).
macro_rules! default_shape {
    ($($t:ty),*) => {$(
        impl Shape for $t {
            fn shape() -> Value {
                serde_json::to_value(<$t>::default()).unwrap_or(Value::Null)
            }
        }
    )*};
}

/// The body of every HR API error answer.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ErrorBody {
    pub error_code: i32,
    pub message: String,
}

/// SiPass error codes seen in public material (`reference/sipass-api.md` §3.4).
pub mod error_code {
    pub const UNAUTHORIZED_ACCESS: i32 = 900;
    pub const SERVICE_NOT_AVAILABLE: i32 = 902;
    pub const INTERNAL_SERVER_ERROR: i32 = 903;
    pub const SESSION_EXPIRED: i32 = 908;
    pub const INPUT_NOT_VALID: i32 = 909;
    pub const INVALID_USERNAME_OR_PASSWORD: i32 = 911;
    pub const API_LICENSE_NOT_AVAILABLE: i32 = 912;
}

/// `POST Authentication` body.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Login {
    pub username: String,
    pub password: String,
}

/// `POST Authentication` answer; an empty token means the credentials were refused. Real
/// SiPass sends the hex part in upper case (Val0429); nothing may depend on the case.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct LoginToken {
    pub token: String,
}

/// A SiPass cardholder. On create and update the top-level fields in
/// [`Cardholder::REQUIRED`] must be present (SiPass answers 500 otherwise); the rest take
/// their defaults when left out.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Cardholder {
    pub token: String,
    pub first_name: String,
    pub last_name: String,
    pub employee_number: String,
    pub employee_name: String,
    pub general_information: String,
    pub start_date: String,
    pub end_date: String,
    pub status: i32,
    pub primary_workgroup_id: i64,
    pub primary_workgroup_name: String,
    pub apb_workgroup_id: i64,
    pub non_partition_work_groups: Vec<serde_json::Value>,
    pub access_rules: Vec<AccessRule>,
    pub non_partition_workgroup_access_rules: Vec<AccessRule>,
    pub credentials: Vec<Credential>,
    pub base_card_number: String,
    pub smart_card_profile_id: String,
    pub smart_card_profile_name: String,
    pub finger_prints: Vec<serde_json::Value>,
    /// SiPass's own spelling.
    pub potrait: String,
    pub attributes: Attributes,
    pub personal_details: PersonalDetails,
    pub trace_details: TraceDetails,
    pub vehicle1: Vehicle,
    pub vehicle2: Vehicle,
    pub visitor_details: VisitorDetails,
    pub custom_fields: Vec<CustomField>,
    /// The rules the primary workgroup gives (Val0429's answers carry them; read only).
    pub primary_work_group_access_rule: Vec<AccessRule>,
    /// The portrait as base64 JPEG, `null` when there is none (Val0429).
    pub cardholder_portrait: Option<String>,
    #[serde(rename = "_links")]
    pub links: Vec<Value>,
}

impl Cardholder {
    /// The top-level fields every source's create body has, even when `null`: respa's
    /// production body and Val0429's (`custom/services/hr-service.ts`). SiPass answers 500
    /// when one is missing (respa's comment). What one of them leaves out (`EmployeeName`,
    /// `BaseCardNumber`, `SmartCardProfileName`, `FingerPrints`,
    /// `NonPartitionWorkgroupAccessRules` by Val0429, `CustomFields` by respa) is optional.
    pub const REQUIRED: [&'static str; 22] = [
        "Token",
        "FirstName",
        "LastName",
        "EmployeeNumber",
        "GeneralInformation",
        "StartDate",
        "EndDate",
        "Status",
        "PrimaryWorkgroupId",
        "PrimaryWorkgroupName",
        "ApbWorkgroupId",
        "NonPartitionWorkGroups",
        "AccessRules",
        "Credentials",
        "SmartCardProfileId",
        "Potrait",
        "Attributes",
        "PersonalDetails",
        "TraceDetails",
        "Vehicle1",
        "Vehicle2",
        "VisitorDetails",
    ];

    /// The top-level field names, as the `fields` projection and create validation use them.
    pub const FIELDS: [&'static str; 28] = [
        "Token",
        "FirstName",
        "LastName",
        "EmployeeNumber",
        "EmployeeName",
        "GeneralInformation",
        "StartDate",
        "EndDate",
        "Status",
        "PrimaryWorkgroupId",
        "PrimaryWorkgroupName",
        "ApbWorkgroupId",
        "NonPartitionWorkGroups",
        "AccessRules",
        "NonPartitionWorkgroupAccessRules",
        "Credentials",
        "BaseCardNumber",
        "SmartCardProfileId",
        "SmartCardProfileName",
        "FingerPrints",
        "Potrait",
        "Attributes",
        "PersonalDetails",
        "TraceDetails",
        "Vehicle1",
        "Vehicle2",
        "VisitorDetails",
        "CustomFields",
    ];
}

/// The name a person is shown by: "First Last", or whichever part exists.
pub fn display_name(first: &str, last: &str) -> String {
    match (first.trim(), last.trim()) {
        ("", l) => l.to_owned(),
        (f, "") => f.to_owned(),
        (f, l) => format!("{f} {l}"),
    }
}

/// An item of a cardholder's `Credentials[]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Credential {
    pub card_number: String,
    pub facility_code: i64,
    pub card_technology_code: i64,
    pub pin: String,
    pub pin_mode: i32,
    pub pin_digit: i32,
    pub profile_id: String,
    pub profile_name: String,
    pub start_date: String,
    pub end_date: String,
    pub revision_number: i32,
    pub active: bool,
    pub pin_error_disable: bool,
}

impl Credential {
    /// A credential's identity: SiPass treats (technology, facility, card number) as unique.
    pub fn key(&self) -> String {
        credential_id(
            self.card_technology_code,
            self.facility_code,
            &self.card_number,
        )
    }
}

/// A credential's identity from its parts, whether typed or read from JSON.
pub fn credential_id(
    technology: impl std::fmt::Display,
    facility: impl std::fmt::Display,
    card: impl std::fmt::Display,
) -> String {
    format!("{technology}:{facility}:{card}")
}

/// A rule granting access to a target (`RuleType` says what kind of target). Empty dates
/// and ids are `null` on the wire, as Val0429 recorded them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AccessRule {
    pub rule_type: i32,
    pub rule_token: String,
    pub object_token: String,
    pub object_name: String,
    pub time_schedule_token: String,
    pub start_date: Option<String>,
    pub end_date: Option<String>,
    pub arming_rights_id: Option<i32>,
    pub control_mode_id: Option<i32>,
    pub side: i32,
    pub is_favourite: bool,
}

impl Shape for AccessRule {
    fn shape() -> Value {
        let mut shape = serde_json::to_value(AccessRule::default()).unwrap_or(Value::Null);
        shape["StartDate"] = json!("");
        shape["EndDate"] = json!("");
        shape["ArmingRightsId"] = json!(0);
        shape["ControlModeId"] = json!(0);
        shape
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Attributes {
    pub accessibility: bool,
    pub apb_exclusion: bool,
    pub apb_re_entry_exclusion: bool,
    pub isolate: bool,
    pub self_authorize: bool,
    pub supervisor: bool,
    pub visitor: bool,
    pub void: bool,
    pub restricted_visitor: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct PersonalDetails {
    pub address: String,
    pub date_of_birth: String,
    pub payroll_number: String,
    pub title: String,
    pub contact_details: ContactDetails,
    pub user_details: UserDetails,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ContactDetails {
    pub email: String,
    pub mobile_number: String,
    pub mobile_service_provider_id: String,
    pub pager_number: String,
    pub pager_service_provider_id: String,
    pub phone_number: String,
    pub manager_email_address: String,
    pub use_emailfor_message_forward: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct UserDetails {
    pub user_name: String,
    pub password: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct TraceDetails {
    pub card_last_used: String,
    pub card_number_last_used: String,
    pub last_apb_location: String,
    pub point_name: String,
    pub trace_card: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Vehicle {
    pub car_color: String,
    pub car_model_number: String,
    pub car_registration_number: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct VisitorDetails {
    pub visited_employee_first_name: String,
    pub visited_employee_last_name: String,
    pub visited_employee_id: String,
    pub visitor_card_status: i32,
    pub visitor_card_issue_time: String,
    pub visitor_card_return_time: String,
    pub visitor_custom_values: serde_json::Map<String, serde_json::Value>,
}

/// A site-defined field. `FiledName` is SiPass's own spelling. SiPass lists every field the
/// site defines, `null` when unset; Val0429 sends `null` for empty values ("sipass
/// requires null").
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CustomField {
    #[serde(rename = "FiledName")]
    pub filed_name: String,
    #[serde(rename = "FieldValue")]
    pub field_value: Option<String>,
}

impl Shape for CustomField {
    fn shape() -> Value {
        json!({"FiledName": "", "FieldValue": ""})
    }
}

impl Shape for Cardholder {
    fn shape() -> Value {
        let mut shape = serde_json::to_value(Cardholder::default()).unwrap_or(Value::Null);
        for rules in [
            "AccessRules",
            "NonPartitionWorkgroupAccessRules",
            "PrimaryWorkGroupAccessRule",
        ] {
            shape[rules] = json!([AccessRule::shape()]);
        }
        shape["Credentials"] = json!([Credential::shape()]);
        shape["CustomFields"] = json!([CustomField::shape()]);
        shape["CardholderPortrait"] = json!("");
        shape
    }
}

default_shape!(
    Credential,
    Login,
    LoginToken,
    ErrorBody,
    NamedToken,
    CardTechnology
);

/// The workgroup `Type` codes (`reference/sipass-api.md` §1.5).
pub mod workgroup_type {
    pub const DEPARTMENT: i32 = 0;
    pub const CONTRACTOR: i32 = 1;
    pub const OTHER: i32 = 2;
    pub const VISITOR: i32 = 3;
}

/// The token of SiPass's built-in "<None>" workgroup.
pub const NONE_WORKGROUP_TOKEN: i64 = 1;
/// The token of SiPass's built-in "<Visitor>" workgroup (Type 3).
pub const VISITOR_WORKGROUP_TOKEN: i64 = 2_000_000_000;

/// A SiPass workgroup. Unlike every other object, its `Token` is a JSON **number**. Its
/// contacts are flat fields (`PrimaryContactName` ... `SecondaryContactTitle`), as Val0429
/// recorded them; nested `PrimaryContact{Name,...}` objects are read too
/// ([`flatten_contacts`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct WorkGroup {
    pub token: i64,
    pub name: String,
    /// See [`workgroup_type`].
    pub r#type: i32,
    pub access_policy_rules: Vec<AccessRule>,
    pub partition: bool,
    pub void: bool,
    pub clear_card_no: bool,
    pub disable_access_control: bool,
    /// "-" when none.
    pub card_range: String,
    pub primary_contact_name: String,
    pub primary_contact_title: String,
    pub primary_contact_address: String,
    pub primary_contact_phone: String,
    pub primary_contact_mobile: String,
    pub primary_contact_fax: String,
    pub secondary_contact_name: String,
    pub secondary_contact_title: String,
    pub secondary_contact_address: String,
    pub secondary_contact_phone: String,
    pub secondary_contact_mobile: String,
    pub secondary_contact_fax: String,
}

impl Shape for WorkGroup {
    fn shape() -> Value {
        let mut shape = serde_json::to_value(WorkGroup::default()).unwrap_or(Value::Null);
        shape["AccessPolicyRules"] = json!([AccessRule::shape()]);
        shape
    }
}

/// Moves nested contacts (`PrimaryContact: {Name, Title, ...}`, any key case) into the flat
/// fields SiPass uses (`PrimaryContactName`, ...); flat fields already there win.
pub fn flatten_contacts(workgroup: &mut serde_json::Map<String, Value>) {
    for which in ["Primary", "Secondary"] {
        let nested = format!("{which}Contact");
        let Some(key) = workgroup
            .keys()
            .find(|k| k.eq_ignore_ascii_case(&nested))
            .cloned()
        else {
            continue;
        };
        let Some(Value::Object(contact)) = workgroup.remove(&key) else {
            continue;
        };
        for (part, value) in contact {
            let flat = format!("{nested}{}", pascal(&part));
            let present = workgroup.keys().any(|k| k.eq_ignore_ascii_case(&flat));
            if !present {
                workgroup.insert(flat, value);
            }
        }
    }
}

fn pascal(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// An access level: a set of access rules under a time schedule.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AccessLevel {
    pub token: String,
    pub name: String,
    pub time_schedule_token: String,
    pub access_rule: Vec<AccessRule>,
    pub is_favourite: bool,
    #[serde(rename = "_links")]
    pub links: Vec<Value>,
}

impl Shape for AccessLevel {
    fn shape() -> Value {
        let mut shape = serde_json::to_value(AccessLevel::default()).unwrap_or(Value::Null);
        shape["AccessRule"] = json!([AccessRule::shape()]);
        shape
    }
}

/// An access group: a set of access levels.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AccessGroup {
    pub token: String,
    pub name: String,
    pub access_levels: Vec<LevelRef>,
    #[serde(rename = "_links")]
    pub links: Vec<Value>,
}

impl Shape for AccessGroup {
    fn shape() -> Value {
        let mut shape = serde_json::to_value(AccessGroup::default()).unwrap_or(Value::Null);
        shape["AccessLevels"] = json!([LevelRef::shape()]);
        shape
    }
}

/// An access level as an access group names it: `{Name, Token, _links}` (Val0429). A client
/// may send whole levels; their other fields are ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct LevelRef {
    pub token: String,
    pub name: String,
    #[serde(rename = "_links")]
    pub links: Vec<Value>,
}

default_shape!(LevelRef);

/// `{Token, Name}`: access points (readers), access point groups, floor points, floor point
/// groups and time schedules are listed in this shape, and one object names another in it
/// (a doorset its lock output).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NamedToken {
    pub token: String,
    pub name: String,
}

/// A card technology (`GET CardTechnologies`, a bare array).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CardTechnology {
    pub technology_code: i64,
    pub name: String,
    pub facility_code_digits: i32,
    pub card_number_digits: i32,
}

/// A PIN mode of a credential profile.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct PinMode {
    pub r#type: i32,
    pub name: String,
    pub full_name: String,
    pub is_used: bool,
}

/// A profile's PIN mode: `{Name, FullName}` in Val0429's answer (2019), with the `Type`
/// that respa sends back as a credential's `PinMode` (2020). Which a release sends is its
/// version profile's choice.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct PinModeValue {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub r#type: Option<i32>,
    pub name: String,
    pub full_name: String,
}

/// A credential profile (`GET CredentialProfiles`, a bare array). `FacilityCode` and
/// `ValidityCode` are strings on the wire (Val0429: `"469"`, `"0"`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CredentialProfile {
    pub token: String,
    pub name: String,
    #[serde(rename = "PINDigits")]
    pub pin_digits: i32,
    pub card_number_digits: i32,
    pub is_base: bool,
    pub card_technology: String,
    pub card_technology_code: i64,
    pub facility_code: String,
    pub validity_code: String,
    pub is_used: bool,
    pub pin_mode: Vec<PinMode>,
    #[serde(rename = "PINModeValue")]
    pub pin_mode_value: PinModeValue,
}

impl Shape for CredentialProfile {
    fn shape() -> Value {
        let mut shape = serde_json::to_value(CredentialProfile::default()).unwrap_or(Value::Null);
        shape["PinMode"] = json!([PinMode::shape()]);
        shape["PINModeValue"] = json!({"Type": 0, "Name": "", "FullName": ""});
        shape
    }
}

default_shape!(PinMode);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_name_uses_what_exists() {
        assert_eq!(display_name("Ada", "Lovelace"), "Ada Lovelace");
        assert_eq!(display_name("", "Lovelace"), "Lovelace");
        assert_eq!(display_name(" Ada ", ""), "Ada");
    }
}
