//! Leaf nodes (RFC 9420 §7.2): `LeafNode` with its three `leaf_node_source` variants,
//! `LeafNodeTBS`, `Capabilities` and `Lifetime`.

use std::io::Write;
use std::marker::PhantomData;
use std::sync::Arc;

use tls_codec::{
    DeserializeBytes, Error, Serialize, Size, TlsDeserializeBytes, TlsSerialize, TlsSize,
};

use super::codepoints::{CredentialType, ExtensionType, ProposalType, ProtocolVersion};
use super::credential::Credential;
use super::extensions::{Extension, RequiredCapabilities};
use crate::codec::{read_vector_body, VarBytes, VarVec};
use crate::crypto::{CipherSuite, HpkePublicKey, SignaturePublicKey};

/// `Capabilities` (RFC 9420 §7.2): what a client supports.
#[derive(Clone, PartialEq, Eq, Debug, Default, TlsSerialize, TlsDeserializeBytes, TlsSize)]
pub struct Capabilities {
    /// Supported protocol versions.
    pub versions: VarVec<ProtocolVersion>,
    /// Supported cipher suites.
    pub cipher_suites: VarVec<CipherSuite>,
    /// Supported non-default extension types.
    pub extensions: VarVec<ExtensionType>,
    /// Supported non-default proposal types.
    pub proposals: VarVec<ProposalType>,
    /// Supported credential types.
    pub credentials: VarVec<CredentialType>,
}

/// `Lifetime` (RFC 9420 §7.2): validity window in seconds since the Unix epoch.
#[derive(
    Clone, Copy, PartialEq, Eq, Debug, Default, TlsSerialize, TlsDeserializeBytes, TlsSize,
)]
pub struct Lifetime {
    /// First valid second.
    pub not_before: u64,
    /// Last valid second.
    pub not_after: u64,
}

/// `leaf_node_source` and its selected content (RFC 9420 §7.2). The u8 tag is
/// `key_package(1)`, `update(2)` or `commit(3)`; anything else is a decode error.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum LeafNodeSource {
    /// `key_package`: the leaf came in a KeyPackage, with its lifetime.
    KeyPackage(Lifetime),
    /// `update`: the leaf came in an Update proposal.
    Update,
    /// `commit`: the leaf came in a Commit's UpdatePath, with its `parent_hash<V>`.
    Commit(VarBytes),
}

impl LeafNodeSource {
    /// The wire tag.
    pub fn tag(&self) -> u8 {
        match self {
            LeafNodeSource::KeyPackage(_) => 1,
            LeafNodeSource::Update => 2,
            LeafNodeSource::Commit(_) => 3,
        }
    }
}

impl Size for LeafNodeSource {
    fn tls_serialized_len(&self) -> usize {
        1 + match self {
            LeafNodeSource::KeyPackage(l) => l.tls_serialized_len(),
            LeafNodeSource::Update => 0,
            LeafNodeSource::Commit(h) => h.tls_serialized_len(),
        }
    }
}

impl Serialize for LeafNodeSource {
    fn tls_serialize<W: Write>(&self, writer: &mut W) -> Result<usize, Error> {
        let n = self.tag().tls_serialize(writer)?;
        Ok(n + match self {
            LeafNodeSource::KeyPackage(l) => l.tls_serialize(writer)?,
            LeafNodeSource::Update => 0,
            LeafNodeSource::Commit(h) => h.tls_serialize(writer)?,
        })
    }
}

impl DeserializeBytes for LeafNodeSource {
    fn tls_deserialize_bytes(bytes: &[u8]) -> Result<(Self, &[u8]), Error> {
        let (tag, rest) = u8::tls_deserialize_bytes(bytes)?;
        match tag {
            1 => {
                let (l, rest) = Lifetime::tls_deserialize_bytes(rest)?;
                Ok((LeafNodeSource::KeyPackage(l), rest))
            }
            2 => Ok((LeafNodeSource::Update, rest)),
            3 => {
                let (h, rest) = VarBytes::tls_deserialize_bytes(rest)?;
                Ok((LeafNodeSource::Commit(h), rest))
            }
            other => Err(Error::UnknownValue(u64::from(other))),
        }
    }
}

/// `LeafNode` (RFC 9420 §7.2), held as its TLS encoding in one shared allocation.
///
/// A group holds one LeafNode per member, so the representation is what a member costs:
/// the encoding (about 180 bytes for suite 1 with a basic credential) behind an [`Arc`], and
/// the offsets of its fields. Cloning shares the encoding; hashing, exporting and
/// verifying a leaf read the encoding directly.
///
/// The fields are read with accessors ([`LeafNode::encryption_key`],
/// [`LeafNode::capabilities`], ...). A leaf is built from its to-be-signed content and a
/// signature ([`LeafNode::from_tbs`]); to change a leaf, take its content
/// ([`LeafNode::to_be_signed`]), change it and sign it again.
///
/// Invariant: `bytes` is a complete, valid `LeafNode` encoding (every constructor decodes
/// it), and `starts` holds the offsets where `signature_key`, `credential`,
/// `capabilities`, `leaf_node_source`, `extensions` and `signature` begin.
#[derive(Clone)]
pub struct LeafNode {
    bytes: Arc<[u8]>,
    starts: [u32; 6],
}

const SIGNATURE_KEY: usize = 0;
const CREDENTIAL: usize = 1;
const CAPABILITIES: usize = 2;
const SOURCE: usize = 3;
const EXTENSIONS: usize = 4;
const SIGNATURE: usize = 5;

top_level!(LeafNode);

impl PartialEq for LeafNode {
    fn eq(&self, other: &Self) -> bool {
        self.bytes == other.bytes
    }
}

impl Eq for LeafNode {}

impl std::fmt::Debug for LeafNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeafNode")
            .field("encryption_key", &VarBytesRef(self.encryption_key()))
            .field("signature_key", &VarBytesRef(self.signature_key()))
            .field("credential_type", &self.credential_type())
            .field("leaf_node_source", &self.leaf_node_source())
            .field("len", &self.bytes.len())
            .finish()
    }
}

/// Hex `Debug` for a borrowed byte string.
struct VarBytesRef<'a>(&'a [u8]);

impl std::fmt::Debug for VarBytesRef<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "0x")?;
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// The body of the vector starting at `bytes`; empty if there is none (unreachable for a
/// [`LeafNode`]'s validated encoding).
fn body(bytes: &[u8]) -> &[u8] {
    read_vector_body(bytes).map_or(&[][..], |(b, _)| b)
}

impl LeafNode {
    fn offset(&self, field: usize) -> usize {
        self.starts.get(field).map_or(0, |&o| o as usize)
    }

    /// The encoding of the field `field` (header included).
    fn field(&self, field: usize) -> &[u8] {
        let start = if field == 0 {
            0
        } else {
            self.offset(field - 1)
        };
        let end = if field == 6 {
            self.bytes.len()
        } else {
            self.offset(field)
        };
        self.bytes.get(start..end).unwrap_or_default()
    }

    /// The leaf's HPKE public key (`encryption_key`).
    pub fn encryption_key(&self) -> &[u8] {
        body(self.field(0))
    }

    /// The member's signature public key (`signature_key`).
    pub fn signature_key(&self) -> &[u8] {
        body(self.field(SIGNATURE_KEY + 1))
    }

    /// The credential's type.
    pub fn credential_type(&self) -> CredentialType {
        match self.field(CREDENTIAL + 1) {
            [a, b, ..] => CredentialType(u16::from_be_bytes([*a, *b])),
            _ => CredentialType(0),
        }
    }

    /// The credential's encoding (type and body), for comparing credentials without decoding.
    pub fn credential_bytes(&self) -> &[u8] {
        self.field(CREDENTIAL + 1)
    }

    /// The member's credential, decoded.
    pub fn credential(&self) -> Credential {
        let raw = self.field(CREDENTIAL + 1);
        Credential::tls_deserialize_bytes(raw)
            .map(|(c, _)| c)
            .unwrap_or_else(|_| Credential::Unknown {
                credential_type: self.credential_type(),
                data: VarBytes(raw.get(2..).unwrap_or_default().to_vec()),
            })
    }

    /// What the member supports, read from the encoding without copying.
    pub fn capabilities(&self) -> CapabilitiesRef<'_> {
        let mut rest = self.field(CAPABILITIES + 1);
        let mut next = || {
            let (b, r) = read_vector_body(rest).unwrap_or_default();
            rest = r;
            b
        };
        CapabilitiesRef {
            versions: CodeList::new(next()),
            cipher_suites: CodeList::new(next()),
            extensions: CodeList::new(next()),
            proposals: CodeList::new(next()),
            credentials: CodeList::new(next()),
        }
    }

    /// Where the leaf came from (`leaf_node_source` and its content).
    pub fn leaf_node_source(&self) -> LeafNodeSource {
        LeafNodeSource::tls_deserialize_bytes(self.field(SOURCE + 1))
            .map_or(LeafNodeSource::Update, |(s, _)| s)
    }

    /// The `leaf_node_source` tag: `key_package(1)`, `update(2)` or `commit(3)`.
    pub fn source_tag(&self) -> u8 {
        self.field(SOURCE + 1).first().copied().unwrap_or(0)
    }

    /// The lifetime of a `key_package` leaf; `None` for the other sources.
    pub fn lifetime(&self) -> Option<Lifetime> {
        match self.leaf_node_source() {
            LeafNodeSource::KeyPackage(l) => Some(l),
            _ => None,
        }
    }

    /// The `parent_hash` of a `commit` leaf; `None` for the other sources.
    pub fn parent_hash(&self) -> Option<&[u8]> {
        match self.field(SOURCE + 1) {
            [3, rest @ ..] => Some(body(rest)),
            _ => None,
        }
    }

    /// The leaf's extensions, read from the encoding without copying.
    pub fn extensions(&self) -> ExtensionsRef<'_> {
        ExtensionsRef {
            body: body(self.field(EXTENSIONS + 1)),
        }
    }

    /// The leaf's signature (`SignWithLabel(., "LeafNodeTBS", LeafNodeTBS)`).
    pub fn signature(&self) -> &[u8] {
        body(self.field(SIGNATURE + 1))
    }

    /// The whole encoding.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The encoding of the signed fields: `LeafNodeTBS` without the group binding
    /// (`group_id`, `leaf_index`) that `update` and `commit` leaves append (§7.2).
    pub fn tbs_content(&self) -> &[u8] {
        self.bytes.get(..self.offset(SIGNATURE)).unwrap_or_default()
    }

    /// The `LeafNodeTBS` encoding (§7.2): [`LeafNode::tbs_content`], followed by `group_id`
    /// and `leaf_index` for `update` and `commit` leaves.
    pub fn tbs_bytes(&self, group_id: &[u8], leaf_index: u32) -> Result<Vec<u8>, Error> {
        let content = self.tbs_content();
        let mut buf = Vec::with_capacity(content.len() + group_id.len() + 8);
        buf.extend_from_slice(content);
        if self.source_tag() != 1 {
            crate::codec::write_varint(&mut buf, group_id.len())?;
            buf.extend_from_slice(group_id);
            buf.extend_from_slice(&leaf_index.to_be_bytes());
        }
        Ok(buf)
    }

    /// The to-be-signed form, decoded, with the group binding required by `update`/`commit`
    /// leaves.
    pub fn to_be_signed(&self, tree_position: Option<TreePosition>) -> Result<LeafNodeTbs, Error> {
        let (mut tbs, _) = LeafNodeTbs::decode_content(self.tbs_content())?;
        tbs.tree_position = tree_position;
        Ok(tbs)
    }

    /// The leaf with content `tbs` (its `tree_position` is not part of the leaf) and
    /// `signature`. The signature is not checked here.
    pub fn from_tbs(tbs: &LeafNodeTbs, signature: &[u8]) -> Result<LeafNode, Error> {
        let mut buf = Vec::with_capacity(tbs.content_len() + signature.len() + 4);
        tbs.serialize_content(&mut buf)?;
        crate::codec::write_varint(&mut buf, signature.len())?;
        buf.extend_from_slice(signature);
        LeafNode::from_encoding(&buf)
    }

    /// Test hook: this leaf with its content changed by `edit`, keeping the old signature
    /// (which no longer verifies unless the caller signs again).
    #[cfg(any(test, feature = "test-hooks"))]
    pub fn edited(&self, edit: impl FnOnce(&mut LeafNodeTbs)) -> LeafNode {
        let mut tbs = match self.to_be_signed(None) {
            Ok(t) => t,
            Err(e) => panic!("a LeafNode's content decodes: {e:?}"),
        };
        edit(&mut tbs);
        match LeafNode::from_tbs(&tbs, self.signature()) {
            Ok(l) => l,
            Err(e) => panic!("edited LeafNode encodes: {e:?}"),
        }
    }

    /// Validates the `LeafNode` at the front of `bytes`; returns the field offsets and the
    /// length of the encoding. Accepts and refuses exactly what decoding the fields one by
    /// one would, without allocating for the common fields.
    fn scan(bytes: &[u8]) -> Result<([u32; 6], usize), Error> {
        let total = bytes.len();
        let mut starts = [0u32; 6];
        let at = |rest: &[u8]| -> Result<u32, Error> {
            u32::try_from(total - rest.len()).map_err(|_| Error::InvalidVectorLength)
        };
        let (_, rest) = read_vector_body(bytes)?;
        starts[SIGNATURE_KEY] = at(rest)?;
        let (_, rest) = read_vector_body(rest)?;
        starts[CREDENTIAL] = at(rest)?;
        let rest = match rest {
            [0, 1, after @ ..] => read_vector_body(after)?.1,
            _ => Credential::tls_deserialize_bytes(rest)?.1,
        };
        starts[CAPABILITIES] = at(rest)?;
        let mut rest = rest;
        for _ in 0..5 {
            let (list, after) = read_vector_body(rest)?;
            if list.len() % 2 != 0 {
                return Err(Error::EndOfStream);
            }
            rest = after;
        }
        starts[SOURCE] = at(rest)?;
        let (_, rest) = LeafNodeSource::tls_deserialize_bytes(rest)?;
        starts[EXTENSIONS] = at(rest)?;
        let (ext_body, after) = read_vector_body(rest)?;
        if !ext_body.is_empty() {
            VarVec::<Extension>::tls_deserialize_bytes(rest)?;
        }
        starts[SIGNATURE] = at(after)?;
        let (_, rest) = read_vector_body(after)?;
        Ok((starts, total - rest.len()))
    }

    /// A leaf from exactly the bytes of one `LeafNode` encoding.
    fn from_encoding(bytes: &[u8]) -> Result<LeafNode, Error> {
        let (starts, len) = LeafNode::scan(bytes)?;
        if len != bytes.len() {
            return Err(Error::TrailingData);
        }
        Ok(LeafNode {
            bytes: Arc::from(bytes),
            starts,
        })
    }
}

impl Size for LeafNode {
    fn tls_serialized_len(&self) -> usize {
        self.bytes.len()
    }
}

impl Serialize for LeafNode {
    fn tls_serialize<W: Write>(&self, writer: &mut W) -> Result<usize, Error> {
        writer
            .write_all(&self.bytes)
            .map_err(|e| Error::EncodingError(e.to_string()))?;
        Ok(self.bytes.len())
    }
}

impl DeserializeBytes for LeafNode {
    fn tls_deserialize_bytes(bytes: &[u8]) -> Result<(Self, &[u8]), Error> {
        let (starts, len) = LeafNode::scan(bytes)?;
        let (mine, rest) = bytes.split_at(len);
        Ok((
            LeafNode {
                bytes: Arc::from(mine),
                starts,
            },
            rest,
        ))
    }
}

/// A list of 16-bit code points in a [`LeafNode`]'s capabilities, read in place.
#[derive(Clone, Copy)]
pub struct CodeList<'a, T> {
    raw: &'a [u8],
    _type: PhantomData<T>,
}

impl<'a, T: From<u16> + PartialEq + Copy> CodeList<'a, T> {
    fn new(raw: &'a [u8]) -> Self {
        CodeList {
            raw,
            _type: PhantomData,
        }
    }

    /// The code points in wire order.
    pub fn iter(&self) -> impl Iterator<Item = T> + 'a {
        self.raw
            .chunks_exact(2)
            .map(|c| T::from(u16::from_be_bytes([c[0], c[1]])))
    }

    /// Whether `t` is listed.
    pub fn contains(&self, t: &T) -> bool {
        self.iter().any(|x| x == *t)
    }

    /// How many code points are listed.
    pub fn len(&self) -> usize {
        self.raw.len() / 2
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// The list, copied.
    pub fn to_vec(&self) -> Vec<T> {
        self.iter().collect()
    }

    /// The first of `wanted` that is not listed, if any. A short list is searched in turn; a
    /// long (hostile) one is sorted once and binary-searched, so the cost is
    /// O((k + w) log k) for k listed and w wanted, never O(k w).
    pub fn first_missing(&self, wanted: impl IntoIterator<Item = T>) -> Option<T>
    where
        T: Ord,
    {
        const SHORT: usize = 16;
        let mut wanted = wanted.into_iter();
        if self.len() <= SHORT {
            return wanted.find(|t| !self.contains(t));
        }
        let mut sorted = self.to_vec();
        sorted.sort_unstable();
        wanted.find(|t| sorted.binary_search(t).is_err())
    }

    /// Calls `f` once per distinct code point: the wire format does not forbid listing one
    /// twice, and counting a leaf's support twice would let it stand in for another member.
    /// No allocation for short lists; a long (hostile) one is sorted, O(k log k), not
    /// compared pairwise.
    pub fn for_each_distinct(&self, mut f: impl FnMut(T)) {
        const SHORT: usize = 16;
        let codes = self.raw.chunks_exact(2);
        if self.len() <= SHORT {
            for (i, c) in codes.enumerate() {
                if !self.raw[..2 * i].chunks_exact(2).any(|p| p == c) {
                    f(T::from(u16::from_be_bytes([c[0], c[1]])));
                }
            }
        } else {
            let mut sorted: Vec<u16> = codes.map(|c| u16::from_be_bytes([c[0], c[1]])).collect();
            sorted.sort_unstable();
            sorted.dedup();
            sorted.into_iter().for_each(|c| f(T::from(c)));
        }
    }
}

impl<T: From<u16> + PartialEq + Copy + std::fmt::Debug> std::fmt::Debug for CodeList<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// [`Capabilities`] read in place from a [`LeafNode`].
#[derive(Clone, Copy, Debug)]
pub struct CapabilitiesRef<'a> {
    /// Supported protocol versions.
    pub versions: CodeList<'a, ProtocolVersion>,
    /// Supported cipher suites.
    pub cipher_suites: CodeList<'a, CipherSuite>,
    /// Supported non-default extension types.
    pub extensions: CodeList<'a, ExtensionType>,
    /// Supported non-default proposal types.
    pub proposals: CodeList<'a, ProposalType>,
    /// Supported credential types.
    pub credentials: CodeList<'a, CredentialType>,
}

impl CapabilitiesRef<'_> {
    /// Whether these capabilities satisfy `rc` (RFC 9420 §11.1): every required extension
    /// type is a default one (1-5) or listed, every required proposal type is a default one
    /// (1-7) or listed, and every required credential type is listed.
    pub fn satisfies(&self, rc: &RequiredCapabilities) -> bool {
        let extensions = rc.extension_types.iter().copied();
        let proposals = rc.proposal_types.iter().copied();
        self.extensions
            .first_missing(extensions.filter(|t| !t.is_default()))
            .is_none()
            && self
                .proposals
                .first_missing(proposals.filter(|t| !t.is_default()))
                .is_none()
            && self
                .credentials
                .first_missing(rc.credential_types.iter().copied())
                .is_none()
    }

    /// The first extension of `group_extensions` (a GroupContext's) whose type these
    /// capabilities do not list, RFC 9420's own types (1-5) excepted: a member must support
    /// every extension of its group (§13, §12.1.7).
    pub fn first_unsupported(&self, group_extensions: &[Extension]) -> Option<ExtensionType> {
        let types = group_extensions.iter().map(|e| e.extension_type);
        self.extensions
            .first_missing(types.filter(|t| !t.is_default()))
    }

    /// Whether these capabilities list one of RFC 9420's default proposal types (1-7) or
    /// extension types (1-5), which §7.2 says "MUST NOT be listed", or the reserved extension
    /// type 0, which no one can support. mls-rs refuses such a leaf (it counts extension
    /// types up to 5 as default), so a group that admits one splits from its mls-rs members.
    pub fn lists_default_type(&self) -> bool {
        self.extensions.iter().any(|t| t.0 <= 5)
            || self.proposals.iter().any(ProposalType::is_default)
    }

    /// An owned copy.
    pub fn to_owned(&self) -> Capabilities {
        Capabilities {
            versions: VarVec(self.versions.to_vec()),
            cipher_suites: VarVec(self.cipher_suites.to_vec()),
            extensions: VarVec(self.extensions.to_vec()),
            proposals: VarVec(self.proposals.to_vec()),
            credentials: VarVec(self.credentials.to_vec()),
        }
    }
}

/// One extension of a [`LeafNode`], read in place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExtensionRef<'a> {
    /// The extension type.
    pub extension_type: ExtensionType,
    /// The encoded extension content.
    pub extension_data: &'a [u8],
}

impl ExtensionRef<'_> {
    /// An owned copy.
    pub fn to_owned(&self) -> Extension {
        Extension {
            extension_type: self.extension_type,
            extension_data: VarBytes(self.extension_data.to_vec()),
        }
    }
}

/// The extensions of a [`LeafNode`], read in place, in wire order.
#[derive(Clone, Copy, Debug)]
pub struct ExtensionsRef<'a> {
    body: &'a [u8],
}

impl<'a> ExtensionsRef<'a> {
    /// The extensions in wire order.
    pub fn iter(&self) -> impl Iterator<Item = ExtensionRef<'a>> + 'a {
        let mut rest = self.body;
        std::iter::from_fn(move || {
            let [a, b, after @ ..] = rest else {
                return None;
            };
            let extension_type = ExtensionType(u16::from_be_bytes([*a, *b]));
            let (extension_data, after) = read_vector_body(after).ok()?;
            rest = after;
            Some(ExtensionRef {
                extension_type,
                extension_data,
            })
        })
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.body.is_empty()
    }

    /// The data of the extension of type `t`, if present.
    pub fn get(&self, t: ExtensionType) -> Option<&'a [u8]> {
        self.iter()
            .find(|e| e.extension_type == t)
            .map(|e| e.extension_data)
    }

    /// An owned copy.
    pub fn to_vec(&self) -> Vec<Extension> {
        self.iter().map(|e| e.to_owned()).collect()
    }
}

/// The group binding of a `LeafNodeTBS` for the `update` and `commit` sources (RFC 9420 §7.2).
#[derive(Clone, PartialEq, Eq, Debug, TlsSerialize, TlsDeserializeBytes, TlsSize)]
pub struct TreePosition {
    /// The group's id.
    pub group_id: VarBytes,
    /// The signer's leaf index.
    pub leaf_index: u32,
}

/// `LeafNodeTBS` (RFC 9420 §7.2): the signed part of a [`LeafNode`]. `tree_position` is
/// present iff the source is `update` or `commit`; encoding and decoding enforce that.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct LeafNodeTbs {
    /// See [`LeafNode::encryption_key`].
    pub encryption_key: HpkePublicKey,
    /// See [`LeafNode::signature_key`].
    pub signature_key: SignaturePublicKey,
    /// See [`LeafNode::credential`].
    pub credential: Credential,
    /// See [`LeafNode::capabilities`].
    pub capabilities: Capabilities,
    /// See [`LeafNode::leaf_node_source`].
    pub leaf_node_source: LeafNodeSource,
    /// See [`LeafNode::extensions`].
    pub extensions: VarVec<Extension>,
    /// `group_id` and `leaf_index`, for the `update` and `commit` sources only.
    pub tree_position: Option<TreePosition>,
}

impl LeafNodeTbs {
    fn position_expected(&self) -> bool {
        !matches!(self.leaf_node_source, LeafNodeSource::KeyPackage(_))
    }

    /// Length of the content fields (everything but `tree_position`).
    fn content_len(&self) -> usize {
        self.encryption_key.tls_serialized_len()
            + self.signature_key.tls_serialized_len()
            + self.credential.tls_serialized_len()
            + self.capabilities.tls_serialized_len()
            + self.leaf_node_source.tls_serialized_len()
            + self.extensions.tls_serialized_len()
    }

    /// Writes the content fields (everything but `tree_position`).
    fn serialize_content<W: Write>(&self, writer: &mut W) -> Result<usize, Error> {
        let mut n = self.encryption_key.tls_serialize(writer)?;
        n += self.signature_key.tls_serialize(writer)?;
        n += self.credential.tls_serialize(writer)?;
        n += self.capabilities.tls_serialize(writer)?;
        n += self.leaf_node_source.tls_serialize(writer)?;
        n += self.extensions.tls_serialize(writer)?;
        Ok(n)
    }

    /// Reads the content fields; `tree_position` is left `None`.
    pub(crate) fn decode_content(bytes: &[u8]) -> Result<(LeafNodeTbs, &[u8]), Error> {
        let (encryption_key, rest) = HpkePublicKey::tls_deserialize_bytes(bytes)?;
        let (signature_key, rest) = SignaturePublicKey::tls_deserialize_bytes(rest)?;
        let (credential, rest) = Credential::tls_deserialize_bytes(rest)?;
        let (capabilities, rest) = Capabilities::tls_deserialize_bytes(rest)?;
        let (leaf_node_source, rest) = LeafNodeSource::tls_deserialize_bytes(rest)?;
        let (extensions, rest) = VarVec::tls_deserialize_bytes(rest)?;
        let tbs = LeafNodeTbs {
            encryption_key,
            signature_key,
            credential,
            capabilities,
            leaf_node_source,
            extensions,
            tree_position: None,
        };
        Ok((tbs, rest))
    }
}

impl Size for LeafNodeTbs {
    fn tls_serialized_len(&self) -> usize {
        self.content_len()
            + self
                .tree_position
                .as_ref()
                .map_or(0, Size::tls_serialized_len)
    }
}

impl Serialize for LeafNodeTbs {
    fn tls_serialize<W: Write>(&self, writer: &mut W) -> Result<usize, Error> {
        if self.position_expected() != self.tree_position.is_some() {
            return Err(Error::EncodingError(
                "LeafNodeTBS: group_id/leaf_index present iff source is update or commit".into(),
            ));
        }
        let mut n = self.serialize_content(writer)?;
        if let Some(p) = &self.tree_position {
            n += p.tls_serialize(writer)?;
        }
        Ok(n)
    }
}

impl DeserializeBytes for LeafNodeTbs {
    fn tls_deserialize_bytes(bytes: &[u8]) -> Result<(Self, &[u8]), Error> {
        let (mut tbs, mut rest) = LeafNodeTbs::decode_content(bytes)?;
        if tbs.position_expected() {
            let (p, after) = TreePosition::tls_deserialize_bytes(rest)?;
            tbs.tree_position = Some(p);
            rest = after;
        }
        Ok((tbs, rest))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(codes: &[u16]) -> Vec<u8> {
        codes.iter().flat_map(|c| c.to_be_bytes()).collect()
    }

    fn distinct(codes: &[u16]) -> Vec<u16> {
        let raw = wire(codes);
        let mut out = Vec::new();
        CodeList::<CredentialType>::new(&raw).for_each_distinct(|t| out.push(t.0));
        out
    }

    #[test]
    fn each_code_point_once() {
        // Short lists (no allocation): wire order, repeats skipped.
        assert_eq!(distinct(&[]), Vec::<u16>::new());
        assert_eq!(distinct(&[3, 1, 3, 2, 1, 3]), vec![3, 1, 2]);
        assert_eq!(distinct(&[7; 16]), vec![7]);
        // Long lists: every distinct value once (sorted).
        let mut long: Vec<u16> = (0..40).map(|i| (i * 7) % 13).collect();
        long.push(0xffff);
        let mut want: Vec<u16> = (0..13).collect();
        want.push(0xffff);
        assert_eq!(distinct(&long), want);
        assert_eq!(distinct(&[9; 1000]), vec![9]);
    }

    #[test]
    fn first_missing_short_and_long() {
        for listed in [vec![5u16, 1, 3], (0..40).rev().map(|i| i * 3).collect()] {
            let raw = wire(&listed);
            let list = CodeList::<ExtensionType>::new(&raw);
            let ty = ExtensionType;
            assert_eq!(list.first_missing([]), None);
            assert_eq!(list.first_missing(listed.iter().map(|&c| ty(c))), None);
            // The first absent one in the order asked, whatever follows it.
            assert_eq!(list.first_missing([ty(3), ty(4), ty(2)]), Some(ty(4)));
            assert_eq!(list.first_missing([ty(0xffff)]), Some(ty(0xffff)));
        }
    }
}
