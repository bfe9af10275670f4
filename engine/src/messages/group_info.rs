//! Group info (RFC 9420 §12.4.3): `GroupInfo` and `GroupInfoTBS`.

use tls_codec::{TlsDeserializeBytes, TlsSerialize, TlsSize};

use super::extensions::Extension;
use super::framing::Mac;
use super::group_context::GroupContext;
use crate::codec::{VarBytes, VarVec};

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
        GroupInfoTbs {
            group_context: self.group_context.clone(),
            extensions: self.extensions.clone(),
            confirmation_tag: self.confirmation_tag.clone(),
            signer: self.signer,
        }
    }
}
