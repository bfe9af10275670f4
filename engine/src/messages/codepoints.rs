//! The RFC 9420 §17 code points used on the wire, as open newtypes: any value (including GREASE,
//! §13.5) decodes and re-encodes unchanged. Whether a value is acceptable where it selects a
//! variant is decided by the struct that selects on it.

code_point! {
    /// `ProtocolVersion` (RFC 9420 §6): a u16; only `mls10` is defined.
    ProtocolVersion(u16) {
        /// Reserved (0).
        RESERVED = 0,
        /// MLS 1.0 (1).
        MLS10 = 1,
    }
}

code_point! {
    /// `WireFormat` (RFC 9420 §6, §17.2): a u16 selecting the body of an `MLSMessage`.
    WireFormat(u16) {
        /// Reserved (0).
        RESERVED = 0,
        /// `mls_public_message` (1).
        PUBLIC_MESSAGE = 1,
        /// `mls_private_message` (2).
        PRIVATE_MESSAGE = 2,
        /// `mls_welcome` (3).
        WELCOME = 3,
        /// `mls_group_info` (4).
        GROUP_INFO = 4,
        /// `mls_key_package` (5).
        KEY_PACKAGE = 5,
    }
}

code_point! {
    /// `ContentType` (RFC 9420 §6): a u8 selecting the content of a `FramedContent`.
    ContentType(u8) {
        /// Reserved (0).
        RESERVED = 0,
        /// `application` (1).
        APPLICATION = 1,
        /// `proposal` (2).
        PROPOSAL = 2,
        /// `commit` (3).
        COMMIT = 3,
    }
}

code_point! {
    /// `SenderType` (RFC 9420 §6): a u8 selecting the kind of `Sender`.
    SenderType(u8) {
        /// Reserved (0).
        RESERVED = 0,
        /// `member` (1).
        MEMBER = 1,
        /// `external` (2).
        EXTERNAL = 2,
        /// `new_member_proposal` (3).
        NEW_MEMBER_PROPOSAL = 3,
        /// `new_member_commit` (4).
        NEW_MEMBER_COMMIT = 4,
    }
}

code_point! {
    /// `ExtensionType` (RFC 9420 §13, §17.3): a u16.
    ExtensionType(u16) {
        /// Reserved (0).
        RESERVED = 0,
        /// `application_id` (1), §5.3.3.
        APPLICATION_ID = 1,
        /// `ratchet_tree` (2), §12.4.3.3.
        RATCHET_TREE = 2,
        /// `required_capabilities` (3), §11.1.
        REQUIRED_CAPABILITIES = 3,
        /// `external_pub` (4), §12.4.3.2.
        EXTERNAL_PUB = 4,
        /// `external_senders` (5), §12.1.8.1.
        EXTERNAL_SENDERS = 5,
        /// `last_resort` (10): a KeyPackage that may be used more than once, as OpenMLS and
        /// mls-rs deploy it (draft-ietf-mls-extensions -05: empty content, KeyPackages only).
        /// Later drafts carry it as a component instead; the deployed code point is kept so
        /// that what the peers refuse elsewhere is refused here too.
        LAST_RESORT = 10,
    }
}

code_point! {
    /// `ProposalType` (RFC 9420 §12.1, §17.4): a u16. Unknown types are kept as opaque bodies.
    ProposalType(u16) {
        /// Reserved (0).
        RESERVED = 0,
        /// `add` (1).
        ADD = 1,
        /// `update` (2).
        UPDATE = 2,
        /// `remove` (3).
        REMOVE = 3,
        /// `psk` (4).
        PSK = 4,
        /// `reinit` (5).
        REINIT = 5,
        /// `external_init` (6).
        EXTERNAL_INIT = 6,
        /// `group_context_extensions` (7).
        GROUP_CONTEXT_EXTENSIONS = 7,
    }
}

code_point! {
    /// `CredentialType` (RFC 9420 §5.3, §17.5): a u16. Unknown types are kept as opaque data.
    CredentialType(u16) {
        /// Reserved (0).
        RESERVED = 0,
        /// `basic` (1).
        BASIC = 1,
        /// `x509` (2).
        X509 = 2,
    }
}

/// True for the RFC 9420 §13.5 GREASE values 0x0A0A, 0x1A1A, ..., 0xEAEA.
pub fn is_grease(value: u16) -> bool {
    let [hi, lo] = value.to_be_bytes();
    hi == lo && lo & 0x0f == 0x0a && lo >> 4 <= 0x0e
}

macro_rules! grease_methods {
    ($($name:ident),+) => {
        $(
            impl $name {
                /// True for a GREASE value (RFC 9420 §13.5).
                pub fn is_grease(self) -> bool {
                    is_grease(self.0)
                }
            }
        )+
    };
}

grease_methods!(ExtensionType, ProposalType, CredentialType);

impl ExtensionType {
    /// One of RFC 9420's own extension types (1-5), which every implementation supports and
    /// a leaf need not list in its capabilities (§7.2).
    pub fn is_default(self) -> bool {
        (1..=5).contains(&self.0)
    }
}

impl ProposalType {
    /// One of RFC 9420's own proposal types (1-7), which every implementation supports and a
    /// leaf need not list in its capabilities (§7.2).
    pub fn is_default(self) -> bool {
        (1..=7).contains(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grease_values() {
        let grease: Vec<u16> = (0..15u16)
            .map(|i| (i << 12) | 0x0a00 | (i << 4) | 0x0a)
            .collect();
        assert_eq!(grease.len(), 15);
        assert_eq!(grease[0], 0x0a0a);
        assert_eq!(grease[14], 0xeaea);
        for v in 0..=u16::MAX {
            assert_eq!(is_grease(v), grease.contains(&v), "{v:#06x}");
        }
    }
}
