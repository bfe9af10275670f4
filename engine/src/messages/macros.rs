//! Internal macros: open code-point newtypes and strictly tagged unions.

/// Declares an open code point: a newtype over its wire integer with named constants. Any
/// value decodes and re-encodes unchanged.
macro_rules! code_point {
    (
        $(#[$meta:meta])*
        $name:ident($int:ty) {
            $( $(#[$cmeta:meta])* $cname:ident = $val:expr ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(
            Clone,
            Copy,
            PartialEq,
            Eq,
            Hash,
            PartialOrd,
            Ord,
            Debug,
            tls_codec::TlsSerialize,
            tls_codec::TlsDeserializeBytes,
            tls_codec::TlsSize,
        )]
        pub struct $name(pub $int);

        impl $name {
            $( $(#[$cmeta])* pub const $cname: Self = Self($val); )*
        }

        impl From<$int> for $name {
            fn from(v: $int) -> Self {
                Self(v)
            }
        }
    };
}

/// Declares a tagged union whose tag is a wire integer written just before the selected
/// payload (`select (tag) { case a: A; ... }`), every variant carrying exactly one payload.
/// An unknown tag is a decode error ([`tls_codec::Error::UnknownValue`]).
macro_rules! tagged_union {
    (
        $(#[$meta:meta])*
        pub enum $name:ident : $tag:ty {
            $( $(#[$vmeta:meta])* $var:ident($payload:ty) = $val:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        // Wire enums mirror the RFC's unions; values are short-lived, so no boxing.
        #[allow(clippy::large_enum_variant)]
        pub enum $name {
            $( $(#[$vmeta])* $var($payload), )+
        }

        impl $name {
            /// The wire tag that selects this variant.
            pub fn tag(&self) -> $tag {
                match self {
                    $( $name::$var(_) => $val, )+
                }
            }
        }

        impl tls_codec::Size for $name {
            fn tls_serialized_len(&self) -> usize {
                let payload = match self {
                    $( $name::$var(p) => tls_codec::Size::tls_serialized_len(p), )+
                };
                std::mem::size_of::<$tag>() + payload
            }
        }

        impl tls_codec::Serialize for $name {
            fn tls_serialize<W: std::io::Write>(
                &self,
                writer: &mut W,
            ) -> Result<usize, tls_codec::Error> {
                let n = tls_codec::Serialize::tls_serialize(&self.tag(), writer)?;
                let m = match self {
                    $( $name::$var(p) => tls_codec::Serialize::tls_serialize(p, writer)?, )+
                };
                Ok(n + m)
            }
        }

        impl tls_codec::DeserializeBytes for $name {
            fn tls_deserialize_bytes(bytes: &[u8]) -> Result<(Self, &[u8]), tls_codec::Error> {
                let (tag, rest) = <$tag as tls_codec::DeserializeBytes>::tls_deserialize_bytes(bytes)?;
                match tag {
                    $(
                        $val => {
                            let (p, rest) =
                                <$payload as tls_codec::DeserializeBytes>::tls_deserialize_bytes(rest)?;
                            Ok(($name::$var(p), rest))
                        }
                    )+
                    other => Err(tls_codec::Error::UnknownValue(u64::from(other))),
                }
            }
        }
    };
}

/// Implements `from_bytes` (via [`crate::codec::decode_exact`]) and `to_bytes` for types
/// decoded from outside.
macro_rules! top_level {
    ($($name:ident),+ $(,)?) => {
        $(
            impl $name {
                /// Decodes a complete value: every byte must be used (trailing bytes are an
                /// error).
                pub fn from_bytes(bytes: &[u8]) -> Result<Self, tls_codec::Error> {
                    crate::codec::decode_exact(bytes)
                }

                /// Encodes the value.
                pub fn to_bytes(&self) -> Result<Vec<u8>, tls_codec::Error> {
                    crate::codec::encode(self)
                }
            }
        )+
    };
}
