//! Group info (RFC 9420 §12.4.3): `GroupInfo` and `GroupInfoTBS`.

use tls_codec::{TlsDeserializeBytes, TlsSerialize, TlsSize};

use super::extensions::Extension;
use super::framing::Mac;
use super::group_context::GroupContext;
use crate::codec::{VarBytes, VarVec};
use crate::crypto::labels::SignContentBuf;
use crate::crypto::CryptoError;

/// The SignContent label of a GroupInfo's signature (§12.4.3).
pub const GROUP_INFO_TBS_LABEL: &str = "GroupInfoTBS";

/// Room enough before an encoded GroupInfoTBS for its SignContent header (`opaque label<V>`,
/// 1 + 20 bytes for "MLS 1.0 GroupInfoTBS", then the content's length, at most 4): a GroupInfo
/// built or decrypted after this much room is signed or verified in place.
pub const GROUP_INFO_SIGN_CONTENT_ROOM: usize = 32;

/// `GroupInfo` (RFC 9420 §12.4.3).
#[derive(Clone, PartialEq, Eq, Debug, TlsSerialize, TlsDeserializeBytes, TlsSize)]
pub struct GroupInfo {
    /// The new epoch's GroupContext.
    pub group_context: GroupContext,
    /// GroupInfo extensions (e.g. `ratchet_tree`, `external_pub`).
    pub extensions: VarVec<Extension>,
    /// The epoch's confirmation tag.
    pub confirmation_tag: Mac,
    /// Leaf index of the signer.
    pub signer: u32,
    /// `SignWithLabel(., "GroupInfoTBS", GroupInfoTBS)`.
    pub signature: VarBytes,
}

impl GroupInfo {
    /// The `SignContent` of this GroupInfo's `GroupInfoTBS` (§12.4.3), serialized in place from
    /// its fields: a GroupInfo carrying a 100,000-leaf ratchet tree is not copied to be signed
    /// or verified.
    pub fn sign_content(&self) -> Result<SignContentBuf, CryptoError> {
        use tls_codec::{Serialize as _, Size as _};
        let codec = |e: tls_codec::Error| CryptoError::Encoding(e.to_string());
        let len = self.group_context.tls_serialized_len()
            + self.extensions.tls_serialized_len()
            + self.confirmation_tag.tls_serialized_len()
            + self.signer.tls_serialized_len();
        let mut sc = SignContentBuf::new(GROUP_INFO_TBS_LABEL, len)?;
        let w = sc.writer();
        self.group_context.tls_serialize(w).map_err(codec)?;
        self.extensions.tls_serialize(w).map_err(codec)?;
        self.confirmation_tag.tls_serialize(w).map_err(codec)?;
        self.signer.tls_serialize(w).map_err(codec)?;
        Ok(sc)
    }
}

top_level!(GroupInfo);

/// `GroupInfoTBS` (RFC 9420 §12.4.3): a [`GroupInfo`] without its signature.
#[derive(Clone, PartialEq, Eq, Debug, TlsSerialize, TlsDeserializeBytes, TlsSize)]
pub struct GroupInfoTbs {
    /// See [`GroupInfo::group_context`].
    pub group_context: GroupContext,
    /// See [`GroupInfo::extensions`].
    pub extensions: VarVec<Extension>,
    /// See [`GroupInfo::confirmation_tag`].
    pub confirmation_tag: Mac,
    /// See [`GroupInfo::signer`].
    pub signer: u32,
}

impl GroupInfo {
    /// The to-be-signed form.
    pub fn to_be_signed(&self) -> GroupInfoTbs {
        // Kept for callers that want the struct; signing and verifying use
        // [`GroupInfo::sign_content`], which does not copy the (possibly tree-sized) extensions.
        GroupInfoTbs {
            group_context: self.group_context.clone(),
            extensions: self.extensions.clone(),
            confirmation_tag: self.confirmation_tag.clone(),
            signer: self.signer,
        }
    }
}
