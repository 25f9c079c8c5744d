/// Cardholder records as SiPass pages may hold them, hostile ones included: unsorted and
/// duplicate keys, keys in other cases, escapes, numbers for strings, odd credentials.
pub const RECORDS: [&str; 9] = [
    r#"{"Token":"7","LastName":"Lovelace","FirstName":"Ada","_links":[{"rel":"self"}],"Status":1,
        "PersonalDetails":{"Title":"Ms","UserDetails":{"UserName":"ada","Password":"s3cret"},"Address":"x","ContactDetails":{"Email":"a@b","PhoneNumber":"1"}},
        "CardholderPortrait":"/9j/4AAQ","Potrait":"api/V1/cardholders/images?imgId=7",
        "Credentials":[{"CardNumber":"1001","FacilityCode":100,"CardTechnologyCode":10,"Pin":"1234","StartDate":"2020-01-01T00:00:00+08:00","Active":true},
                       {"CardNumber":"","FacilityCode":100,"CardTechnologyCode":10}],
        "AccessRules":[{"RuleType":1,"RuleToken":"5","StartDate":null}],"CustomFields":[{"FiledName":"a","FieldValue":null}]}"#,
    r#"{"Token":"8","Token":"9","FirstName":"Dup","FirstName":"Last wins","Credentials":[{"CardNumber":"1"}],"Credentials":[{"CardNumber":"2","pin":"9","PIN":"8","CardholderToken":"forged"}],
        "personalDetails":{"userDetails":{"password":"x","PASSWORD":"y","UserName":"u"}},"PersonalDetails":{"UserDetails":{"Password":"z"}},"cardholderSignature":"iVBOR"}"#,
    r#"{"Token":12,"FirstName":"Zo\u00eb \"Q\"","LastName":"\u00c6 \/ \t","Credentials":[{"CardNumber":4242,"FacilityCode":"7","CardTechnologyCode":1.0},7,null,"x",{"CardNumber":null}],"Nested":{"b":[{"z":1,"a":2}],"a":{"d":1e2,"c":-0.5}}}"#,
    r#"{"Token":"13","Credentials":null,"FirstName":" Spaced ","LastName":""}"#,
    r#"{"Token":"14","Credentials":{"CardNumber":"1"}}"#,
    r#"{"Token":"","FirstName":"No token"}"#,
    r#"{"FirstName":"Missing token","Credentials":[]}"#,
    r#"["not an object"]"#,
    r#"{"Token":"15","PersonalDetails":"not an object","PersonalDetails2":{"UserDetails":{"Password":"kept"}},"Credentials":[{"CardNumber":"1","CardholderToken":"forged"}]}"#,
];
