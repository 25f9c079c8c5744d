//! Writing a struct with only some of its top-level fields. A list of a million
//! cardholders asks for a subset of their fields; building a JSON tree per cardholder just
//! to drop keys from it cost more than everything else the simulator does for the list.

use serde::Serialize;
use serde::ser::{SerializeStruct, Serializer};

/// Serializes `value` with `serializer`, writing only the fields of its top-level struct
/// that `keep` accepts (by their serialized name). Nested values are written whole; a value
/// that is not a struct is written as it is.
pub fn serialize_kept<T, S, K>(value: &T, serializer: S, keep: K) -> Result<S::Ok, S::Error>
where
    T: Serialize + ?Sized,
    S: Serializer,
    K: Fn(&'static str) -> bool,
{
    value.serialize(KeepFields {
        inner: serializer,
        keep,
    })
}

/// A serializer that passes everything on to `inner` but drops the fields of the struct it
/// is given that `keep` refuses.
struct KeepFields<S, K> {
    inner: S,
    keep: K,
}

/// The struct being written, with its refused fields skipped. The length announced when it
/// was begun counts every field; JSON only tells an empty struct from others by it.
struct KeptStruct<S, K> {
    inner: S,
    keep: K,
}

impl<S: SerializeStruct, K: Fn(&'static str) -> bool> SerializeStruct for KeptStruct<S, K> {
    type Ok = S::Ok;
    type Error = S::Error;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), S::Error> {
        if (self.keep)(key) {
            self.inner.serialize_field(key, value)
        } else {
            self.inner.skip_field(key)
        }
    }

    fn end(self) -> Result<S::Ok, S::Error> {
        self.inner.end()
    }
}

/// Methods that only hand their arguments on.
macro_rules! forward {
    ($($method:ident($($arg:ident: $ty:ty),*) -> $out:ty;)*) => {$(
        fn $method(self, $($arg: $ty),*) -> Result<$out, S::Error> {
            self.inner.$method($($arg),*)
        }
    )*};
}

impl<S: Serializer, K: Fn(&'static str) -> bool> Serializer for KeepFields<S, K> {
    type Ok = S::Ok;
    type Error = S::Error;
    type SerializeSeq = S::SerializeSeq;
    type SerializeTuple = S::SerializeTuple;
    type SerializeTupleStruct = S::SerializeTupleStruct;
    type SerializeTupleVariant = S::SerializeTupleVariant;
    type SerializeMap = S::SerializeMap;
    type SerializeStruct = KeptStruct<S::SerializeStruct, K>;
    type SerializeStructVariant = S::SerializeStructVariant;

    fn serialize_struct(
        self,
        name: &'static str,
        len: usize,
    ) -> Result<Self::SerializeStruct, S::Error> {
        Ok(KeptStruct {
            inner: self.inner.serialize_struct(name, len)?,
            keep: self.keep,
        })
    }

    forward! {
        serialize_bool(v: bool) -> S::Ok;
        serialize_i8(v: i8) -> S::Ok;
        serialize_i16(v: i16) -> S::Ok;
        serialize_i32(v: i32) -> S::Ok;
        serialize_i64(v: i64) -> S::Ok;
        serialize_i128(v: i128) -> S::Ok;
        serialize_u8(v: u8) -> S::Ok;
        serialize_u16(v: u16) -> S::Ok;
        serialize_u32(v: u32) -> S::Ok;
        serialize_u64(v: u64) -> S::Ok;
        serialize_u128(v: u128) -> S::Ok;
        serialize_f32(v: f32) -> S::Ok;
        serialize_f64(v: f64) -> S::Ok;
        serialize_char(v: char) -> S::Ok;
        serialize_str(v: &str) -> S::Ok;
        serialize_bytes(v: &[u8]) -> S::Ok;
        serialize_none() -> S::Ok;
        serialize_unit() -> S::Ok;
        serialize_unit_struct(name: &'static str) -> S::Ok;
        serialize_unit_variant(name: &'static str, index: u32, variant: &'static str) -> S::Ok;
        serialize_seq(len: Option<usize>) -> S::SerializeSeq;
        serialize_tuple(len: usize) -> S::SerializeTuple;
        serialize_tuple_struct(name: &'static str, len: usize) -> S::SerializeTupleStruct;
        serialize_tuple_variant(
            name: &'static str,
            index: u32,
            variant: &'static str,
            len: usize
        ) -> S::SerializeTupleVariant;
        serialize_map(len: Option<usize>) -> S::SerializeMap;
        serialize_struct_variant(
            name: &'static str,
            index: u32,
            variant: &'static str,
            len: usize
        ) -> S::SerializeStructVariant;
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<S::Ok, S::Error> {
        self.inner.serialize_some(value)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        value: &T,
    ) -> Result<S::Ok, S::Error> {
        self.inner.serialize_newtype_struct(name, value)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<S::Ok, S::Error> {
        self.inner
            .serialize_newtype_variant(name, index, variant, value)
    }

    fn is_human_readable(&self) -> bool {
        self.inner.is_human_readable()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Serialize)]
    #[serde(rename_all = "PascalCase")]
    struct Sample {
        token: String,
        name: String,
        inner: Inner,
    }

    #[derive(Serialize)]
    #[serde(rename_all = "PascalCase")]
    struct Inner {
        name: String,
    }

    struct Kept<'a>(&'a Sample, &'a [&'static str]);

    impl Serialize for Kept<'_> {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            serialize_kept(self.0, serializer, |k| self.1.contains(&k))
        }
    }

    fn written(keep: &[&'static str]) -> serde_json::Value {
        let sample = Sample {
            token: "7".into(),
            name: "top".into(),
            inner: Inner {
                name: "nested".into(),
            },
        };
        let bytes = serde_json::to_vec(&Kept(&sample, keep)).unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[test]
    fn only_kept_top_level_fields_are_written_and_nested_ones_whole() {
        assert_eq!(
            written(&["Token", "Inner"]),
            json!({"Token": "7", "Inner": {"Name": "nested"}})
        );
        assert_eq!(written(&["Name"]), json!({"Name": "top"}));
        assert_eq!(written(&[]), json!({}));
    }

    #[test]
    fn values_that_are_not_structs_are_written_as_they_are() {
        let bytes = serde_json::to_vec(&Wrapped(vec![1, 2])).unwrap();
        assert_eq!(bytes, b"[1,2]");
    }

    struct Wrapped(Vec<i32>);

    impl Serialize for Wrapped {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            serialize_kept(&self.0, serializer, |_| false)
        }
    }
}
